"""Int8 weight-only linear layers: decoding reads a quarter of float32's bytes per token.

Each output row keeps one scale (symmetric, max |w| / 127); the model computes in float32 but for
the products themselves, whose inputs torch's int8-weight kernel takes in bfloat16. A layer the
kernel cannot take (its input width not a multiple of 16, or a torch without the kernel) multiplies
by its dequantized rows.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.errors import ModelError

KERNEL = getattr(torch, "_weight_int8pack_mm", None)
KERNEL_WIDTH = 16  # the kernel reads its input in 16-wide groups (other widths gave wrong sums here)


class Int8Linear(nn.Module):
    """`linear`, with its weight as int8 rows and one scale per row (a bias stays as it was)."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        w = linear.weight.detach().float().contiguous()  # rows, as the kernel reads them
        scale = w.abs().amax(dim=1).clamp(min=1e-12) / 127.0
        self.register_buffer("weight_int8", torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8))
        self.register_buffer("scale", scale.to(torch.bfloat16))
        self.bias = linear.bias
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.kernel = KERNEL is not None and self.in_features % KERNEL_WIDTH == 0 and w.device.type == "cpu"
        self.cap = getattr(linear, "cap", 0.0)  # a soft-capped output head stays capped (Gemma 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        flat = x.reshape(-1, shape[-1]).contiguous()
        if self.kernel:
            y = KERNEL(flat.to(torch.bfloat16), self.weight_int8, self.scale.to(torch.bfloat16))
        else:
            y = F.linear(flat, (self.weight_int8.to(x.dtype) * self.scale.to(x.dtype)[:, None]))
        y = y.to(x.dtype).view(*shape[:-1], self.out_features)
        y = y if self.bias is None else y + self.bias
        return torch.tanh(y / self.cap) * self.cap if self.cap else y

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 weights"


def quantize_int8(model: nn.Module) -> nn.Module:
    """Every linear layer of `model` as an `Int8Linear`, in place (a tied output head becomes its
    own int8 copy: the embedding it shared stays as it was, for looking tokens up)."""
    for name, child in list(model.named_children()):
        if isinstance(child, nn.Linear):
            setattr(model, name, Int8Linear(child))
        else:
            quantize_int8(child)
    return model


def is_quantized(model: nn.Module) -> bool:
    return any(isinstance(m, Int8Linear) for m in model.modules())


def refuse_quantized(model: nn.Module, doing: str) -> None:
    """Training and saving need the float weights an int8 model no longer holds."""
    if is_quantized(model):
        raise ModelError(
            f"{doing} needs the model's float weights: this one runs with int8 weights "
            "(open it again in float32: Model ▸ Precision)"
        )
