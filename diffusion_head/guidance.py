"""Denoiser wrappers: classifier-free guidance and epsilon scaling, composed by `wrap_denoiser`.

Both wrap `denoise_fn(x_t, t, cond) -> prediction` into another function of the same signature (k-diffusion's
`cfg_model_fn` habit), so one sampling loop serves guided and unguided decoding. Both act on the implied noise
epsilon, as Meta's large_concept_model does, and convert back to the schedule's prediction type. At the pure-noise end of the
schedule (alpha_bar_t < MIN_ALPHA_BAR, i.e. only t = T-1: the first sampling step) that conversion would divide
by ~0, so the wrappers pass the conditional prediction through unchanged there (Meta's code skips CFG at its first step).
"""

import torch

from encoders.errors import InputError

from .schedule import NoiseSchedule

MIN_ALPHA_BAR = 1e-5


def _cat(a, b):
    """Concatenate two conditions (a tensor, or a tuple of tensors) along the batch dim."""
    if isinstance(a, torch.Tensor):
        return torch.cat([a, b], 0)
    if isinstance(a, (tuple, list)):
        return tuple(_cat(u, v) for u, v in zip(a, b))
    raise TypeError(f"a denoiser condition must be a tensor or a tuple of tensors, got {type(a).__name__}")


def rescale_guided(guided: torch.Tensor, cond: torch.Tensor, rescale: float) -> torch.Tensor:
    """Lin et al. 2024 (arXiv 2305.08891) eq. 15-16: match the guided std to the conditional one, blend by `rescale`."""
    ratio = cond.std(dim=-1, keepdim=True) / guided.std(dim=-1, keepdim=True).clamp_min(1e-12)  # (B, 1)
    return rescale * guided * ratio + (1 - rescale) * guided


def cfg_denoiser(denoise_fn, schedule: NoiseSchedule, uncond, *, guidance_scale: float, guidance_rescale: float = 0.0):
    """Classifier-free guidance (Ho & Salimans 2022, eq. 6) with std rescale: one batched call on [cond; uncond]."""
    if guidance_scale < 0:
        raise InputError(f"guidance_scale must be >= 0 (1 = no guidance), got {guidance_scale}")
    if not 0 <= guidance_rescale <= 1:
        raise InputError(f"guidance_rescale must be in [0, 1], got {guidance_rescale}")

    def guided(x: torch.Tensor, t, cond) -> torch.Tensor:
        pred_cond, pred_uncond = denoise_fn(torch.cat([x, x], 0), t, _cat(cond, uncond)).chunk(2)  # (B, D) x2
        if schedule.alpha_bar(t, x).item() < MIN_ALPHA_BAR:
            return pred_cond
        eps_cond = schedule.to_epsilon(pred_cond, x, t)  # (B, D)
        eps_uncond = schedule.to_epsilon(pred_uncond, x, t)
        eps = eps_uncond + guidance_scale * (eps_cond - eps_uncond)
        if guidance_rescale > 0:
            eps = rescale_guided(eps, eps_cond, guidance_rescale)
        return schedule.from_epsilon(eps, x, t)

    return guided


def eps_scaled_denoiser(denoise_fn, schedule: NoiseSchedule, *, eps_scale: float):
    """Epsilon scaling (Ning et al. 2024, arXiv 2308.15321): divide the predicted noise by eps_scale (lambda)."""
    if eps_scale <= 0:
        raise InputError(f"eps_scale must be > 0 (1 = off), got {eps_scale}")

    def scaled(x: torch.Tensor, t, cond) -> torch.Tensor:
        pred = denoise_fn(x, t, cond)  # (B, D)
        if schedule.alpha_bar(t, x).item() < MIN_ALPHA_BAR:
            return pred
        return schedule.from_epsilon(schedule.to_epsilon(pred, x, t) / eps_scale, x, t)

    return scaled


def wrap_denoiser(denoise_fn, schedule: NoiseSchedule, opts, uncond):
    """The denoiser the samplers call, for decoding options `opts` (a DiffusionSampleConfig): classifier-free
    guidance on [cond; uncond], then epsilon scaling through the prediction, unless DDIM applies it in its direction
    term (`eps_scaling: direction`, Meta's way, see samplers.ddim_step). One function for every caller."""
    fn = denoise_fn
    if opts.guidance_scale != 1:
        fn = cfg_denoiser(fn, schedule, uncond, guidance_scale=opts.guidance_scale,
                          guidance_rescale=opts.guidance_rescale)
    if opts.eps_scale != 1 and not (opts.sampler == "ddim" and opts.eps_scaling == "direction"):
        fn = eps_scaled_denoiser(fn, schedule, eps_scale=opts.eps_scale)
    return fn
