"""lcm-toolkit: Large Concept Models - sentence-level concept modelling with MSE, diffusion and quantized heads."""

__version__ = "0.1.0"
