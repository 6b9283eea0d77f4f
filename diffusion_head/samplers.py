"""Samplers: pure functions that turn initial noise into a clean concept with a denoiser.

Every sampler has the signature `sample_x(denoise_fn, x, schedule, steps, *, cond, generator=None, callback=None)`:
- `denoise_fn(x_t (B, D), t, cond) -> (B, D)` predicts in `schedule.prediction_type` (wrap it for guidance, see
  `guidance.py`: one loop serves guided and unguided decoding);
- `x` (B, D) is the initial noise x_T in the variance-preserving parameterisation (e.g. sigma_init * N(0, I));
- DDIM is written out here (`ddim_step`, with Meta's epsilon scaling and timestep spacing as options); DPM-Solver++
  and Euler use a diffusers scheduler built fresh from `schedule` on every call (DPM-Solver keeps state between
  calls), with trailing timestep spacing; `callback(i, t, x)` sees each intermediate sample.
They return the clean concept x_0 (B, D).
"""

from typing import Callable, Optional

import numpy as np
import torch

from encoders.errors import InputError

from .schedule import SAMPLERS, NoiseSchedule

DenoiseFn = Callable[[torch.Tensor, torch.Tensor, object], torch.Tensor]


def _scheduler(schedule: NoiseSchedule, sampler: str, steps: int, device, start: int = 0):
    if not isinstance(steps, int) or steps <= 0:
        raise InputError(f"steps must be a positive integer, got {steps!r}")
    if steps > schedule.num_train_timesteps:
        raise InputError(f"steps={steps} exceeds the {schedule.num_train_timesteps} training timesteps; use fewer steps")
    if not 0 <= start < steps:
        raise InputError(f"start={start} must be in [0, steps={steps})")
    scheduler = schedule.scheduler(sampler)
    scheduler.set_timesteps(steps, device=device)
    if start and hasattr(scheduler, "set_begin_index"):  # multistep solvers track their position in the schedule
        scheduler.set_begin_index(start)
    return scheduler


def ddim_timesteps(num_train_timesteps: int, steps: int, spacing: str = "trailing") -> list[tuple[int, int]]:
    """The (t, t_prev) pairs DDIM visits; t_prev = t - T // steps (-1: the clean end, alpha_bar = 1).

    trailing: diffusers' round(arange(T, 0, -T / steps)) - 1, `steps` steps (99, 96, 94, 91, ... for T=100, 40 steps,
              while t_prev = t - 2, so about half the steps are called one timestep off).
    meta:     Meta's scheduler as its release builds it (we assume, from the description of that code we worked from):
              an integer arange with step T // steps, shifted by one, arange(T, 0, -(T // steps)) - 1, and t_prev =
              t - T // steps. For T=100 and "40 steps" that runs 50 steps: 99, 97, ..., 1.
    """
    if not isinstance(steps, int) or isinstance(steps, bool) or steps <= 0:
        raise InputError(f"steps must be a positive integer, got {steps!r}")
    if steps > num_train_timesteps:
        raise InputError(f"steps={steps} exceeds the {num_train_timesteps} training timesteps; use fewer steps")
    ratio = num_train_timesteps // steps
    if spacing == "trailing":
        ts = np.round(np.arange(num_train_timesteps, 0, -num_train_timesteps / steps)).astype(np.int64) - 1
    elif spacing == "meta":
        ts = np.arange(num_train_timesteps, 0, -ratio) - 1
    else:
        raise InputError(f"unknown timestep_spacing {spacing!r}; use trailing or meta")
    return [(int(t), int(t) - ratio) for t in ts]


def start_timestep(schedule: NoiseSchedule, sampler: str, steps: int, start: int, spacing: str = "trailing") -> int:
    """The timestep a sampler with `steps` steps begins at when it skips its first `start` steps (SDEdit-style)."""
    if sampler == "ddim":
        return ddim_timesteps(schedule.num_train_timesteps, steps, spacing)[start][0]
    return int(_scheduler(schedule, sampler, steps, "cpu", start).timesteps[start])


def x0_and_epsilon(schedule: NoiseSchedule, pred: torch.Tensor, x: torch.Tensor, t: int):
    """The clean sample and the noise implied by a prediction at x_t (diffusers' DDIM formulas, no clamping)."""
    a = schedule.alphas_cumprod[t]
    b = 1 - a
    if schedule.prediction_type == "sample":
        return pred, (x - a**0.5 * pred) / b**0.5
    if schedule.prediction_type == "epsilon":
        return (x - b**0.5 * pred) / a**0.5, pred
    return a**0.5 * x - b**0.5 * pred, a**0.5 * pred + b**0.5 * x  # v-prediction


def ddim_step(x0: torch.Tensor, eps: torch.Tensor, alpha: torch.Tensor, alpha_prev: torch.Tensor, *, eta: float = 0.0,
              eps_scale: float = 1.0, noise: Optional[torch.Tensor] = None) -> torch.Tensor:
    """DDIM (Song et al. 2021, eq. 12), epsilon-scaled as Meta's release does (Ning et al. 2024):

        x_prev = sqrt(a_prev) x0 + sqrt(1 - a_prev - sigma^2) * eps / eps_scale + sigma * noise,
        sigma  = eta * sqrt((1 - a_prev) / (1 - a)) * sqrt(1 - a / a_prev)          (eq. 16)

    eps / eps_scale enters the direction term only; x0 is the model's own estimate.
    """
    variance = (1 - alpha_prev) / (1 - alpha) * (1 - alpha / alpha_prev)
    sigma = eta * variance**0.5
    x = alpha_prev**0.5 * x0 + (1 - alpha_prev - sigma**2) ** 0.5 * (eps / eps_scale)
    return x + sigma * noise if eta > 0 else x


@torch.no_grad()
def sample_ddim(denoise_fn: DenoiseFn, x: torch.Tensor, schedule: NoiseSchedule, steps: int, *, cond,
                eta: float = 0.0, generator: Optional[torch.Generator] = None, callback=None,
                start: int = 0, eps_scale: float = 1.0, spacing: str = "trailing") -> torch.Tensor:
    """DDIM (Song et al. 2021, eq. 12; eta > 0 adds the eq. 16 noise) over `ddim_timesteps(..., spacing)`.

    With start > 0, `x` is a partly noised sample at `start_timestep(...)` and the first `start` steps are skipped.
    `eps_scale` divides the noise of the direction term at every step (`ddim_step`).
    """
    if eta < 0:
        raise InputError(f"eta must be >= 0, got {eta}")
    pairs = ddim_timesteps(schedule.num_train_timesteps, steps, spacing)
    if not 0 <= start < len(pairs):
        raise InputError(f"start={start} must be in [0, {len(pairs)})")
    one = torch.ones((), dtype=schedule.alphas_cumprod.dtype)
    for i, (t, prev) in enumerate(pairs[start:], start):
        pred = denoise_fn(x, t, cond)  # (B, D)
        x0, eps = x0_and_epsilon(schedule, pred, x, t)
        alpha_prev = schedule.alphas_cumprod[prev] if prev >= 0 else one
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype) if eta > 0 else None
        x = ddim_step(x0, eps, schedule.alphas_cumprod[t].to(x.device), alpha_prev.to(x.device), eta=eta,
                      eps_scale=eps_scale, noise=noise)
        if callback is not None:
            callback(i, t, x)
    return x


@torch.no_grad()
def sample_dpmpp(denoise_fn: DenoiseFn, x: torch.Tensor, schedule: NoiseSchedule, steps: int, *, cond,
                 generator: Optional[torch.Generator] = None, callback=None, start: int = 0) -> torch.Tensor:
    """DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2) via diffusers' DPMSolverMultistepScheduler; `start` as in DDIM."""
    scheduler = _scheduler(schedule, "dpmpp", steps, x.device, start)
    for i, t in enumerate(scheduler.timesteps[start:], start):
        pred = denoise_fn(x, t, cond)  # (B, D)
        x = scheduler.step(pred, t, x, generator=generator).prev_sample
        if callback is not None:
            callback(i, t, x)
    return x


@torch.no_grad()
def sample_euler(denoise_fn: DenoiseFn, x: torch.Tensor, schedule: NoiseSchedule, steps: int, *, cond,
                 generator: Optional[torch.Generator] = None, callback=None) -> torch.Tensor:
    """Euler on the probability-flow ODE (Karras et al. 2022, Alg. 1 without churn) via EulerDiscreteScheduler."""
    scheduler = _scheduler(schedule, "euler", steps, x.device)
    # diffusers' Euler works on x / sqrt(alpha_bar) ("variance exploding"); the denoiser sees the VP x_t.
    x = x * scheduler.init_noise_sigma
    for i, t in enumerate(scheduler.timesteps):
        pred = denoise_fn(scheduler.scale_model_input(x, t), t, cond)  # (B, D)
        x = scheduler.step(pred, t, x, generator=generator).prev_sample
        if callback is not None:
            callback(i, t, x)
    return x


def get_sampler(name: str):
    """The sampler function for `name` ("ddim", "dpmpp", "euler")."""
    samplers = {"ddim": sample_ddim, "dpmpp": sample_dpmpp, "euler": sample_euler}
    if name not in samplers:
        raise InputError(f"unknown sampler {name!r}; use one of {', '.join(SAMPLERS)}")
    return samplers[name]


def sampler_kwargs(opts, spacing: str) -> dict:
    """Keyword arguments of the chosen sampler for decoding options `opts` and the timestep spacing in force."""
    if opts.sampler != "ddim":
        if spacing != "trailing":
            raise InputError(f"timestep_spacing={spacing!r} applies to the ddim sampler only; use --sampler ddim "
                             "or timestep_spacing=trailing")
        return {}
    return {"eta": opts.eta, "spacing": spacing, "eps_scale": opts.eps_scale if opts.eps_scaling == "direction" else 1.0}
