"""Concept-space editing: spherical interpolation between two sentences, and infilling a gap between two passages."""

from dataclasses import replace

import torch
import torch.nn.functional as F

from encoders.errors import InputError
from lcm.inference.generate import GenerationConfig, generate


def interpolate(a: torch.Tensor, b: torch.Tensor, steps: int) -> torch.Tensor:
    """Spherical interpolation between two concepts, endpoints included: (steps, D)."""
    if steps < 2:
        raise InputError(f"interpolation needs at least 2 steps, got {steps}")
    a_n, b_n = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    omega = torch.arccos((a_n * b_n).sum().clamp(-1 + 1e-6, 1 - 1e-6))
    t = torch.linspace(0, 1, steps)[:, None]
    direction = (torch.sin((1 - t) * omega) * a_n + torch.sin(t * omega) * b_n) / torch.sin(omega)
    norms = (1 - t) * a.norm() + t * b.norm()
    return direction * norms



@torch.no_grad()
def infill(model, before: torch.Tensor, after: torch.Tensor, n_gap: int, gen: GenerationConfig,
           candidates: int = 8) -> torch.Tensor:
    """Fill a gap of n_gap concepts between `before` (B, D) and `after` (A, D) raw concepts.

    An autoregressive LCM cannot see the future, so candidates for the gap (the model's own continuations, plus
    continuations pulled towards the first concept after the gap) are scored by how well the model, reading
    before + candidate, predicts what comes after; the best-scoring candidate wins.
    """
    if n_gap < 1 or len(before) == 0 or len(after) == 0:
        raise InputError("infilling needs at least one sentence before the gap, one after it, and a gap of at least 1")
    pool = []
    for seed in range(candidates):
        (cont,), _ = generate(model, [before], replace(gen, max_new=n_gap, min_new=n_gap, eot_threshold=0,
                                                       seed=(gen.seed or 0) + seed))
        pool.append(cont)
        for pull in (0.25, 0.5):  # the same continuation, bent towards the sentence that follows the gap
            pool.append(torch.stack([interpolate(c, after[0], 5)[int(pull * 4)] for c in cont]))
    target = after[: max(1, min(len(after), 3))]  # (A', D)
    scores = []
    for cand in pool:
        context = torch.cat([before, cand])
        (pred,), _ = generate(model, [context], replace(gen, max_new=len(target), min_new=len(target), eot_threshold=0))
        scores.append((pred[: len(target)] - target).norm(dim=-1).mean().item())
    return pool[int(torch.tensor(scores).argmin())]
