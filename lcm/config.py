"""Recipes: YAML files that map one-to-one onto these dataclasses, with dotted command-line overrides (read by the
loader the codec recipes share, encoders.shared.recipes).

A section's FINE_TUNE_FREE lists the keys that do not shape its network (regularisation, the training window, fitting
options), so a fine-tune (train.init_from) may change them; the head sections declare theirs in their own packages.
"""

import os
from dataclasses import dataclass, field
from typing import ClassVar

from diffusion_head.config import DiffusionHeadConfig
from encoders.shared import recipes
from quantized_head.config import QuantizedHeadConfig


@dataclass
class SlurmConfig:
    """Cluster resources for one training job (the recipe's `train.resources` section)."""

    nodes: int = 1  # machines in the allocation; torchrun runs once per node
    gpus_per_node: int = 8  # processes per node (one per GPU); 0 = CPU-only job with cpu_procs_per_node processes
    cpu_procs_per_node: int = 1  # processes per node when gpus_per_node is 0
    cpus_per_task: int = 32  # CPU cores for each node's torchrun (data loading, tokenising)
    mem: str = "0"  # memory per node, SLURM syntax (0 = all of the node's memory)
    time: str = "24:00:00"  # wall-clock limit, [D-]HH:MM:SS
    partition: str = ""  # SLURM partition (empty: the cluster default)
    account: str = ""  # account to charge (empty: the user default)
    qos: str = ""  # quality of service (empty: default)
    constraint: str = ""  # node features, e.g. a100 (empty: any)
    job_name: str = "lcm-train"  # shows in squeue
    log_dir: str = "slurm_logs"  # stdout/stderr of the job: LOG_DIR/JOB_NAME-JOBID.out
    port: int = 29500  # rendezvous port on the first node
    requeue: bool = True  # let SLURM requeue the job after preemption (training resumes from its checkpoint)
    setup: str = ""  # shell lines run before training, e.g. `source .venv/bin/activate` (newline-separated)


@dataclass
class ModelConfig:
    """The concept transformer: PreNet -> causal backbone -> head."""

    FINE_TUNE_FREE: ClassVar[tuple[str, ...]] = ("dropout", "max_len")  # keys train.init_from may change

    concept_dim: int = 512  # D: size of one concept vector; must equal the codec's dim
    d_model: int = 256  # d: width of the backbone
    n_layers: int = 4  # causal transformer layers (0 = PreNet only, as One-Tower uses)
    n_heads: int = 4  # attention heads
    ffn_mult: float = 4.0  # SwiGLU hidden size = 2/3 * ffn_mult * d_model, rounded up to ffn_multiple_of
    ffn_multiple_of: int = 8  # SwiGLU hidden rounding (the paper presets use Meta's 256: hidden 5632 at d 2048)
    dropout: float = 0.1  # dropout on attention and FFN outputs during training
    max_len: int = 256  # longest concept sequence the model is trained on
    rope_theta: float = 10000.0  # RoPE base
    head: str = "mse"  # next-concept head: mse | diffusion | quantized (variants live in their own sections)


@dataclass
class NormalizerConfig:
    """Robust per-dimension normalizer applied to concepts before the model (Meta's large_concept_model: gaussian_robust)."""

    FINE_TUNE_FREE: ClassVar[tuple[str, ...]] = ("fit_samples",)  # a fine-tune keeps the pretrained normalizer

    method: str = "gaussian_robust"  # gaussian_robust (median, 0.7413*IQR) | robust (median, IQR) | standard (mean, std)
    clip: float = 0.0  # clip normalized values to [-clip, clip]; 0 disables
    quantile_clip: float = 0.0  # p > 0: clamp raw concepts to their per-dim [p, 1-p] quantiles (Meta's clip_proba)
    fit_samples: int = 100_000  # number of training concepts the normalizer is fitted on


@dataclass
class DataConfig:
    """Where training concepts come from and how they are batched."""

    train: str = ""  # parquet shard file, directory or glob (from `lcm encode`)
    valid: str = ""  # optional held-out shards for validation loss
    concepts_per_batch: int = 2048  # batch budget: documents are packed until this many concepts
    append_eot: bool = True  # append the codec's end-of-text concept to every document
    shuffle: bool = True  # shuffle documents each epoch (seeded)
    prefetch: int = 2  # batches read and padded ahead in a background thread (0 = read inside the training loop)
    credit: str = ""  # where the training data comes from and its licence (kept in the exported model's config.json)


@dataclass
class TrainConfig:
    """One readable training loop: AdamW, warmup + cosine, clipping, checkpoints."""

    out_dir: str = "runs/lcm"  # checkpoints, loss log and the exported model go here
    init_from: str = ""  # fine-tune: start from this exported model's weights (same architecture; fresh optimizer)
    steps: int = 1000  # optimizer steps
    lr: float = 4e-4  # peak learning rate
    min_lr_ratio: float = 0.1  # cosine decays to lr * min_lr_ratio
    warmup_steps: int = 100  # linear warmup
    weight_decay: float = 0.1  # AdamW weight decay
    betas: tuple[float, float] = (0.9, 0.98)  # AdamW betas
    grad_clip: float = 1.0  # max gradient norm (0 disables)
    precision: str = "fp32"  # fp32 | bf16 (autocast)
    seed: int = 0  # seeds data order and initialisation
    checkpoint_every: int = 200  # steps between checkpoints
    keep_checkpoints: int = 2  # older checkpoints are deleted
    log_every: int = 10  # steps between loss-log lines
    eval_every: int = 0  # steps between validation passes (0 = only at the end)
    max_minutes: float = 0.0  # stop (and checkpoint) after this wall time; 0 = no limit
    device: str = "auto"  # auto | cpu | cuda
    export_dtype: str = "fp32"  # fp32 | fp16: matrices of the exported model (shipped models use fp16 to stay small)
    strategy: str = "auto"  # under torchrun: auto (= ddp) | ddp | fsdp (FSDP2: shard params/grads/optimizer) | none
    grad_accum: int = 1  # micro-batches per optimizer step (the global batch is their union over steps and ranks)
    activation_checkpointing: bool = False  # recompute each layer's activations in backward (less memory, ~30% slower)
    data_split: str = "shards"  # under torchrun: shards (rank r reads shard files r::N) | rows (same global batch as 1 process)
    resources: SlurmConfig = field(default_factory=SlurmConfig)  # cluster resources for `python -m lcm.training.slurm`


@dataclass
class RecipeConfig:
    """A whole training recipe; each YAML section maps onto one dataclass below."""

    codec: str = "embedded"  # codec the concepts were made with (checked against the shards)
    model: ModelConfig = field(default_factory=ModelConfig)
    normalizer: NormalizerConfig = field(default_factory=NormalizerConfig)
    diffusion: DiffusionHeadConfig = field(default_factory=DiffusionHeadConfig)
    quantized: QuantizedHeadConfig = field(default_factory=QuantizedHeadConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def load_recipe(path: "str | os.PathLike", overrides: "list[str]" = ()) -> RecipeConfig:
    """Read a YAML recipe, apply dotted overrides, and return a validated RecipeConfig (encoders.shared.recipes)."""
    return recipes.load_recipe(RecipeConfig, path, overrides)
