"""Building blocks shared by the denoiser towers: timestep embedding, AdaLN modulation, attention, SwiGLU."""

import math

import torch
import torch.nn.functional as F
from torch import nn


def timestep_features(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """DiT / "Attention is all you need" sinusoid of (possibly fractional) timesteps t (...) -> (..., dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = t.float()[..., None] * freqs  # (..., half)
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


class TimestepEmbedder(nn.Module):
    """Sinusoidal features (timestep_dim) -> MLP -> (..., d_model), as in DiT (Peebles & Xie 2023)."""

    def __init__(self, d_model: int, timestep_dim: int = 256):
        super().__init__()
        self.timestep_dim = timestep_dim
        self.mlp = nn.Sequential(nn.Linear(timestep_dim, d_model), nn.SiLU(), nn.Linear(d_model, d_model))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(timestep_features(t, self.timestep_dim))


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """AdaLN: x * (1 + scale) + shift (DiT eq. in sec. 3.2)."""
    return x * (1 + scale) + shift


class AdaLN(nn.Module):
    """Per-token (shift, scale, gate) x n_sublayers from the conditioning vector; zero-initialised (adaLN-Zero)."""

    def __init__(self, d_model: int, n_sublayers: int):
        super().__init__()
        self.n = 3 * n_sublayers
        self.proj = nn.Linear(d_model, self.n * d_model)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, c: torch.Tensor) -> list[torch.Tensor]:
        return list(self.proj(F.silu(c)).chunk(self.n, dim=-1))


class Attention(nn.Module):
    """Multi-head attention of queries x (B, Q, d) over keys/values kv (B, K, d) with a boolean mask (B, Q, K)."""

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}")
        self.n_heads, self.dropout = n_heads, dropout
        self.q = nn.Linear(d_model, d_model, bias=False)
        self.kv = nn.Linear(d_model, 2 * d_model, bias=False)
        self.out = nn.Linear(d_model, d_model, bias=False)

    def forward(self, x: torch.Tensor, kv: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        B, Q, d = x.shape
        K = kv.shape[1]
        q = self.q(x).view(B, Q, self.n_heads, -1).transpose(1, 2)  # (B, H, Q, d/H)
        k, v = self.kv(kv).view(B, K, 2, self.n_heads, -1).permute(2, 0, 3, 1, 4)  # (B, H, K, d/H) x2
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None], dropout_p=p)  # (B, H, Q, d/H)
        return self.out(y.transpose(1, 2).reshape(B, Q, d))


class SwiGLU(nn.Module):
    """Shazeer 2020 gated FFN: out(silu(gate(x)) * up(x))."""

    def __init__(self, d_model: int, mult: float = 4.0, dropout: float = 0.0):
        super().__init__()
        hidden = int(mult * d_model * 2 / 3)
        self.gate_up = nn.Linear(d_model, 2 * hidden, bias=False)
        self.out = nn.Linear(hidden, d_model, bias=False)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up(x).chunk(2, dim=-1)
        return self.out(self.drop(F.silu(gate) * up))


class FinalLayer(nn.Module):
    """AdaLN-modulated LayerNorm then a zero-initialised projection to the concept dim (DiT's final layer)."""

    def __init__(self, d_model: int, concept_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(d_model, elementwise_affine=False, eps=1e-6)
        self.ada = nn.Linear(d_model, 2 * d_model)
        self.proj = nn.Linear(d_model, concept_dim)
        for p in (self.ada.weight, self.ada.bias, self.proj.weight, self.proj.bias):
            nn.init.zeros_(p)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.ada(F.silu(c)).chunk(2, dim=-1)
        return self.proj(modulate(self.norm(x), shift, scale))
