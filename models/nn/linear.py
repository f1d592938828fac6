"""nn.Linear whose one-row bfloat16 products on a CPU run as matrix–vector products.

Decoding multiplies one token's row by every weight. On a CPU torch's bf16 `linear` of a single
row streamed 12–18 GB/s here where `torch.mv` over the same weight streamed 17–25 GB/s (fp32 is
the same either way): bf16 decoding ran no faster than fp32 for it (tests/bench/bench_real_scale.py).
"""

from __future__ import annotations

import torch
from torch import nn


class Linear(nn.Linear):
    """`nn.Linear` (same parameters, same state dict); a single bf16 row on a CPU goes by `mv`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype is torch.bfloat16 and x.device.type == "cpu" and x.numel() == x.shape[-1]:
            row = x.reshape(-1)
            y = torch.mv(self.weight, row) if self.bias is None else torch.addmv(self.bias, self.weight, row)
            return y.view(*x.shape[:-1], self.out_features)
        return super().forward(x)
