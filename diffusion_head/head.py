"""The diffusion next-concept head: loss (training) and sample (decoding) under the LCM head protocol.

loss:   target x0 (B, T, D) -> random t, noise -> x_t = add_noise(x0, noise, t) -> denoiser(x_t, t, context) ->
        squared error to schedule.target (x0, noise or v), summed over D, averaged over valid positions.
sample: sigma_init * N(0, I) -> a sampler (DDIM / DPM-Solver++ 2M / Euler) over the wrapped denoiser
        (classifier-free guidance, epsilon scaling: guidance.wrap_denoiser) -> the next concept (B, D), normalized.
"""

import dataclasses

import torch
from torch import nn

from encoders.errors import InputError

from .config import DiffusionHeadConfig, DiffusionSampleConfig
from .guidance import wrap_denoiser
from .samplers import get_sampler, sampler_kwargs
from .schedule import NoiseSchedule

TOWERS = ("two_tower", "one_tower")


def parse_sample_options(opts: dict) -> DiffusionSampleConfig:
    """User decoding options -> a validated DiffusionSampleConfig (paper defaults for anything not given)."""
    known = {f.name: f.type for f in dataclasses.fields(DiffusionSampleConfig)}
    unknown = sorted(set(opts) - set(known))
    if unknown:
        raise InputError(f"unknown diffusion decoding option(s) {', '.join(unknown)}; valid: {', '.join(known)}")
    o = DiffusionSampleConfig(**opts)
    get_sampler(o.sampler)  # raises on an unknown name
    if isinstance(o.steps, bool) or not isinstance(o.steps, int) or o.steps <= 0:
        raise InputError(f"steps must be a positive integer, got {o.steps!r}")
    for name in ("guidance_scale", "guidance_rescale", "sigma_init", "eps_scale", "eta"):
        if isinstance(getattr(o, name), bool) or not isinstance(getattr(o, name), (int, float)):
            raise InputError(f"{name} must be a number, got {getattr(o, name)!r}")
    if o.guidance_scale < 0:
        raise InputError(f"guidance_scale must be >= 0 (1 = no guidance), got {o.guidance_scale}")
    if not 0 <= o.guidance_rescale <= 1:
        raise InputError(f"guidance_rescale must be in [0, 1], got {o.guidance_rescale}")
    if o.sigma_init <= 0:
        raise InputError(f"sigma_init must be > 0, got {o.sigma_init}")
    if o.eps_scale <= 0:
        raise InputError(f"eps_scale must be > 0 (1 = off), got {o.eps_scale}")
    if o.eps_scaling not in ("direction", "prediction"):
        raise InputError(f"eps_scaling must be 'direction' (Meta) or 'prediction', got {o.eps_scaling!r}")
    if o.timestep_spacing not in ("", "trailing", "meta"):
        raise InputError(f"timestep_spacing must be 'trailing' or 'meta', got {o.timestep_spacing!r}")
    if o.eta < 0 or (o.eta != 0 and o.sampler != "ddim"):
        raise InputError(f"eta must be >= 0 and only applies to sampler='ddim' "
                         f"(got eta={o.eta}, sampler={o.sampler!r})")
    return o


def _upgrade_legacy(module, state_dict, prefix, *args) -> None:
    """load_state_dict pre-hook: weights in the layout before Meta's (convert.py) compute the same function."""
    from .convert import upgrade_legacy_state

    upgrade_legacy_state(state_dict, prefix, module.cfg)


class DiffusionHead(nn.Module):
    """Diffusion head over a denoiser tower (Two-Tower or One-Tower) and a noise schedule."""

    def __init__(self, cfg: DiffusionHeadConfig, d_model: int, concept_dim: int):
        super().__init__()
        if cfg.tower not in TOWERS:
            raise InputError(f"unknown diffusion tower {cfg.tower!r}; use one of {', '.join(TOWERS)}")
        if cfg.context_vector not in ("zero", "learned"):
            raise InputError(f"context_vector must be 'zero' or 'learned', got {cfg.context_vector!r}")
        if not 0 <= cfg.cond_dropout < 1:
            raise InputError(f"cond_dropout must be in [0, 1), got {cfg.cond_dropout}")
        if cfg.timestep_sampling not in ("uniform", "logit_normal") or cfg.timestep_logit_std <= 0:
            raise InputError(f"timestep_sampling must be uniform or logit_normal (with timestep_logit_std > 0), got "
                             f"{cfg.timestep_sampling!r} (std {cfg.timestep_logit_std})")
        if cfg.timestep_spacing not in ("trailing", "meta"):
            raise InputError(f"timestep_spacing must be trailing or meta, got {cfg.timestep_spacing!r}")
        if cfg.tower == "one_tower" and (cfg.adaln_latest_state or cfg.cross_recency_bias):
            raise InputError("adaln_latest_state and cross_recency_bias are Two-Tower options; set diffusion.tower: "
                             "two_tower or turn them off")
        if cfg.ffn_multiple_of < 1:
            raise InputError(f"ffn_multiple_of must be >= 1, got {cfg.ffn_multiple_of}")
        self.cfg, self.concept_dim = cfg, concept_dim
        self.schedule = NoiseSchedule.from_config(cfg)
        if cfg.tower == "two_tower":
            from .two_tower import TwoTowerDenoiser as Tower
        else:
            from .one_tower import OneTowerDenoiser as Tower
        self.denoiser = Tower(cfg, d_model, concept_dim)
        self.register_load_state_dict_pre_hook(_upgrade_legacy)  # weights exported before Meta's layout still load

    def prepare(self, concepts: torch.Tensor) -> None:
        """Nothing to fit for a diffusion head."""
        return None

    def loss(self, hidden: torch.Tensor, target: torch.Tensor, mask: torch.Tensor):
        """hidden (B, T, d_model), target (B, T, D) = next concepts, mask (B, T) -> (scalar loss, metrics)."""
        B, T, D = target.shape
        # Eval: a fixed generator, so validation losses are comparable between evaluations.
        gen = None if self.training else torch.Generator(device=target.device).manual_seed(0)
        t = self.sample_timesteps((B, T), target.device, gen)  # (B, T)
        noise = torch.randn(target.shape, device=target.device, dtype=target.dtype, generator=gen)  # (B, T, D)
        x_t = self.schedule.add_noise(target, noise, t)  # (B, T, D)
        context = self.denoiser.context(hidden)  # (B, K, d)
        query_pos = torch.arange(T, device=target.device).expand(B, T)  # (B, T)
        visible = self.denoiser.visible(query_pos, context.shape[1])  # (B, T, K)
        if self.training and self.cfg.cond_dropout > 0:
            drop = torch.rand(B, T, device=target.device) < self.cfg.cond_dropout  # (B, T)
            visible = torch.where(drop[..., None], self.denoiser.null_visible(visible), visible)
        pred = self.denoiser(x_t, t, context, visible, query_pos)  # (B, T, D)
        err = (pred.float() - self.schedule.target(target, noise, t).float()).pow(2).sum(-1)  # (B, T)
        loss = err[mask].mean() if mask.any() else err.sum() * 0
        return loss, {"diffusion_loss": float(loss.detach())}

    def sample_timesteps(self, shape, device, generator=None) -> torch.Tensor:
        """Training timesteps: uniform over [0, T) (Meta), or logit-normal, t = floor(T * sigmoid(N(mean, std)))
        (Esser et al. 2024, sec. 3.1), which with mean > 0 favours high noise and so the context path."""
        T = self.schedule.num_train_timesteps
        if self.cfg.timestep_sampling == "uniform":
            return torch.randint(0, T, shape, device=device, generator=generator)
        logit = torch.randn(shape, device=device, generator=generator)
        u = torch.sigmoid(self.cfg.timestep_logit_mean + self.cfg.timestep_logit_std * logit)
        return (u * T).long().clamp(0, T - 1)

    @torch.no_grad()
    def sample(self, hidden: torch.Tensor, mask: torch.Tensor, *, generator=None, callback=None, **opts):
        """Next concept after each row's last valid position: hidden (B, T, d_model), mask (B, T) -> (B, D).

        opts: sampler, steps, guidance_scale, guidance_rescale, sigma_init, eps_scale, eps_scaling, eta,
        timestep_spacing (DiffusionSampleConfig).
        """
        o = parse_sample_options(opts)
        if o.steps > self.schedule.num_train_timesteps:
            raise InputError(f"steps={o.steps} exceeds the {self.schedule.num_train_timesteps} training timesteps; "
                             "use fewer steps")
        last = mask.long().sum(1) - 1  # (B,)
        if (last < 0).any():
            raise InputError("every row of the context needs at least one valid concept")
        context = self.denoiser.context(hidden)  # (B, K, d)
        query_pos = last[:, None]  # (B, 1)
        visible = self.denoiser.visible(query_pos, context.shape[1])  # (B, 1, K)
        cond = (context, visible, query_pos)

        def denoise(x, t, cond):  # x (B', D), t scalar timestep
            context, visible, query_pos = cond
            tt = torch.as_tensor(t, device=x.device, dtype=torch.float32).expand(x.shape[0], 1)  # (B', 1)
            x = x[:, None].to(context.dtype)  # (B', 1, D)
            return self.denoiser(x, tt, context, visible, query_pos)[:, 0].float()  # (B', D)

        fn = wrap_denoiser(denoise, self.schedule, o, (context, self.denoiser.null_visible(visible), query_pos))
        # The sampling state stays float32 whatever the model's precision (schedulers' sums are precision-sensitive).
        x = o.sigma_init * torch.randn(hidden.shape[0], self.concept_dim, generator=generator, device=hidden.device)
        extra = sampler_kwargs(o, o.timestep_spacing or self.cfg.timestep_spacing)
        return get_sampler(o.sampler)(fn, x, self.schedule, o.steps, cond=cond, generator=generator,
                                      callback=callback, **extra)
