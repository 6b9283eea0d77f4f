"""The concept decoder: a small GPT (RMSNorm, RoPE, SwiGLU) that writes a sentence from one concept vector.

Input sequence: [p_1 .. p_k, <lang>, t_1 .. t_n], where p_i = the concept mapped by one Linear (concept_dim -> k*d)
and <lang> is the target-language token; the model predicts t_1 .. t_n, <eos> from the positions <lang> .. t_n.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from encoders.embedded.config import DecoderConfig

KVCache = list  # one (k, v) pair per layer, each (B, H, T, hd)


# The codec keeps its own RoPE (precomputed tables) rather than lcm.model.backbone.rotary: `encoders` must not import
# `lcm`, and tables computed another way differ in the last bit, which could flip the shipped decoder's greedy choices.
def rope_tables(head_dim: int, max_pos: int, theta: float, device=None):
    """cos/sin tables of rotary position embeddings (Su et al. 2021, RoFormer eq. 34), each (max_pos, head_dim/2)."""
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, device=device).float() / head_dim)
    angles = torch.outer(torch.arange(max_pos, device=device).float(), inv_freq)  # (P, hd/2)
    return angles.cos(), angles.sin()


def apply_rope(x, cos, sin):
    """Rotate channel pairs of x (B, H, T, hd) by the angles of its positions; cos/sin are (T, hd/2)."""
    x1, x2 = x.float().chunk(2, dim=-1)  # (B, H, T, hd/2) each
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).type_as(x)


class Block(nn.Module):
    def __init__(self, cfg: DecoderConfig):
        super().__init__()
        self.n_heads = cfg.n_heads
        self.dropout = cfg.dropout
        self.attn_norm = nn.RMSNorm(cfg.d_model, eps=1e-6)
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=False)
        self.attn_out = nn.Linear(cfg.d_model, cfg.d_model, bias=False)
        self.ffn_norm = nn.RMSNorm(cfg.d_model, eps=1e-6)
        self.gate_up = nn.Linear(cfg.d_model, 2 * cfg.ffn_hidden, bias=False)
        self.down = nn.Linear(cfg.ffn_hidden, cfg.d_model, bias=False)

    def forward(self, x, cos, sin, cache=None):
        B, T, D = x.shape
        q, k, v = self.qkv(self.attn_norm(x)).view(B, T, 3, self.n_heads, D // self.n_heads).permute(2, 0, 3, 1, 4)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)  # (B, H, T, hd)
        if cache is not None and cache[0] is not None:
            k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)  # (B, H, T_past + T, hd)
        # A single new query attends to the whole cache; a block of T queries (training, prefill) is causal.
        causal = T > 1
        if causal and k.shape[2] != T:
            raise ValueError("prefill with a non-empty cache is not supported")
        drop = self.dropout if self.training else 0.0
        h = F.scaled_dot_product_attention(q, k, v, is_causal=causal, dropout_p=drop)  # (B, H, T, hd)
        x = x + F.dropout(self.attn_out(h.transpose(1, 2).reshape(B, T, D)), drop, self.training)
        gate, up = self.gate_up(self.ffn_norm(x)).chunk(2, dim=-1)  # (B, T, F) each
        x = x + F.dropout(self.down(F.silu(gate) * up), drop, self.training)
        return x, (k, v)


class ConceptDecoder(nn.Module):
    """concept (B, concept_dim) + language token id -> next-token logits, with an optional KV cache."""

    def __init__(self, cfg: DecoderConfig, init_weights: bool = True):
        super().__init__()
        self.cfg = cfg
        self.to_prefix = nn.Linear(cfg.concept_dim, cfg.n_prefix * cfg.d_model)
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = nn.RMSNorm(cfg.d_model, eps=1e-6)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.lm_head.weight = self.embed.weight  # tied input/output embeddings
        cos, sin = rope_tables(cfg.d_model // cfg.n_heads, cfg.n_prefix + 1 + cfg.max_len, cfg.rope_theta)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        if init_weights:  # skipped when loading saved weights (faster, and nn.init pulls in torch._dynamo)
            self.apply(self._init)
            for block in self.blocks:  # GPT-2 style scaling of the residual projections
                for proj in (block.attn_out, block.down):
                    nn.init.normal_(proj.weight, std=0.02 / math.sqrt(2 * cfg.n_layers))

    @staticmethod
    def _init(module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)

    def prefix(self, concepts, lang_ids):
        """(B, concept_dim) unit concepts + (B,) language ids -> the k+1 conditioning embeddings (B, k+1, d)."""
        B = concepts.shape[0]
        scaled = F.normalize(concepts.float(), dim=-1) * math.sqrt(self.cfg.concept_dim)  # unit norm -> unit variance
        p = self.to_prefix(scaled.to(self.to_prefix.weight.dtype)).view(B, self.cfg.n_prefix, self.cfg.d_model)
        return torch.cat([p, self.embed(lang_ids)[:, None, :]], dim=1)  # (B, k+1, d)

    def forward(self, concepts, lang_ids, tokens, cache: "KVCache | None" = None, start: int = 0):
        """Logits (B, T', V) for the positions fed in.

        Without a cache (training): feeds prefix + tokens (B, n) and returns the logits at <lang> .. t_n (B, n+1, V).
        With a cache: `start` is the absolute position of tokens[:, 0]; when start == 0 the prefix is fed first.
        """
        x = self.embed(tokens) if tokens is not None and tokens.numel() else None  # (B, n, d)
        if start == 0:
            p = self.prefix(concepts, lang_ids)  # (B, k+1, d)
            x = p if x is None else torch.cat([p, x], dim=1)
        T = x.shape[1]
        cos, sin = self.rope_cos[start:start + T], self.rope_sin[start:start + T]
        for i, block in enumerate(self.blocks):
            x, kv = block(x, cos, sin, None if cache is None else cache[i])
            if cache is not None:
                cache[i] = kv
        logits = self.lm_head(self.norm(x))  # (B, T, V)
        return logits[:, self.cfg.n_prefix:] if start == 0 else logits

    def new_cache(self) -> KVCache:
        return [None] * self.cfg.n_layers

    def loss(self, concepts, lang_ids, tokens, lengths):
        """Mean next-token cross-entropy. tokens (B, L) hold t_1..t_n, <eos>, padding; lengths (B,) count n+1."""
        logits = self.forward(concepts, lang_ids, tokens[:, :-1])  # (B, L, V): predicts t_1 .. <eos>
        mask = torch.arange(tokens.shape[1], device=tokens.device)[None, :] < lengths[:, None]  # (B, L)
        return F.cross_entropy(logits.float()[mask], tokens[mask])

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())
