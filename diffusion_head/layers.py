"""Building blocks shared by the denoiser towers: timestep embedding, AdaLN modulation, attention, the adaLN-Zero
layer (one for both towers) and the final layer. The SwiGLU feed-forward lives in `diffusion_head.ffn`, shared with
the LCM's backbone."""

import math

import torch
import torch.nn.functional as F
from torch import nn

from .ffn import SwiGLU


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
    """Multi-head attention of queries x (B, Q, d) over keys/values kv (B, K, d) with a boolean mask (B, Q, K).

    `kv_bias` gives the key/value projections a bias, as Meta's release has: the key of an all-zero input (the
    Two-Tower's prepended null vector) is then learnable instead of exactly zero. `bias` (B, H, Q, K), optional, is
    added to the attention logits (e.g. a recency bias).
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, kv_bias: bool = False):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}")
        self.n_heads, self.dropout = n_heads, dropout
        self.q = nn.Linear(d_model, d_model, bias=False)
        self.kv = nn.Linear(d_model, 2 * d_model, bias=kv_bias)
        self.out = nn.Linear(d_model, d_model, bias=False)

    def forward(self, x: torch.Tensor, kv: torch.Tensor, mask: torch.Tensor, bias=None) -> torch.Tensor:
        B, Q, d = x.shape
        K = kv.shape[1]
        q = self.q(x).view(B, Q, self.n_heads, -1).transpose(1, 2)  # (B, H, Q, d/H)
        k, v = self.kv(kv).view(B, K, 2, self.n_heads, -1).permute(2, 0, 3, 1, 4)  # (B, H, K, d/H) x2
        p = self.dropout if self.training else 0.0
        attn_mask = mask[:, None]  # (B, 1, Q, K) bool
        if bias is not None:  # (B, H, Q, K) float logits bias, -inf where the mask hides a key
            attn_mask = bias.to(q.dtype).masked_fill(~attn_mask, float("-inf"))
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=p)  # (B, H, Q, d/H)
        return self.out(y.transpose(1, 2).reshape(B, Q, d))


class AdaLNLayer(nn.Module):
    """The adaLN-Zero layer of both towers (DiT, Peebles & Xie 2023): [self-attention], [cross-attention], SwiGLU.

    Every sublayer has its own (shift, scale, gate) chunk of one AdaLN projection, in that order: 9 d for the
    Two-Tower's three sublayers (Meta's layout), 6 d for the One-Tower's two. Parameter-free LayerNorms precede them.
    """

    def __init__(self, cfg, self_attention: bool, cross_attention: bool):
        super().__init__()
        d = cfg.d_model
        self.ada = AdaLN(d, int(self_attention) + int(cross_attention) + 1)
        self.norm = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.self_attn = Attention(d, cfg.n_heads, cfg.dropout, cfg.kv_bias) if self_attention else None
        self.cross = Attention(d, cfg.n_heads, cfg.dropout, cfg.kv_bias) if cross_attention else None
        self.ffn = SwiGLU(d, cfg.ffn_mult, cfg.ffn_multiple_of, cfg.dropout)

    def forward(self, x, c, self_mask=None, context=None, cross_mask=None, cross_bias=None):
        """x (B, Q, d), c (B, Q, d) conditioning; self_mask (B, Q, Q); context (B, K, d), cross_mask (B, Q, K)."""
        mods = iter(self.ada(c))  # (B, Q, d) each, three per sublayer
        if self.self_attn is not None:
            shift, scale, gate = next(mods), next(mods), next(mods)
            h = modulate(self.norm(x), shift, scale)
            x = x + gate * self.self_attn(h, h, self_mask)
        if self.cross is not None:
            shift, scale, gate = next(mods), next(mods), next(mods)
            x = x + gate * self.cross(modulate(self.norm(x), shift, scale), context, cross_mask, cross_bias)
        shift, scale, gate = next(mods), next(mods), next(mods)
        return x + gate * self.ffn(modulate(self.norm(x), shift, scale))  # (B, Q, d)


class FinalLayer(nn.Module):
    """Norm then a zero-initialised projection to the concept dim: AdaLN-modulated LayerNorm (DiT's final layer,
    `adaln`) or a plain RMSNorm (Meta's release)."""

    def __init__(self, d_model: int, concept_dim: int, adaln: bool = False):
        super().__init__()
        if adaln:
            self.norm = nn.LayerNorm(d_model, elementwise_affine=False, eps=1e-6)
            self.ada = nn.Linear(d_model, 2 * d_model)
            nn.init.zeros_(self.ada.weight)
            nn.init.zeros_(self.ada.bias)
        else:
            self.norm, self.ada = nn.RMSNorm(d_model, eps=1e-6), None
        self.proj = nn.Linear(d_model, concept_dim)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        if self.ada is None:
            return self.proj(self.norm(x))  # (B, Q, D)
        shift, scale = self.ada(F.silu(c)).chunk(2, dim=-1)
        return self.proj(modulate(self.norm(x), shift, scale))  # (B, Q, D)
