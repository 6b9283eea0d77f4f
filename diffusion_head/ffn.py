"""The SwiGLU feed-forward shared by the LCM's backbone (lcm.model.backbone) and the denoiser towers.

It lives here, not in `lcm`, because this package never imports `lcm`; `lcm` already depends on it.
"""

import torch
import torch.nn.functional as F
from torch import nn


def ffn_hidden(d_model: int, mult: float, multiple_of: int) -> int:
    """SwiGLU hidden size: 2/3 of mult * d_model (keeps a 4x MLP's parameter count, Shazeer 2020), rounded UP to a
    multiple of `multiple_of`, as fairseq2's GLU does (Meta's LCMs use 256: 5632 at d 2048, 11008 at d 4096)."""
    if multiple_of < 1:
        raise ValueError(f"multiple_of must be >= 1, got {multiple_of}")
    hidden = int(mult * d_model * 2 / 3)
    return -(-hidden // multiple_of) * multiple_of


class SwiGLU(nn.Module):
    """Shazeer 2020 gated FFN: down(silu(gate(x)) * up(x)), gate and up in one matrix `gate_up`."""

    def __init__(self, d_model: int, mult: float = 4.0, multiple_of: int = 8, dropout: float = 0.0):
        super().__init__()
        hidden = ffn_hidden(d_model, mult, multiple_of)
        self.gate_up = nn.Linear(d_model, 2 * hidden, bias=False)
        self.down = nn.Linear(hidden, d_model, bias=False)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up(x).chunk(2, dim=-1)  # (..., hidden) x2
        return self.down(self.drop(F.silu(gate) * up))
