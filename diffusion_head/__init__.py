"""Diffusion next-concept head for the LCM: noise schedules, Two-/One-Tower denoisers, samplers, guidance.

`build_head(cfg, d_model, concept_dim)` is the constructor the LCM trainer calls (see `head.py` for the protocol).
`plan.py` adds parallel plan diffusion, which denoises a block of future concepts jointly. The package never imports
`lcm`: what it needs of the concept model (`hidden`, `head`, `normalizer`) is passed in.
"""

from .config import DiffusionHeadConfig, DiffusionSampleConfig


def build_head(cfg: DiffusionHeadConfig, d_model: int, concept_dim: int):
    """The diffusion head for backbone width d_model and concept size concept_dim."""
    from .head import DiffusionHead

    return DiffusionHead(cfg, d_model, concept_dim)


__all__ = ["DiffusionHeadConfig", "DiffusionSampleConfig", "build_head"]
