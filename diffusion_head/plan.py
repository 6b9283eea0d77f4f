"""Parallel plan diffusion: denoise a block of K future concepts jointly instead of one after another.

Autoregressive generation with a diffusion head runs the whole sampler once per concept, so K concepts cost K
samplers. Here, as text diffusion LMs (LLaDA, Mercury) denoise many positions at once, the K concepts of a block
are denoised together:
- at every sampler step, the backbone reads the prompt (from its KV cache) followed by the current clean estimates
  of the block's first K-1 concepts, and ONE batched denoiser call updates all K noisy concepts, each conditioned on
  the estimates of the concepts before it. Every position is revised at every step, and the positions after it see
  the revision at the next step: a Jacobi-style fixed-point iteration across positions run inside the sampler.
- refinement passes then re-noise the finished block part of the way (SDEdit, Meng et al. 2022) and denoise it
  again, now conditioned on the previous pass's clean block, so each concept is revised with sharp context.

Nothing is retrained: the denoiser is the same Two-Tower / One-Tower head that autoregressive generation uses. It
was trained on clean contexts, so the first steps condition on blurry estimates (the first step on the median
concept); by the last step the estimates are sharp, and refinement passes (off by default) revise once more.
`bench/bench_plan.py` measures quality and speed against autoregressive generation (README: "Parallel plan").

The dependency is one-way: this module never imports `lcm`. The caller passes the concept model, which offers
`hidden(concepts, valid, cache=None) -> (hidden, cache)`, `.head` (a DiffusionHead) and `.normalizer`, and checks the
prompt's shape and values first (lcm.apps.story.plan_story does).
"""

from dataclasses import dataclass
from functools import partial

import torch

from encoders.errors import InputError


@dataclass
class PlanConfig:
    """Options of parallel planning; the sampler, steps and guidance are the head's decoding options."""

    block: int = 8  # K: concepts denoised jointly; a longer plan is made block by block, each block after the last
    passes: int = 1  # 1 = one joint denoising; each further pass re-noises the block and denoises it again
    strength: float = 0.5  # fraction of the sampler's steps a refinement pass re-runs (SDEdit strength)

    def check(self) -> None:
        if isinstance(self.block, bool) or not isinstance(self.block, int) or self.block < 1:
            raise InputError(f"the parallel block size must be a positive integer, got {self.block!r}")
        if isinstance(self.passes, bool) or not isinstance(self.passes, int) or self.passes < 1:
            raise InputError(f"--passes must be a positive integer, got {self.passes!r}")
        if not 0 < self.strength <= 1:
            raise InputError(f"--strength must be in (0, 1], got {self.strength}")


@torch.no_grad()
def parallel_plan(model, prompt: torch.Tensor, n_new: int, plan: PlanConfig, head_options: "dict | None" = None,
                  seed: "int | None" = 0) -> torch.Tensor:
    """Plan n_new concepts after `prompt` (N, D raw concepts), K at a time: returns (n_new, D) raw concepts.

    head_options are the diffusion head's decoding options (sampler, steps, guidance_scale, ...); a fixed seed gives
    identical plans.
    """
    from diffusion_head.head import parse_sample_options

    plan.check()
    if n_new < 1:
        raise InputError(f"the number of concepts to plan must be at least 1, got {n_new}")
    if not hasattr(model.head, "denoiser"):
        raise InputError("parallel planning denoises concepts jointly and needs a diffusion model: add --head diffusion "
                         "or pass --model with a Two-Tower / One-Tower model")
    opts = parse_sample_options(head_options or {})
    if opts.sampler == "euler":
        raise InputError("parallel planning's refinement passes restart the sampler part-way, which the euler sampler "
                         "cannot do here; use --sampler ddim or --sampler dpmpp")
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed) if seed is not None else None
    context, blocks = prompt.to(device), []
    while (done := sum(len(b) for b in blocks)) < n_new:
        block = _denoise_block(model, context, min(plan.block, n_new - done), plan, opts, generator)  # (k, D) raw
        blocks.append(block)
        context = torch.cat([context, block])
    return torch.cat(blocks).cpu()


def _block_condition(model, hidden_prompt, cache, valid, query_pos, estimate: torch.Tensor):
    """Denoiser condition (keys, visible, query_pos) for all k queries, given the block's clean estimates (k, D
    normalized): the backbone reads the cached prompt followed by the first k-1 estimates."""
    hidden = hidden_prompt  # (1, N, d)
    if estimate.shape[0] > 1:
        h_block, _ = model.hidden(model.normalizer.denormalize(estimate[:-1])[None], valid, cache=cache)  # (1, k-1, d)
        hidden = torch.cat([hidden_prompt, h_block], dim=1)  # (1, N+k-1, d)
    keys = model.head.denoiser.context(hidden)  # (1, N+k, d')
    return keys, model.head.denoiser.visible(query_pos, keys.shape[1]), query_pos


def _denoise_queries(denoiser, x: torch.Tensor, t, cond) -> torch.Tensor:
    """All k noisy concepts in one denoiser call: x (nb*k, D), nb = 2 under classifier-free guidance -> (nb*k, D)."""
    keys, visible, query_pos = cond
    nb, k = query_pos.shape
    tt = torch.as_tensor(t, device=x.device, dtype=torch.float32).expand(nb, k)  # (nb, k)
    pred = denoiser(x.view(nb, k, -1).to(keys.dtype), tt, keys, visible, query_pos)  # (nb, k, D)
    return pred.reshape(nb * k, -1).float()


class _JointStep:
    """The denoiser the sampler sees for a block: predict with the current condition, then condition the next step
    on the revised clean estimates (a Jacobi iteration across positions). `cond` is its only state."""

    def __init__(self, fn, schedule, recondition, cond):
        self.fn, self.schedule, self.recondition, self.cond = fn, schedule, recondition, cond

    def __call__(self, x: torch.Tensor, t, _unused) -> torch.Tensor:
        pred = self.fn(x, t, self.cond)  # (k, D)
        self.cond = self.recondition(self.schedule.to_sample(pred, x, t))
        return pred


def _denoise_block(model, prompt: torch.Tensor, k: int, plan: PlanConfig, opts, generator) -> torch.Tensor:
    """The k concepts after `prompt` (N, D raw), denoised jointly: (k, D) raw."""
    from diffusion_head.guidance import wrap_denoiser
    from diffusion_head.samplers import get_sampler, sampler_kwargs, start_timestep

    head = model.head
    N, D = prompt.shape
    valid = torch.ones(1, N + k - 1, dtype=torch.bool, device=prompt.device)  # prompt + the block's first k-1
    hidden_prompt, cache = model.hidden(prompt[None], valid[:, :N])  # (1, N, d): read once, then cached
    query_pos = torch.arange(N - 1, N - 1 + k, device=prompt.device)[None]  # (1, k): query j predicts x[N + j]
    recondition = partial(_block_condition, model, hidden_prompt, cache, valid, query_pos)
    first = recondition(torch.zeros(k, D, device=prompt.device))  # estimates start at the median concept
    uncond = (first[0], head.denoiser.null_visible(first[1]), query_pos)  # only the always-visible key: content unused
    step = _JointStep(wrap_denoiser(partial(_denoise_queries, head.denoiser), head.schedule, opts, uncond),
                      head.schedule, recondition, first)
    sampler, spacing = get_sampler(opts.sampler), opts.timestep_spacing or head.cfg.timestep_spacing
    extra = sampler_kwargs(opts, spacing)
    x = opts.sigma_init * torch.randn(k, D, generator=generator, device=prompt.device)  # (k, D)
    block = sampler(step, x, head.schedule, opts.steps, cond=None, generator=generator, **extra)  # (k, D)
    start = opts.steps - max(1, round(plan.strength * opts.steps))
    t_start = start_timestep(head.schedule, opts.sampler, opts.steps, start, spacing) if plan.passes > 1 else None
    for _ in range(plan.passes - 1):  # SDEdit: re-noise to t_start with unit noise (add_noise scales it), denoise again
        step.cond = recondition(block)
        noise = torch.randn(k, D, generator=generator, device=prompt.device)  # (k, D), unit variance
        x = head.schedule.add_noise(block, noise, torch.tensor(t_start))
        block = sampler(step, x, head.schedule, opts.steps, cond=None, generator=generator, start=start, **extra)
    return model.normalizer.denormalize(block)
