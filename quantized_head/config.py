"""Configs of the quantized next-concept head (Quant-LCM-d / Quant-LCM-c): one for the model and its training (the
recipe's `quantized:` section), one for decoding (keyword arguments of `head.sample`). Imports only dataclasses, so
it is cheap."""

from dataclasses import dataclass
from typing import ClassVar


@dataclass
class QuantizedHeadConfig:
    """Residual VQ of concepts + a per-codebook predictor (LCM paper, section 2.5). Paper scale: 64 x 8192."""

    # Keys a fine-tune (train.init_from) may change: regularisation and the quantizer's fitting options (a fine-tune
    # keeps the pretrained codebooks instead of refitting them). Every other key shapes the network.
    FINE_TUNE_FREE: ClassVar[tuple[str, ...]] = ("quantizer_path", "kmeans_init", "kmeans_epochs", "kmeans_lloyd_iters",
                                                 "kmeans_batch_size", "fit_seed", "dropout", "cond_dropout")

    variant: str = "discrete"  # discrete (Quant-LCM-d: softmax over units) | continuous (Quant-LCM-c: regress residuals)
    num_codebooks: int = 8  # K: residual stages, coarse to fine
    codebook_size: int = 256  # V: units per codebook
    quantizer_path: str = ""  # optional pre-fitted quantizer (.safetensors from ResidualVQ.save); else fitted in prepare()
    kmeans_init: str = "kmeans++"  # kmeans++ | random: how each codebook is seeded (kmeans++ costs ~32*V^2*D per stage)
    kmeans_epochs: int = 4  # mini-batch k-means passes over the fitting concepts, per codebook
    kmeans_lloyd_iters: int = 1  # exact (chunked) Lloyd refinements after the mini-batch passes, per codebook
    kmeans_batch_size: int = 4096  # concepts per mini-batch k-means update
    fit_seed: int = 0  # seeds the codebook fitting
    hidden_dim: int = 512  # width of the code predictor MLP
    num_layers: int = 2  # residual MLP blocks of the code predictor
    dropout: float = 0.0  # dropout inside the code predictor during training
    cond_dropout: float = 0.1  # probability of dropping the backbone state in training (gives CFG an unconditional pass)


@dataclass
class QuantizedSampleConfig:
    """Decoding options of the quantized head; the defaults sample plainly (no temperature, top-k or guidance)."""

    guidance_scale: float = 1.0  # classifier-free guidance scale; 1 = no guidance, 0 = unconditional
    top_k: "int | None" = None  # keep the k most likely units per codebook; None = all
    temperature: float = 1.0  # discrete: softmax temperature; 0 = greedy
    mode: str = "nearest"  # continuous: nearest (the unit closest to the predicted residual) | sample
    beta: float = 1.0  # continuous, mode=sample: inverse temperature of p ~ exp(-beta * ||c - r||)


DISCRETE_OPTIONS = ("temperature", "top_k", "guidance_scale")  # the QuantizedSampleConfig fields each variant takes
CONTINUOUS_OPTIONS = ("mode", "beta", "top_k", "guidance_scale")
