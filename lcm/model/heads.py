"""Next-concept heads. The trainer and generator see only this protocol and never branch on the head type.

- `loss(hidden (B,T,d), target (B,T,D), mask (B,T)) -> (loss, metrics)`: target[:, t] is the normalized x[t+1].
- `sample(hidden (B,T,d), mask (B,T), *, generator=None, **opts) -> (B, D)`: rows right-padded; predicts the concept
  after each row's last valid position, in normalized space.
- `prepare(concepts (N, D))`: called once before training with normalized training concepts (e.g. to fit a quantizer).
A head's recipe section (its config dataclass) lists in FINE_TUNE_FREE the keys a fine-tune may change; the trainer
asks it (lcm.training.finetune) instead of knowing any head's keys.
"""

import torch
from torch import nn

from encoders.errors import InputError
from lcm.config import RecipeConfig


def last_valid(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, T, d), (B, T) right-padded -> (B, d) at each row's last valid position."""
    index = (mask.long().sum(1) - 1).clamp_min(0)  # (B,)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), index]


class MSEHead(nn.Module):
    """Base-LCM: a PostNet regresses the next concept with mean squared error (LCM paper, section 2.3.1)."""

    def __init__(self, d_model: int, concept_dim: int):
        super().__init__()
        self.postnet = nn.Linear(d_model, concept_dim)

    def prepare(self, concepts: torch.Tensor) -> None:
        pass

    def loss(self, hidden, target, mask):
        pred = self.postnet(hidden)  # (B, T, D)
        err = (pred.float() - target.float()).pow(2).sum(-1)[mask]  # (N,)
        loss = err.mean()
        return loss, {"mse": loss.item()}

    @torch.no_grad()
    def sample(self, hidden, mask, *, generator=None, **opts):
        if opts:
            raise InputError(f"the MSE head takes no decoding options, got {sorted(opts)}; drop them or use a diffusion/quantized model")
        return self.postnet(last_valid(hidden, mask))  # (B, D)


def build_head(recipe: RecipeConfig) -> nn.Module:
    """The head named by `recipe.model.head`, built from its own config section."""
    cfg = recipe.model
    if cfg.head == "mse":
        return MSEHead(cfg.d_model, cfg.concept_dim)
    if cfg.head == "diffusion":  # One-Tower or Two-Tower: chosen in the `diffusion` section
        import diffusion_head

        return diffusion_head.build_head(recipe.diffusion, cfg.d_model, cfg.concept_dim)
    if cfg.head == "quantized":  # Quant-LCM-d or -c: chosen in the `quantized` section
        import quantized_head

        return quantized_head.build_head(recipe.quantized, cfg.d_model, cfg.concept_dim)
    raise InputError(f"unknown head {cfg.head!r}; use mse, diffusion or quantized")
