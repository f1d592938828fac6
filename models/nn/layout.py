"""Weight layouts: the one a decoding step's products stream fastest from, and the plain one training keeps.

Decoding multiplies one token's row by every weight, so it runs as fast as the weights stream from
memory. On a CPU, float32 weights of a layer that widens (fewer inputs than outputs: the MLP's up
projections, the output head) streamed 1.3-1.8x faster stored column by column than row by row
here (6.9 -> 13.5 GB/s for SmolLM2's head, 9.5 -> 12.6 for Qwen2.5's up projection; a layer that
narrows streams faster row by row). The parameter keeps its shape and values; only its strides
change. bf16 is the other way round (its one-row products go by `torch.mv`, fastest on rows).
"""

from __future__ import annotations

import torch
from torch import nn


def for_decoding(model: nn.Module) -> nn.Module:
    """Lay the float32 CPU weights of every widening linear layer out column by column, in place
    (one weight at a time: at most one more weight's memory meanwhile)."""
    for module in model.modules():
        w = getattr(module, "weight", None)
        if (
            isinstance(module, nn.Linear)
            and w is not None
            and w.dtype == torch.float32
            and w.device.type == "cpu"
            and module.in_features < module.out_features
            and w.is_contiguous()
        ):
            w.data = w.data.t().contiguous().t()
    return model


def for_training(model: nn.Module) -> nn.Module:
    """Every parameter contiguous again, in place: a run's matrix products round the same way
    whether its model was just loaded or resumed from a checkpoint."""
    for p in model.parameters():
        if not p.is_contiguous():
            p.data = p.data.contiguous()
    return model
