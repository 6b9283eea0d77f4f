"""Robust per-dimension concept normalizer, fitted on training shards and saved inside the model."""

import torch
from torch import nn

from encoders.errors import InputError

# For a Gaussian, IQR = 1.349 sigma, so 0.7413 * IQR estimates sigma robustly (Meta's large_concept_model calls this
# normalizer `gaussian_robust`).
GAUSSIAN_IQR_SCALE = 0.7413


class Normalizer(nn.Module):
    """x -> (x - center) / scale, optionally clipped. Buffers are saved with the model's weights."""

    def __init__(self, dim: int, method: str = "gaussian_robust", clip: float = 0.0):
        super().__init__()
        if method not in ("gaussian_robust", "robust", "standard"):
            raise InputError(f"unknown normalizer method {method!r}; use gaussian_robust, robust or standard")
        self.method, self.clip = method, clip
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
        self.fitted.fill_(True)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        y = (x - self.center) / self.scale  # (..., D)
        return y.clamp(-self.clip, self.clip) if self.clip > 0 else y

    def denormalize(self, y: torch.Tensor) -> torch.Tensor:
        return y * self.scale + self.center  # (..., D)
