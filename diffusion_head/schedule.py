"""The noise schedule: one small object owns alpha_bar; training noise and every sampler read the same tensor.

Betas come from the named schedule (cosine = diffusers' squaredcos_cap_v2, quadratic = scaled_linear, linear,
or the LCM paper's sigmoid, eq. 14), optionally rescaled to zero terminal SNR (Lin et al. 2024, Algorithm 1).
`scheduler(name)` hands the very same betas to a diffusers scheduler through `trained_betas`, so the
`add_noise` used in training and the `step` used in sampling cannot drift apart.
"""

import math

import torch

from encoders.errors import InputError

SCHEDULES = ("cosine", "quadratic", "linear", "sigmoid")
PREDICTION_TYPES = ("sample", "epsilon", "v_prediction")
SAMPLERS = ("ddim", "dpmpp", "euler")
# alpha_bar of the last step once rescaled to zero terminal SNR; diffusers' Euler/DPM use the same value so that
# their sigma = sqrt((1 - alpha_bar) / alpha_bar) stays finite.
ZERO_SNR_ALPHA_BAR = 2.0**-24


def _cosine_alpha_bar(tau: float) -> float:
    """Nichol & Dhariwal 2021, eq. 17 with s = 0.008 (diffusers' squaredcos_cap_v2)."""
    return math.cos((tau + 0.008) / 1.008 * math.pi / 2) ** 2


def _sigmoid_alpha_bar(tau: float, gamma: float, delta: float) -> float:
    """LCM paper eq. 14: alpha_bar(tau) = sigmoid(delta - gamma * logit(tau)), tau in [0, 1]."""
    tau = min(max(tau, 1e-12), 1 - 1e-12)
    return 1.0 / (1.0 + math.exp(-(delta - gamma * math.log(tau / (1 - tau)))))


def make_betas(name: str, num_steps: int, *, beta_start: float = 1e-4, beta_end: float = 0.02,
               gamma: float = 1.5, delta: float = 0.0) -> torch.Tensor:
    """(num_steps,) float64 betas of the named schedule."""
    if name == "linear":
        return torch.linspace(beta_start, beta_end, num_steps, dtype=torch.float64)
    if name == "quadratic":  # diffusers' scaled_linear
        return torch.linspace(beta_start**0.5, beta_end**0.5, num_steps, dtype=torch.float64) ** 2
    if name == "cosine":
        alpha_bar = _cosine_alpha_bar
    elif name == "sigmoid":
        alpha_bar = lambda tau: _sigmoid_alpha_bar(tau, gamma, delta)  # noqa: E731
    else:
        raise InputError(f"unknown noise schedule {name!r}; use one of {', '.join(SCHEDULES)}")
    betas = [min(1 - alpha_bar((i + 1) / num_steps) / alpha_bar(i / num_steps), 0.999) for i in range(num_steps)]
    return torch.tensor(betas, dtype=torch.float64)


def rescale_zero_terminal_snr(alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """Lin et al. 2024 (arXiv 2305.08891), Algorithm 1: shift/scale sqrt(alpha_bar) so the last one is 0."""
    root = alphas_cumprod.sqrt()
    first, last = root[0].clone(), root[-1].clone()
    root = (root - last) * first / (first - last)
    return root**2


class NoiseSchedule:
    """Owns alpha_bar (`alphas_cumprod`, (T,)) for training (`add_noise`, `target`) and sampling (`scheduler`)."""

    def __init__(self, name: str = "cosine", num_train_timesteps: int = 100, *, prediction_type: str = "sample",
                 zero_terminal_snr: bool = True, beta_start: float = 1e-4, beta_end: float = 0.02,
                 sigmoid_gamma: float = 1.5, sigmoid_delta: float = 0.0):
        if prediction_type not in PREDICTION_TYPES:
            raise InputError(f"unknown prediction_type {prediction_type!r}; use one of {', '.join(PREDICTION_TYPES)}")
        if num_train_timesteps < 2:
            raise InputError(f"num_train_timesteps must be >= 2, got {num_train_timesteps}")
        self.name, self.prediction_type, self.num_train_timesteps = name, prediction_type, num_train_timesteps
        betas = make_betas(name, num_train_timesteps, beta_start=beta_start, beta_end=beta_end,
                           gamma=sigmoid_gamma, delta=sigmoid_delta)
        alphas_cumprod = torch.cumprod(1 - betas, 0)
        if zero_terminal_snr:
            alphas_cumprod = rescale_zero_terminal_snr(alphas_cumprod)
            alphas_cumprod[-1] = ZERO_SNR_ALPHA_BAR
        previous = torch.cat([torch.ones(1, dtype=torch.float64), alphas_cumprod[:-1]])
        # float32 betas, and alpha_bar recomputed from them exactly as diffusers does: bitwise the same tensor.
        self.betas = (1 - alphas_cumprod / previous).float()  # (T,)
        self.alphas_cumprod = torch.cumprod(1.0 - self.betas, 0)  # (T,)

    @classmethod
    def from_config(cls, cfg) -> "NoiseSchedule":
        """Build from a `DiffusionHeadConfig`."""
        return cls(cfg.schedule, cfg.num_train_timesteps, prediction_type=cfg.prediction_type,
                   zero_terminal_snr=cfg.zero_terminal_snr, beta_start=cfg.beta_start, beta_end=cfg.beta_end,
                   sigmoid_gamma=cfg.sigmoid_gamma, sigmoid_delta=cfg.sigmoid_delta)

    def alpha_bar(self, t, like: torch.Tensor) -> torch.Tensor:
        """alpha_bar at integer timesteps t (tensor or number), as `like`'s dtype/device, broadcast over its last dim."""
        t = torch.as_tensor(t, device=self.alphas_cumprod.device).round().long()
        return self.alphas_cumprod[t].to(like)[..., None]  # (*t.shape, 1)

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """DDPM eq. 4: x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) noise. x0, noise (..., D); t (...)."""
        a = self.alpha_bar(t, x0)
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def target(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """What the denoiser regresses onto: x0, the noise, or v = sqrt(a) noise - sqrt(1-a) x0 (Salimans & Ho 2022)."""
        if self.prediction_type == "sample":
            return x0
        if self.prediction_type == "epsilon":
            return noise
        a = self.alpha_bar(t, x0)
        return a.sqrt() * noise - (1 - a).sqrt() * x0

    def to_epsilon(self, pred: torch.Tensor, x_t: torch.Tensor, t) -> torch.Tensor:
        """The noise implied by a model prediction `pred` at x_t."""
        a = self.alpha_bar(t, x_t)
        if self.prediction_type == "epsilon":
            return pred
        if self.prediction_type == "sample":
            return (x_t - a.sqrt() * pred) / (1 - a).sqrt()
        return a.sqrt() * pred + (1 - a).sqrt() * x_t

    def to_sample(self, pred: torch.Tensor, x_t: torch.Tensor, t) -> torch.Tensor:
        """The clean concept x0 implied by a model prediction `pred` at x_t (epsilon: alpha_bar floored at 1e-5)."""
        if self.prediction_type == "sample":
            return pred
        a = self.alpha_bar(t, x_t)
        if self.prediction_type == "v_prediction":
            return a.sqrt() * x_t - (1 - a).sqrt() * pred
        a = a.clamp_min(1e-5)
        return (x_t - (1 - a).sqrt() * self.to_epsilon(pred, x_t, t)) / a.sqrt()

    def from_epsilon(self, eps: torch.Tensor, x_t: torch.Tensor, t) -> torch.Tensor:
        """The model prediction (in this schedule's prediction_type) implied by the noise `eps` at x_t."""
        a = self.alpha_bar(t, x_t)
        if self.prediction_type == "epsilon":
            return eps
        x0 = (x_t - (1 - a).sqrt() * eps) / a.sqrt()
        if self.prediction_type == "sample":
            return x0
        return a.sqrt() * eps - (1 - a).sqrt() * x0

    def scheduler(self, sampler: str):
        """A fresh diffusers scheduler for `sampler` reading this schedule's betas, trailing timestep spacing."""
        from diffusers import DDIMScheduler, DPMSolverMultistepScheduler, EulerDiscreteScheduler

        common = dict(num_train_timesteps=self.num_train_timesteps, trained_betas=self.betas.tolist(),
                      prediction_type=self.prediction_type, timestep_spacing="trailing")
        if sampler == "ddim":
            return DDIMScheduler(**common, clip_sample=False, set_alpha_to_one=True)
        if sampler == "dpmpp":
            return DPMSolverMultistepScheduler(**common, algorithm_type="dpmsolver++", solver_order=2,
                                               lower_order_final=True, final_sigmas_type="zero")
        if sampler == "euler":
            return EulerDiscreteScheduler(**common, final_sigmas_type="zero")
        raise InputError(f"unknown sampler {sampler!r}; use one of {', '.join(SAMPLERS)}")
