"""The token-level baseline: a same-width causal token LM built from the LCM's own layers, and the LCM forward."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


class TokenTransformer:
    """Same-width token-level causal LM: embedding -> the LCM's own Block layers -> RMSNorm -> LM head.

    Attention runs with is_causal (PyTorch's memory-efficient flash kernel, no T x T mask; the LCM runs its own
    masked attention, so this only favours the token model), and the LM head runs in chunks of `chunk` tokens so
    20k-token documents fit in memory.
    """

    def __init__(self, model_cfg, vocab_size: int, chunk: int = 2048):
        from torch import nn

        from lcm.model.backbone import Block

        self.cfg, self.chunk = model_cfg, chunk
        self.embed = nn.Embedding(vocab_size, model_cfg.d_model)
        self.blocks = nn.ModuleList(Block(model_cfg) for _ in range(model_cfg.n_layers)).eval()
        self.norm = nn.RMSNorm(model_cfg.d_model, eps=1e-6)
        self.lm_head = nn.Linear(model_cfg.d_model, vocab_size, bias=False)

    def num_parameters(self) -> int:
        return sum(p.numel() for m in (self.embed, self.blocks, self.norm, self.lm_head) for p in m.parameters())

    def block(self, block, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """One LCM Block with causal flash attention: x (B, T, d), positions (B, T) -> (B, T, d)."""
        import torch.nn.functional as F

        from lcm.model.backbone import rotary

        B, T, d = x.shape
        H = self.cfg.n_heads
        q, k, v = block.attn.qkv(block.attn_norm(x)).view(B, T, 3, H, d // H).permute(2, 0, 3, 1, 4)  # (B, H, T, hd)
        q, k = rotary(q, positions, self.cfg.rope_theta), rotary(k, positions, self.cfg.rope_theta)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, H, T, hd)
        x = x + block.attn.out(y.transpose(1, 2).reshape(B, T, d))
        return x + block.ffn(block.ffn_norm(x))  # (B, T, d)

    def head(self, x: torch.Tensor) -> float:
        """Final norm + LM head over all positions in chunks; returns a checksum so no work is optimised away."""
        total = 0.0
        for i in range(0, x.shape[1], self.chunk):
            total += float(self.lm_head(self.norm(x[:, i:i + self.chunk])).amax())  # (B, chunk, V) -> scalar
        return total

    def __call__(self, tokens: torch.Tensor, n_blocks: int | None = None) -> float:
        """tokens (B, T) -> checksum of the logits, running the first n_blocks layers (all by default)."""
        import torch

        with torch.no_grad():
            x = self.embed(tokens)  # (B, T, d)
            positions = torch.arange(tokens.shape[1])[None]  # (1, T)
            for block in self.blocks[:n_blocks]:
                x = self.block(block, x, positions)
            return self.head(x)


def lcm_forward(model, concepts: torch.Tensor) -> float:
    """The LCM's forward over a whole document: PreNet -> backbone -> PostNet at every position (MSE head)."""
    import torch

    with torch.no_grad():
        valid = torch.ones(concepts.shape[:2], dtype=torch.bool)  # (1, N)
        hidden, _ = model.hidden(concepts, valid)  # (1, N, d)
        return float(model.head.postnet(hidden).amax())  # (1, N, D) -> scalar
