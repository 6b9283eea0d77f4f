"""Samplers: pure functions that turn initial noise into a clean concept with a denoiser.

Every sampler has the signature `sample_x(denoise_fn, x, schedule, steps, *, cond, generator=None, callback=None)`:
- `denoise_fn(x_t (B, D), t, cond) -> (B, D)` predicts in `schedule.prediction_type` (wrap it for guidance, see
  `guidance.py`: one loop serves guided and unguided decoding);
- `x` (B, D) is the initial noise x_T in the variance-preserving parameterisation (e.g. sigma_init * N(0, I));
- the diffusers scheduler is built fresh from `schedule` on every call (DPM-Solver keeps state between calls),
  with trailing timestep spacing; `callback(i, t, x)` sees each intermediate sample.
They return the clean concept x_0 (B, D).
"""

from typing import Callable, Optional

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


def start_timestep(schedule: NoiseSchedule, sampler: str, steps: int, start: int) -> int:
    """The timestep a sampler with `steps` steps begins at when it skips its first `start` steps (SDEdit-style)."""
    return int(_scheduler(schedule, sampler, steps, "cpu", start).timesteps[start])


@torch.no_grad()
def sample_ddim(denoise_fn: DenoiseFn, x: torch.Tensor, schedule: NoiseSchedule, steps: int, *, cond,
                eta: float = 0.0, generator: Optional[torch.Generator] = None, callback=None,
                start: int = 0) -> torch.Tensor:
    """DDIM (Song et al. 2021, eq. 12; eta > 0 adds the eq. 16 noise) via diffusers' DDIMScheduler.

    With start > 0, `x` is a partly noised sample at `start_timestep(...)` and the first `start` steps are skipped.
    """
    if eta < 0:
        raise InputError(f"eta must be >= 0, got {eta}")
    scheduler = _scheduler(schedule, "ddim", steps, x.device, start)
    for i, t in enumerate(scheduler.timesteps[start:], start):
        pred = denoise_fn(x, t, cond)  # (B, D)
        x = scheduler.step(pred, t, x, eta=eta, generator=generator).prev_sample
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
