"""Reading denoiser weights saved before the denoiser followed Meta's layout; the result computes the same function.

Older exports lack the Two-Tower's self-attention sublayer (AdaLN had 6 d: shift/scale/gate of cross-attention and
FFN; now 9 d with the self-attention's first), the key/value bias, and named the FFN's output `ffn.out` (now
`ffn.down`, as in the backbone); the One-Tower's self-attention was `attn` (now `self_attn`). The upgrade
  - puts a ZERO (shift, scale, gate) chunk for the new self-attention first in each AdaLN projection, so its gate is
    0 and the sublayer adds exactly nothing (its q/k/v/out weights are seeded random, so that a fine-tune can open it),
  - adds ZERO key/value biases, so keys and values (the null key included) are unchanged,
  - renames the keys.
`DiffusionHead` runs it on every load (a load_state_dict pre-hook); tests/test_diffusion_convert.py checks that the
shipped Two-Tower's outputs are the same before and after.
"""

import math

import torch


def _layer_ids(state: dict, prefix: str) -> list[str]:
    head = prefix + "denoiser.layers."
    return sorted({k[len(head):].split(".")[0] for k in state if k.startswith(head)}, key=int)


def upgrade_legacy_state(state: dict, prefix: str, cfg) -> None:
    """Rewrite, in place, a legacy denoiser state dict (keys under `prefix`) into the current layout for `cfg`."""
    for i in _layer_ids(state, prefix):
        p = f"{prefix}denoiser.layers.{i}."
        if p + "ffn.out.weight" not in state:
            continue  # already the current layout
        state[p + "ffn.down.weight"] = state.pop(p + "ffn.out.weight")
        for name in ("q", "kv", "out"):
            if p + f"attn.{name}.weight" in state:  # One-Tower
                state[p + f"self_attn.{name}.weight"] = state.pop(p + f"attn.{name}.weight")
        w = state[p + "ada.proj.weight"]
        d = w.shape[1]
        if cfg.tower == "two_tower" and cfg.self_attention:
            state[p + "ada.proj.weight"] = torch.cat([w.new_zeros(3 * d, d), w])  # (9d, d): self-attention first
            b = state[p + "ada.proj.bias"]
            state[p + "ada.proj.bias"] = torch.cat([b.new_zeros(3 * d), b])
            gen = torch.Generator().manual_seed(int(i))
            for name, rows in (("q", d), ("kv", 2 * d), ("out", d)):  # behind a zero gate: any values give 0
                state[p + f"self_attn.{name}.weight"] = (torch.randn(rows, d, generator=gen) / math.sqrt(d)).to(w.dtype)
        if cfg.kv_bias:
            for attn in ("self_attn", "cross"):
                if p + f"{attn}.kv.weight" in state:
                    state[p + f"{attn}.kv.bias"] = torch.zeros(2 * d, dtype=state[p + "ada.proj.bias"].dtype)
