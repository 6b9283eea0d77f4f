"""Configs of the diffusion head: one dataclass for the model and its training, one for decoding.

Imports only dataclasses so that `lcm.config` can import it cheaply. The recipe's `diffusion:` section maps onto
DiffusionHeadConfig; decoding options (DiffusionSampleConfig fields) are keyword arguments of `head.sample`.
Defaults follow Meta's release; deliberate deviations are options named for what they do.
"""

from dataclasses import dataclass
from typing import ClassVar

# Recipe keys that were renamed: an old recipe stops with an error naming the new key (exported models are upgraded).
RENAMED_KEYS = {"cfg_dropout": "cond_dropout"}


@dataclass
class DiffusionHeadConfig:
    """The diffusion next-concept head: denoiser tower, noise schedule and training options."""

    FINE_TUNE_FREE: ClassVar[tuple[str, ...]] = ("dropout", "cond_dropout", "timestep_sampling", "timestep_logit_mean",
                                                 "timestep_logit_std", "timestep_spacing")  # keys init_from may change
    RENAMED_KEYS: ClassVar[dict[str, str]] = RENAMED_KEYS  # old key -> new (the recipe loader names the new one)

    tower: str = "two_tower"  # two_tower (cross-attends the backbone) | one_tower (own transformer; backbone 0 layers)
    d_model: int = 512  # width of the denoiser
    n_layers: int = 4  # denoiser layers (the paper's 1.6B Two-Tower uses 13)
    n_heads: int = 8  # attention heads of the denoiser; must divide d_model
    ffn_mult: float = 4.0  # SwiGLU hidden size = ffn_mult * d_model * 2/3, rounded up to ffn_multiple_of
    ffn_multiple_of: int = 8  # SwiGLU hidden rounding (paper presets: Meta's 256; the shipped Two-Tower: 1)
    self_attention: bool = True  # two_tower: Meta's self-attention sublayer (each position attends only to itself)
    kv_bias: bool = True  # bias on the denoiser's key/value projections (Meta): the null key is learnable, not 0
    context_projection: bool = False  # two_tower: Linear + LayerNorm on the context even at equal widths (Meta: none)
    final_adaln: bool = False  # DiT's AdaLN-modulated final norm (Meta: a plain RMSNorm, then the output projection)
    dropout: float = 0.0  # dropout inside the denoiser during training
    timestep_dim: int = 256  # size of the sinusoidal timestep features fed to the timestep MLP (DiT)
    context_vector: str = "zero"  # always-visible vector prepended to the context: zero (paper, Meta's code) | learned
    max_seq_len: int = 512  # one_tower only: learned positions, must cover the longest concept sequence + 1
    adaln_latest_state: bool = False  # two_tower: add the contextualizer's output at the predicted position to AdaLN's c
    cross_recency_bias: bool = False  # two_tower: ALiBi-style -slope * distance on cross-attention logits, slope per head

    schedule: str = "cosine"  # noise schedule: cosine (squaredcos_cap_v2) | quadratic (scaled_linear) | linear | sigmoid
    num_train_timesteps: int = 100  # training timesteps T (paper: 100)
    beta_start: float = 0.0001  # first beta of the quadratic/linear schedules
    beta_end: float = 0.02  # last beta of the quadratic/linear schedules
    sigmoid_gamma: float = 1.5  # sigmoid schedule: alpha_bar(t) = sigmoid(delta - gamma * logit(t)) (paper eq. 14)
    sigmoid_delta: float = 0.0  # sigmoid schedule shift delta
    zero_terminal_snr: bool = True  # rescale to zero terminal SNR (Lin et al. 2024, Alg. 1), as Meta's code does
    prediction_type: str = "sample"  # what the denoiser predicts: sample (x0, paper) | epsilon | v_prediction
    cond_dropout: float = 0.15  # probability of dropping the context in training (classifier-free guidance)
    timestep_sampling: str = "uniform"  # training t: uniform (Meta) | logit_normal (t/T = sigmoid(N(mean, std)))
    timestep_logit_mean: float = 1.0  # logit_normal: mean of the logit; > 0 favours high noise
    timestep_logit_std: float = 1.0  # logit_normal: std of the logit
    timestep_spacing: str = "trailing"  # default sampling timesteps: trailing (diffusers) | meta (integer arange, t-2)


@dataclass
class DiffusionSampleConfig:
    """Decoding options of the diffusion head; the defaults are the paper's inference settings."""

    sampler: str = "ddim"  # ddim (with eta) | dpmpp (DPM-Solver++ 2M) | euler
    steps: int = 40  # denoising steps requested (<= num_train_timesteps; meta spacing runs T // (T // steps) steps)
    guidance_scale: float = 3.0  # classifier-free guidance scale; 1 = no guidance, 0 = unconditional
    guidance_rescale: float = 0.7  # std-ratio rescale of the guided noise (Lin et al. 2024, eq. 15-16); 0 = off
    sigma_init: float = 0.6  # scale of the initial Gaussian noise
    eps_scale: float = 1.00045  # epsilon scaling lambda (Ning et al. 2024): predicted noise is divided by it; 1 = off
    eps_scaling: str = "direction"  # direction (Meta: eps/lambda in DDIM's direction term only) | prediction (x0 too)
    eta: float = 0.0  # DDIM stochasticity (0 = deterministic DDIM, 1 = DDPM-like); ddim only
    timestep_spacing: str = ""  # trailing | meta (ddim only); empty = the recipe's diffusion.timestep_spacing
