"""Two-Tower denoiser (LCM paper sec. 2.3.4): the LCM's causal backbone is the contextualizer, this is the denoiser.

The denoiser denoises ONE next concept at a time. Each layer is adaLN-Zero (DiT) with three sublayers, each with its
own (shift, scale, gate) from the timestep embedding (256-d sinusoid -> MLP), 9 d in all as in Meta's release:
  1. self-attention restricted to the diagonal: each position attends only to itself, so it is a value/output
     projection of the token (not a no-op); `self_attention: false` leaves it out;
  2. cross-attention from the noisy concept to the contextualizer outputs, shifted: the query for target position t
     (predicting x[t+1]) sees [z, hidden[0], ..., hidden[t]], where z is a prepended, always-visible vector (zero,
     as in the paper and Meta's reference code, or learned). Dropping the conditioning (CFG) leaves only z visible;
     with `kv_bias` (Meta) z's key and value are the learnable biases, so the unconditional branch is not exactly 0;
  3. a SwiGLU feed-forward.
The context keys are the contextualizer's outputs as they are (when the widths match) and the final layer is a plain
RMSNorm + projection, as in Meta's release (`context_projection` and `final_adaln` restore this toolkit's earlier
Linear + LayerNorm and DiT final layer; the shipped model uses both; differing widths always get the projection). Options beyond Meta's (off by default): `adaln_latest_state` adds the contextualizer's output at the predicted
position (hidden[t], hidden under condition dropout) to the AdaLN conditioning; `cross_recency_bias` adds
-slope_h * (t + 1 - j) to the logit of key j (ALiBi, Press et al. 2022), with a learnable slope per head.

Training runs all T positions in parallel as B*T independent denoising problems: queries (B, T) over keys (B, T+1)
with the (T, T+1) shifted-causal mask below; queries never attend to each other.
"""

import torch
from torch import nn

from .layers import AdaLNLayer, FinalLayer, TimestepEmbedder


def alibi_slopes(n_heads: int) -> torch.Tensor:
    """ALiBi's geometric slopes 2^(-8 h / H), h = 1..H (Press et al. 2022, sec. 3)."""
    return 2.0 ** (-8.0 * torch.arange(1, n_heads + 1, dtype=torch.float32) / n_heads)


class TwoTowerDenoiser(nn.Module):
    """Denoiser tower; the contextualizer's `hidden` (B, T, hidden_dim) arrives through `context()`."""

    def __init__(self, cfg, hidden_dim: int, concept_dim: int):
        super().__init__()
        d = cfg.d_model
        self.in_proj = nn.Linear(concept_dim, d)
        self.time = TimestepEmbedder(d, cfg.timestep_dim)
        if cfg.context_projection or hidden_dim != d:  # Meta's reads the contextualizer's outputs as they are
            self.context_proj, self.context_norm = nn.Linear(hidden_dim, d), nn.LayerNorm(d)
        else:
            self.context_proj = self.context_norm = None
        if cfg.context_vector == "learned":
            self.prepended = nn.Parameter(torch.randn(d) * 0.02)
        else:
            self.register_buffer("prepended", torch.zeros(d), persistent=False)
        self.latest_proj = nn.Linear(d, d) if cfg.adaln_latest_state else None
        self.recency_slope = nn.Parameter(alibi_slopes(cfg.n_heads)) if cfg.cross_recency_bias else None
        self.layers = nn.ModuleList(AdaLNLayer(cfg, self_attention=cfg.self_attention, cross_attention=True)
                                    for _ in range(cfg.n_layers))
        self.final = FinalLayer(d, concept_dim, cfg.final_adaln)

    def context(self, hidden: torch.Tensor) -> torch.Tensor:
        """(B, T, hidden_dim) -> keys (B, T+1, d): the prepended vector then the contextualizer outputs (projected
        with `context_projection`)."""
        ctx = hidden if self.context_proj is None else self.context_norm(self.context_proj(hidden))  # (B, T, d)
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

    @staticmethod
    def latest_state(context: torch.Tensor, visible: torch.Tensor, query_pos: torch.Tensor) -> torch.Tensor:
        """Key q+1 (the contextualizer's output at the predicted position) per query, zero where not visible."""
        index = (query_pos + 1).clamp_max(context.shape[1] - 1)  # (B, Q)
        rows = torch.arange(context.shape[0], device=context.device)[:, None]  # (B, 1)
        seen = visible.gather(-1, index[..., None]).to(context.dtype)  # (B, Q, 1)
        return context[rows, index] * seen  # (B, Q, d)

    def recency_bias(self, query_pos: torch.Tensor, n_keys: int) -> torch.Tensor:
        """-slope_h * (q + 1 - j) for context key j >= 1, 0 for the prepended key: (B, Q) -> (B, H, Q, K)."""
        distance = (query_pos[..., None] + 1 - torch.arange(n_keys, device=query_pos.device)).clamp_min(0).float()
        distance[..., 0] = 0.0  # the prepended vector has no position
        return -self.recency_slope[None, :, None, None] * distance[:, None]  # (B, H, Q, K)

    def forward(self, x_t, t, context, visible, query_pos):
        """x_t (B, Q, D), t (B, Q), context (B, K, d), visible (B, Q, K), query_pos (B, Q) -> prediction (B, Q, D)."""
        c = self.time(t)  # (B, Q, d)
        if self.latest_proj is not None:
            c = c + self.latest_proj(self.latest_state(context, visible, query_pos))
        x = self.in_proj(x_t)  # (B, Q, d)
        B, Q, _ = x.shape
        itself = torch.eye(Q, dtype=torch.bool, device=x.device).expand(B, Q, Q)  # (B, Q, Q)
        bias = self.recency_bias(query_pos, context.shape[1]) if self.recency_slope is not None else None
        for layer in self.layers:
            x = layer(x, c, itself, context, visible, bias)
        return self.final(x, c)  # (B, Q, D)
