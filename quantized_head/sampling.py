"""Pure coarse-to-fine samplers over residual-VQ codes, and classifier-free guidance as a wrapper of the predictor.

A predictor is `fn(stage: int, partial: (B, D)) -> (B, V) logits` (Quant-LCM-d) or `-> (B, D) residual` (Quant-LCM-c),
where `partial` is the sum of the units chosen so far.
"""

from typing import Callable

import torch

from encoders.errors import InputError

StageFn = Callable[[int, torch.Tensor], torch.Tensor]


def cfg_fn(cond_fn: StageFn, uncond_fn: StageFn, guidance_scale: float) -> StageFn:
    """Classifier-free guidance (Ho & Salimans, 2022) on any stage output: u + g * (c - u); g = 1 is unguided."""
    if guidance_scale == 1.0:
        return cond_fn

    def guided(stage: int, partial: torch.Tensor) -> torch.Tensor:
        cond, uncond = cond_fn(stage, partial), uncond_fn(stage, partial)
        return uncond + guidance_scale * (cond - uncond)

    return guided


def pick_unit(logits: torch.Tensor, *, temperature: float = 1.0, top_k: int | None = None,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, V) logits -> (B,) unit: top-k filtering, then temperature sampling; top_k=1 or temperature=0 is argmax."""
    if top_k == 1 or temperature == 0.0:
        return logits.argmax(-1)
    logits = logits.float() / temperature  # (B, V)
    if top_k is not None and top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, -1)  # (B, V)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


@torch.no_grad()
def sample_discrete(logits_fn: StageFn, codebooks: torch.Tensor, batch: int, *, temperature: float = 1.0,
                    top_k: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """Quant-LCM-d (LCM paper, section 2.5): draw one unit per codebook, coarse to fine. Returns codes (B, K)."""
    num_codebooks, _, dim = codebooks.shape
    partial = torch.zeros(batch, dim, device=codebooks.device)  # (B, D)
    codes = []
    for stage in range(num_codebooks):
        unit = pick_unit(logits_fn(stage, partial), temperature=temperature, top_k=top_k, generator=generator)  # (B,)
        partial = partial + codebooks[stage][unit]
        codes.append(unit)
    return torch.stack(codes, -1)  # (B, K)


@torch.no_grad()
def sample_continuous(residual_fn: StageFn, codebooks: torch.Tensor, batch: int, *, mode: str = "nearest",
                      beta: float = 1.0, top_k: int | None = None,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """Quant-LCM-c (LCM paper, section 2.5): regress each residual r_hat, then take the nearest unit or sample
    p(c) ~ exp(-beta * ||c - r_hat||) among the top_k nearest. Returns codes (B, K)."""
    if mode not in ("nearest", "sample"):
        raise InputError(f"mode must be 'nearest' or 'sample', got {mode!r}")
    num_codebooks, _, dim = codebooks.shape
    partial = torch.zeros(batch, dim, device=codebooks.device)  # (B, D)
    codes = []
    for stage in range(num_codebooks):
        r_hat = residual_fn(stage, partial).float()  # (B, D)
        dist = torch.cdist(r_hat, codebooks[stage])  # (B, V)
        if mode == "nearest":
            unit = dist.argmin(-1)
        else:
            unit = pick_unit(-beta * dist, temperature=1.0, top_k=top_k, generator=generator)
        partial = partial + codebooks[stage][unit]
        codes.append(unit)
    return torch.stack(codes, -1)  # (B, K)
