"""Quantized next-concept heads: residual VQ of concepts + Quant-LCM-d (discrete) / Quant-LCM-c (continuous)."""

from quantized_head.config import QuantizedHeadConfig, QuantizedSampleConfig
from quantized_head.heads import QuantizedHead
from quantized_head.rvq import ResidualVQ

__all__ = ["QuantizedHeadConfig", "QuantizedHead", "QuantizedSampleConfig", "ResidualVQ", "build_head"]


def build_head(cfg: QuantizedHeadConfig, d_model: int, concept_dim: int) -> QuantizedHead:
    """The head protocol's constructor: Quant-LCM-d or -c as chosen by `cfg.variant`."""
    return QuantizedHead(cfg, d_model, concept_dim)
