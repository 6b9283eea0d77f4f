"""Two-Tower denoiser (LCM paper sec. 2.3.4): the LCM's causal backbone is the contextualizer, this is the denoiser.

The denoiser denoises ONE next concept at a time. Each layer is adaLN-Zero (DiT) with two sublayers, each with its own
(shift, scale, gate) from the timestep embedding (256-d sinusoid -> MLP):
  1. cross-attention from the noisy concept to the contextualizer outputs, shifted: the query for target position t
     (predicting x[t+1]) sees [z, hidden[0], ..., hidden[t]], where z is a prepended, always-visible vector (zero,
     as in the paper and Meta's reference code, or learned). Dropping the conditioning (CFG) leaves only z visible.
  2. a SwiGLU feed-forward.
Meta's reference implementation also has a self-attention sublayer restricted to the diagonal; with one token per
problem that is a plain linear map of the token itself, already covered by the feed-forward, so it is left out here.

Training runs all T positions in parallel as B*T independent denoising problems: queries (B, T) over keys (B, T+1)
with the (T, T+1) shifted-causal mask below; queries never attend to each other.
"""

import torch
from torch import nn

from .layers import AdaLN, Attention, FinalLayer, SwiGLU, TimestepEmbedder, modulate


class DenoiserLayer(nn.Module):
    """adaLN-Zero cross-attention + SwiGLU."""

    def __init__(self, d_model: int, n_heads: int, ffn_mult: float, dropout: float):
        super().__init__()
        self.ada = AdaLN(d_model, 2)
        self.norm1 = nn.LayerNorm(d_model, elementwise_affine=False, eps=1e-6)
        self.cross = Attention(d_model, n_heads, dropout)
        self.norm2 = nn.LayerNorm(d_model, elementwise_affine=False, eps=1e-6)
        self.ffn = SwiGLU(d_model, ffn_mult, dropout)

    def forward(self, x, c, context, visible):
        shift1, scale1, gate1, shift2, scale2, gate2 = self.ada(c)  # (B, Q, d) each
        x = x + gate1 * self.cross(modulate(self.norm1(x), shift1, scale1), context, visible)
        return x + gate2 * self.ffn(modulate(self.norm2(x), shift2, scale2))  # (B, Q, d)


class TwoTowerDenoiser(nn.Module):
    """Denoiser tower; the contextualizer's `hidden` (B, T, hidden_dim) arrives through `context()`."""

    def __init__(self, cfg, hidden_dim: int, concept_dim: int):
        super().__init__()
        d = cfg.d_model
        self.in_proj = nn.Linear(concept_dim, d)
        self.time = TimestepEmbedder(d, cfg.timestep_dim)
        self.context_proj = nn.Linear(hidden_dim, d)
        self.context_norm = nn.LayerNorm(d)
        if cfg.context_vector == "learned":
            self.prepended = nn.Parameter(torch.randn(d) * 0.02)
        else:
            self.register_buffer("prepended", torch.zeros(d), persistent=False)
        self.layers = nn.ModuleList(DenoiserLayer(d, cfg.n_heads, cfg.ffn_mult, cfg.dropout)
                                    for _ in range(cfg.n_layers))
        self.final = FinalLayer(d, concept_dim)

    def context(self, hidden: torch.Tensor) -> torch.Tensor:
        """(B, T, hidden_dim) -> keys (B, T+1, d): the prepended vector then the projected contextualizer outputs."""
        ctx = self.context_norm(self.context_proj(hidden))  # (B, T, d)
        return torch.cat([self.prepended.expand(ctx.shape[0], 1, -1), ctx], dim=1)  # (B, T+1, d)

    @staticmethod
    def visible(query_pos: torch.Tensor, n_keys: int) -> torch.Tensor:
        """Query predicting x[q+1] sees key j <= q+1 (key 0 = prepended vector): (B, Q) -> (B, Q, K) bool."""
        keys = torch.arange(n_keys, device=query_pos.device)
        return keys <= query_pos[..., None] + 1

    @staticmethod
    def null_visible(visible: torch.Tensor) -> torch.Tensor:
        """The dropped-conditioning mask: only the prepended vector (key 0) is visible."""
        null = torch.zeros_like(visible)
        null[..., 0] = True
        return null

    def forward(self, x_t, t, context, visible, query_pos=None):
        """x_t (B, Q, D), t (B, Q), context (B, K, d), visible (B, Q, K) -> prediction (B, Q, D)."""
        c = self.time(t)  # (B, Q, d)
        x = self.in_proj(x_t)  # (B, Q, d)
        for layer in self.layers:
            x = layer(x, c, context, visible)
        return self.final(x, c)  # (B, Q, D)
