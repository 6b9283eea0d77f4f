"""The causal transformer backbone (RoPE, RMSNorm, SwiGLU, pre-norm) with a KV cache for incremental decoding.

lcm.model.concept_model puts a PreNet before it and a head (lcm.model.heads) after it.
"""

import torch
import torch.nn.functional as F
from torch import nn

from diffusion_head.ffn import SwiGLU
from lcm.config import ModelConfig

KVCache = list  # one (k, v) pair per layer, each (B, H, S, hd)


def rotary(x: torch.Tensor, positions: torch.Tensor, theta: float) -> torch.Tensor:
    """Apply RoPE (Su et al. 2021) to x (B, H, T, hd) at integer positions (B, T)."""
    half = x.shape[-1] // 2
    freqs = theta ** (-torch.arange(half, device=x.device, dtype=torch.float32) / half)  # (hd/2,)
    angles = positions.float()[:, None, :, None] * freqs  # (B, 1, T, hd/2)
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class SelfAttention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_heads, self.theta, self.dropout = cfg.n_heads, cfg.rope_theta, cfg.dropout
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=False)
        self.out = nn.Linear(cfg.d_model, cfg.d_model, bias=False)

    def forward(self, x, positions, attn_mask, cache=None):
        B, T, d = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)  # 3 x (B, H, T, hd)
        q, k = rotary(q, positions, self.theta), rotary(k, positions, self.theta)
        if cache is not None:  # prepend the keys/values of earlier positions
            k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)  # (B, H, S, hd)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=self.dropout if self.training else 0.0)
        return self.out(y.transpose(1, 2).reshape(B, T, d)), (k, v)


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.attn_norm, self.attn = nn.RMSNorm(cfg.d_model, eps=1e-6), SelfAttention(cfg)
        self.ffn_norm, self.ffn = nn.RMSNorm(cfg.d_model, eps=1e-6), SwiGLU(cfg.d_model, cfg.ffn_mult, cfg.ffn_multiple_of)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x, positions, attn_mask, cache=None):
        a, new_cache = self.attn(self.attn_norm(x), positions, attn_mask, cache)
        x = x + self.drop(a)
        return x + self.drop(self.ffn(self.ffn_norm(x))), new_cache


def attention_mask(valid: torch.Tensor, n_new: int) -> torch.Tensor:
    """Causal mask for the last `n_new` of S positions: (B, 1, n_new, S) bool, True = may attend.

    `valid` (B, S) marks real (non-padding) positions. A padded query row attends to itself so softmax stays finite.
    """
    S = valid.shape[1]
    q_pos = torch.arange(S - n_new, S, device=valid.device)
    causal = torch.arange(S, device=valid.device)[None, :] <= q_pos[:, None]  # (n_new, S)
    mask = causal[None] & valid[:, None, :]  # (B, n_new, S)
    mask = mask | (torch.arange(S, device=valid.device)[None, None, :] == q_pos[None, :, None])
    return mask[:, None]


class Backbone(nn.Module):
    """Causal transformer over PreNet outputs; supports a KV cache for incremental decoding."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = nn.RMSNorm(cfg.d_model, eps=1e-6) if cfg.n_layers else nn.Identity()

    def forward(self, x, valid, positions, cache: "KVCache | None" = None):
        """x (B, T, d) new positions; valid (B, S) for cached + new positions; positions (B, T). -> hidden, cache."""
        mask = attention_mask(valid, x.shape[1])
        new_cache = []
        for i, block in enumerate(self.blocks):
            x, layer_cache = block(x, positions, mask, None if cache is None else cache[i])
            new_cache.append(layer_cache)
        return self.norm(x), new_cache
