"""Where models run: the device choice (cuda, then mps, then cpu) and the autocast dtype that goes with it.

torch is imported inside the functions, so the torch-free settings and the GUI can read DEVICES.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from models.errors import ModelError

if TYPE_CHECKING:
    import torch

DEVICES = ("auto", "cpu", "cuda", "mps")  # what a user may ask for; auto picks the fastest present
# what a model may run in: "auto" (float32 on a CPU; a 16-bit folder's own type on a GPU), exact
# float32, bfloat16, or int8 weights (a quarter of the bytes per token; their products' inputs in bf16)
PRECISIONS = ("auto", "fp32", "bf16", "int8")


def pick_device(name: str = "auto") -> torch.device:
    """auto: cuda, then mps, then cpu; a named device that is absent is a clear error."""
    import torch

    if name not in DEVICES:
        raise ModelError(f"device must be one of {', '.join(DEVICES)} (got '{name}')")
    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if name == "cuda" and not cuda:
        raise ModelError("device 'cuda' was asked for, but PyTorch sees no CUDA GPU")
    if name == "mps" and not mps:
        raise ModelError("device 'mps' was asked for, but this PyTorch has no Apple GPU support")
    return torch.device(name)


def check_precision(precision: str, device: torch.device) -> None:
    """Refuse a precision the device cannot run, with the reason (float32 always runs)."""
    import torch

    if precision not in PRECISIONS:
        raise ModelError(f"precision must be one of {', '.join(PRECISIONS)} (got '{precision}')")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ModelError("this GPU has no bfloat16: choose fp32")
    if precision == "int8" and device.type != "cpu":
        raise ModelError(f"int8 weights run on the CPU here; on {device.type.upper()} choose bf16 or fp32")


def autocast_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """bf16 autocast on GPUs that have it. On CPU, fp32 unless asked: bf16 measured slower there
    (tests/bench/bench_training.py), because this CPU has no bf16 matrix units."""
    import torch

    if precision == "bf16":
        return torch.bfloat16
    if precision == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None
