"""The concept model: normalizer -> PreNet -> causal backbone -> head, and `build_model` from a recipe.

The backbone maps (concepts, mask) -> hidden; a head (lcm.model.heads) turns hidden into a loss or the next concept.
"""

import math

import torch
from torch import nn

from lcm.config import ModelConfig, RecipeConfig
from lcm.model.backbone import Backbone
from lcm.model.normalizer import Normalizer


class ConceptModel(nn.Module):
    """Normalizer + PreNet + Backbone + PostNet/head. Works in normalized concept space internally."""

    def __init__(self, cfg: ModelConfig, head: nn.Module, normalizer: Normalizer):
        super().__init__()
        self.cfg = cfg
        self.normalizer = normalizer
        self.prenet = nn.Linear(cfg.concept_dim, cfg.d_model)
        self.backbone = Backbone(cfg)
        self.head = head
        # The codec's end-of-text concept (raw space); generation stops near it. Zero until data provides one.
        self.register_buffer("eot_concept", torch.zeros(cfg.concept_dim))
        self.prenet.apply(_init_weights)  # heads own their initialisation (e.g. zero-init AdaLN)
        self.backbone.apply(_init_weights)

    def hidden(self, concepts, valid, positions=None, cache=None):
        """Raw concepts (B, T, D) -> hidden (B, T, d). `valid` covers cache + new positions (B, S)."""
        if positions is None:
            positions = (valid.long().cumsum(1) - 1).clamp_min(0)[:, -concepts.shape[1]:]  # (B, T)
        x = self.prenet(self.normalizer.normalize(concepts))  # (B, T, d)
        return self.backbone(x, valid, positions, cache)

    def forward(self, concepts, valid, targets=None):
        """Next-concept loss on a right-padded batch: concepts (B, T, D), valid (B, T) -> (loss, metrics).

        `targets` (B, T), optional, restricts the loss to the positions it marks (e.g. a summary after its document);
        the other valid positions are still read as context.
        """
        hidden, _ = self.hidden(concepts[:, :-1], valid[:, :-1])  # (B, T-1, d)
        target = self.normalizer.normalize(concepts[:, 1:])  # (B, T-1, D)
        mask = valid[:, 1:] & valid[:, :-1]  # (B, T-1)
        return self.head.loss(hidden, target, mask if targets is None else mask & targets[:, 1:])

    loss = forward

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, std=1.0 / math.sqrt(module.in_features))
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def build_model(recipe: RecipeConfig) -> ConceptModel:
    """A freshly initialised model for `recipe`: its normalizer, backbone and the head named by recipe.model.head."""
    from lcm.model.heads import build_head

    norm = Normalizer(recipe.model.concept_dim, recipe.normalizer.method, recipe.normalizer.clip,
                      recipe.normalizer.quantile_clip)
    return ConceptModel(recipe.model, build_head(recipe), norm)
