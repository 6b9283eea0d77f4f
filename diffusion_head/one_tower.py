"""One-Tower denoiser (LCM paper sec. 2.3.3): one causal transformer over clean and noisy concepts together.

In the paper a single 32-layer transformer reads the interleaved sequence (clean x_0, noisy x_1, clean x_1, noisy x_2,
...); each noisy token sees the clean tokens before it and itself, never other noisy tokens, and clean tokens carry
diffusion timestep 0. Under the LCM head protocol this head OWNS that transformer: it consumes the backbone's `hidden`
as the clean-concept embeddings, so a One-Tower recipe sets the LCM's causal backbone to 0 layers (hidden = PreNet(x)).

Instead of interleaving we lay the sequence out as [clean_0 .. clean_{T-1}, noisy_1 .. noisy_T] with the equivalent
attention mask (clean: causal over clean; noisy for x[q+1]: clean_0..clean_q and itself) and learned positions
(clean_j at j, the noisy token for x[q+1] at q+1). Dropping the conditioning (CFG) leaves a noisy token seeing only
itself. All positions train in parallel. At sampling time the clean tokens are recomputed at every denoising step
(no KV cache yet), so a step costs a forward pass over the whole context.
"""

import torch
from torch import nn

from encoders.errors import InputError

from .layers import AdaLNLayer, FinalLayer, TimestepEmbedder


class OneTowerDenoiser(nn.Module):
    """Causal transformer over [clean context; noisy queries]; `hidden` (B, T, hidden_dim) are the clean embeddings."""

    def __init__(self, cfg, hidden_dim: int, concept_dim: int):
        super().__init__()
        d = cfg.d_model
        self.max_seq_len = cfg.max_seq_len
        self.clean_proj = nn.Linear(hidden_dim, d)
        self.in_proj = nn.Linear(concept_dim, d)
        self.positions = nn.Embedding(cfg.max_seq_len + 1, d)
        nn.init.normal_(self.positions.weight, std=0.02)
        self.time = TimestepEmbedder(d, cfg.timestep_dim)
        # adaLN-Zero self-attention + SwiGLU over clean and noisy tokens (the layer the Two-Tower uses, no cross)
        self.layers = nn.ModuleList(AdaLNLayer(cfg, self_attention=True, cross_attention=False)
                                    for _ in range(cfg.n_layers))
        self.final = FinalLayer(d, concept_dim, cfg.final_adaln)

    def context(self, hidden: torch.Tensor) -> torch.Tensor:
        """(B, T, hidden_dim) -> clean tokens (B, T, d) with their positions."""
        T = hidden.shape[1]
        if T > self.max_seq_len:
            raise InputError(f"context of {T} concepts exceeds the One-Tower's max_seq_len={self.max_seq_len}; "
                             "shorten the context or train with a larger max_seq_len")
        return self.clean_proj(hidden) + self.positions.weight[:T]  # (B, T, d)

    @staticmethod
    def visible(query_pos: torch.Tensor, n_keys: int) -> torch.Tensor:
        """Noisy token for x[q+1] sees clean tokens j <= q: (B, Q) -> (B, Q, K) bool."""
        return torch.arange(n_keys, device=query_pos.device) <= query_pos[..., None]

    @staticmethod
    def null_visible(visible: torch.Tensor) -> torch.Tensor:
        """The dropped-conditioning mask: no clean token is visible (the noisy token still sees itself)."""
        return torch.zeros_like(visible)

    def forward(self, x_t, t, context, visible, query_pos):
        """x_t (B, Q, D), t (B, Q), context (B, K, d), visible (B, Q, K), query_pos (B, Q) -> prediction (B, Q, D)."""
        B, K, _ = context.shape
        Q = x_t.shape[1]
        if int(query_pos.max()) + 1 > self.max_seq_len:
            raise InputError(f"position {int(query_pos.max()) + 1} exceeds the One-Tower's max_seq_len="
                             f"{self.max_seq_len}; train with a larger diffusion.max_seq_len")
        noisy = self.in_proj(x_t) + self.positions(query_pos + 1)  # (B, Q, d)
        x = torch.cat([context, noisy], dim=1)  # (B, K+Q, d)
        c = self.time(torch.cat([torch.zeros(B, K, device=t.device), t.float()], dim=1))  # (B, K+Q, d)
        dev = x.device
        causal = torch.ones(K, K, dtype=torch.bool, device=dev).tril()
        clean_rows = torch.cat([causal, torch.zeros(K, Q, dtype=torch.bool, device=dev)], dim=1)  # (K, K+Q)
        itself = torch.eye(Q, dtype=torch.bool, device=dev).expand(B, Q, Q)
        noisy_rows = torch.cat([visible, itself], dim=2)  # (B, Q, K+Q)
        mask = torch.cat([clean_rows.expand(B, K, K + Q), noisy_rows], dim=1)  # (B, K+Q, K+Q)
        for layer in self.layers:
            x = layer(x, c, mask)  # (B, K+Q, d)
        return self.final(x[:, K:], c[:, K:])  # (B, Q, D)
