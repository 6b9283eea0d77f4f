"""Robust per-dimension concept normalizer, fitted on training shards and saved inside the model."""

import torch
from torch import nn

from encoders.errors import InputError

# For a Gaussian, IQR = 1.349 sigma, so 0.7413 * IQR estimates sigma robustly (Meta's large_concept_model calls this
# normalizer `gaussian_robust`). Meta's fits sklearn's RobustScaler(quantile_range=(0.25, 0.75)); sklearn reads that
# range in PERCENT, so Meta's scale is the 0.25%-0.75% percentile spread, not the IQR. We use the true IQR, the
# documented intent; Meta's per-dimension quantile clipping (`clip_proba`) is offered as `quantile_clip`.
GAUSSIAN_IQR_SCALE = 0.7413


class Normalizer(nn.Module):
    """x -> (x - center) / scale, optionally clipped. Buffers are saved with the model's weights."""

    def __init__(self, dim: int, method: str = "gaussian_robust", clip: float = 0.0, quantile_clip: float = 0.0):
        super().__init__()
        if method not in ("gaussian_robust", "robust", "standard"):
            raise InputError(f"unknown normalizer method {method!r}; use gaussian_robust, robust or standard")
        if not 0 <= quantile_clip < 0.5:
            raise InputError(f"normalizer.quantile_clip must be in [0, 0.5), got {quantile_clip}")
        self.method, self.clip, self.quantile_clip = method, clip, quantile_clip
        if quantile_clip > 0:  # raw-space bounds per dimension; only models that use them carry them
            self.register_buffer("clip_low", torch.full((dim,), -torch.inf))
            self.register_buffer("clip_high", torch.full((dim,), torch.inf))
        self.register_buffer("center", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(dim))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def fit(self, concepts: torch.Tensor) -> None:
        """Fit center/scale on (N, D) raw concepts."""
        x = concepts.float()
        if self.method == "standard":
            center, scale = x.mean(0), x.std(0)
        else:
            q25, center, q75 = torch.quantile(x, torch.tensor([0.25, 0.5, 0.75]), dim=0)
            scale = (q75 - q25) * (GAUSSIAN_IQR_SCALE if self.method == "gaussian_robust" else 1.0)
        # A sparse dimension can have zero IQR: fall back to its std, and a constant one to 1, so nothing explodes.
        scale = torch.where(scale > 1e-6, scale, x.std(0))
        self.center.copy_(center)
        self.scale.copy_(torch.where(scale > 1e-6, scale, torch.ones_like(scale)))
        if self.quantile_clip > 0:
            p = torch.tensor([self.quantile_clip, 1 - self.quantile_clip])
            low, high = torch.quantile(x, p, dim=0)  # (D,) each
            self.clip_low.copy_(low)
            self.clip_high.copy_(high)
        self.fitted.fill_(True)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        if self.quantile_clip > 0:
            x = torch.maximum(torch.minimum(x, self.clip_high), self.clip_low)  # (..., D), raw space
        y = (x - self.center) / self.scale  # (..., D)
        return y.clamp(-self.clip, self.clip) if self.clip > 0 else y

    def denormalize(self, y: torch.Tensor) -> torch.Tensor:
        x = y * self.scale + self.center  # (..., D)
        if self.quantile_clip > 0:
            x = torch.maximum(torch.minimum(x, self.clip_high), self.clip_low)
        return x
