"""Batched next-concept generation with a KV cache, ragged prompts and stop criteria."""

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from encoders.base import check_concepts
from encoders.errors import InputError


@dataclass
class GenerationConfig:
    """Decoding options shared by every head; head-specific options go in `head_options`."""

    max_new: int = 8  # concepts to generate at most per prompt
    min_new: int = 1  # never stop before this many
    eot_threshold: float = 0.9  # stop when cosine(new, end-of-text concept) >= this (LCM paper s_eot); 0 disables
    repeat_threshold: float = 0.0  # stop when cosine(new, previous concept) >= this (paper s_prev 0.9); 0 disables
    use_cache: bool = True  # KV cache with prefill; False recomputes the whole context at every step
    seed: "int | None" = 0  # fixed seed -> identical outputs
    head_options: dict = field(default_factory=dict)  # e.g. sampler/steps/guidance_scale for a diffusion head


def _left_pad(prompts: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    T, D = max(len(p) for p in prompts), prompts[0].shape[1]
    concepts = torch.zeros(len(prompts), T, D)
    valid = torch.zeros(len(prompts), T, dtype=torch.bool)
    for i, p in enumerate(prompts):
        concepts[i, T - len(p):] = p
        valid[i, T - len(p):] = True
    return concepts, valid


def _right_align(hidden: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded (B, S, d) -> right-padded, as the head protocol expects (valid positions first, order kept)."""
    order = torch.sort((~valid).long(), dim=1, stable=True).indices  # valid positions first
    return hidden.gather(1, order[..., None].expand_as(hidden)), valid.gather(1, order)


def check_count(n: int) -> None:
    """The number of sentences to generate or plan (-n/--sentences) must be at least 1."""
    if n < 1:
        raise InputError(f"-n/--sentences must be at least 1, got {n}")


def check_prompts(prompts: list[torch.Tensor], dim: int) -> None:
    if not prompts or any(len(p) == 0 for p in prompts):
        raise InputError("every prompt needs at least one concept (one sentence)")
    for p in prompts:
        check_concepts(p, dim, "the model", "use the model's codec")


@torch.no_grad()
def generate(model, prompts: list[torch.Tensor], cfg: GenerationConfig) -> tuple[list[torch.Tensor], list[str]]:
    """Continue each prompt (N_i, D raw concepts) by up to cfg.max_new concepts.

    Returns the new concepts per prompt (raw space, end-of-text excluded) and why each row stopped.
    """
    check_prompts(prompts, model.cfg.concept_dim)
    if cfg.max_new < 1:
        raise InputError(f"the number of concepts to generate must be at least 1, got {cfg.max_new}")
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(cfg.seed) if cfg.seed is not None else None
    concepts, valid = (t.to(device) for t in _left_pad(prompts))  # (B, T, D), (B, T)
    positions = (valid.long().cumsum(1) - 1).clamp_min(0)  # (B, T)
    hidden, cache = model.hidden(concepts, valid, positions)  # prefill: (B, T, d)
    eot = model.eot_concept
    use_eot = cfg.eot_threshold > 0 and eot.abs().sum() > 0
    B = len(prompts)
    outputs: list[list[torch.Tensor]] = [[] for _ in range(B)]
    reasons = ["max_len"] * B
    done = torch.zeros(B, dtype=torch.bool, device=device)
    for n in range(cfg.max_new):
        h, m = _right_align(hidden, valid)
        new = model.normalizer.denormalize(model.head.sample(h, m, generator=generator, **cfg.head_options))  # (B, D)
        if not torch.isfinite(new).all():
            raise InputError("the model produced NaN/Inf concepts: its weights are damaged or the decoding options are "
                             "extreme; retrain or re-export the model, or use gentler options (e.g. a lower --guidance)")
        stop_eot = (F.cosine_similarity(new, eot[None], dim=-1) >= cfg.eot_threshold) if use_eot else torch.zeros_like(done)
        stop_rep = (F.cosine_similarity(new, concepts[:, -1], dim=-1) >= cfg.repeat_threshold) if cfg.repeat_threshold > 0 \
            else torch.zeros_like(done)
        for i in range(B):
            if done[i]:
                continue
            if n >= cfg.min_new and stop_eot[i]:
                done[i], reasons[i] = True, "end_of_text"
            elif n >= cfg.min_new and stop_rep[i]:
                done[i], reasons[i] = True, "repetition"
            else:
                outputs[i].append(new[i].cpu())
        if done.all() or n == cfg.max_new - 1:
            break
        concepts = torch.cat([concepts, new[:, None]], dim=1)  # (B, S+1, D)
        valid = torch.cat([valid, torch.ones(B, 1, dtype=torch.bool, device=device)], dim=1)
        positions = torch.cat([positions, positions[:, -1:] + 1], dim=1)
        if cfg.use_cache:  # only the new position runs through the backbone
            h_new, cache = model.hidden(new[:, None], valid, positions[:, -1:], cache)
            hidden = torch.cat([hidden, h_new], dim=1)
        else:
            hidden, _ = model.hidden(concepts, valid, positions)
    dim = model.cfg.concept_dim
    return [torch.stack(o) if o else torch.zeros(0, dim) for o in outputs], reasons
