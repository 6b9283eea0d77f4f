"""Recipes: YAML files that map one-to-one onto these dataclasses, with dotted command-line overrides.

A section's FINE_TUNE_FREE lists the keys that do not shape its network (regularisation, the training window, fitting
options), so a fine-tune (train.init_from) may change them; the head sections declare theirs in their own packages.
"""

import dataclasses
import os
import typing
from dataclasses import dataclass, field
from typing import ClassVar
from pathlib import Path

from diffusion_head.config import RENAMED_KEYS as DIFFUSION_RENAMED, DiffusionHeadConfig
from encoders.errors import InputError
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


def _coerce(value, target_type, where: str):
    """Convert a YAML/CLI value to the dataclass field's type, or raise InputError naming the key."""
    origin = typing.get_origin(target_type)
    try:
        if target_type is bool:
            if isinstance(value, str):
                if value.lower() in ("true", "1", "yes"):
                    return True
                if value.lower() in ("false", "0", "no"):
                    return False
                raise ValueError(value)
            return bool(value)
        if target_type in (int, float, str):
            if target_type is int and isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return target_type(value)
        if origin is tuple:
            items = value.split(",") if isinstance(value, str) else list(value)
            return tuple(_coerce(v, t, where) for v, t in zip(items, typing.get_args(target_type), strict=True))
    except (TypeError, ValueError):
        raise InputError(f"recipe key {where!r}: cannot use {value!r} as {getattr(target_type, '__name__', target_type)}") from None
    return value


def from_dict(cls, data: dict, prefix: str = ""):
    """Build dataclass `cls` from a nested dict; an unknown key is an InputError that lists the valid ones."""
    if not isinstance(data, dict):
        raise InputError(f"recipe section {prefix.rstrip('.') or '<top>'!r} must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        if key not in names and cls is DiffusionHeadConfig and key in DIFFUSION_RENAMED:
            raise InputError(f"recipe key {prefix + key!r} was renamed: use {prefix + DIFFUSION_RENAMED[key]!r}")
        if key not in names:
            raise InputError(f"unknown recipe key {prefix + key!r}; valid keys here: {', '.join(sorted(names))}")
        if dataclasses.is_dataclass(hints[key]):
            kwargs[key] = from_dict(hints[key], value or {}, prefix + key + ".")
        else:
            kwargs[key] = _coerce(value, hints[key], prefix + key)
    return cls(**kwargs)


def upgrade_exported_recipe(data: dict) -> dict:
    """The recipe of a model exported by an older version, in today's keys and with the sizes it was built with:
    renamed keys take their new names; fields absent then take the values those models were built with (SwiGLU
    rounding 8 in the backbone and 1 in the denoiser, a context projection, an AdaLN final layer)."""
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    diffusion, model = data.setdefault("diffusion", {}), data.setdefault("model", {})
    for old, new in DIFFUSION_RENAMED.items():
        if old in diffusion:
            diffusion.setdefault(new, diffusion.pop(old))
    for key, then in (("ffn_multiple_of", 1), ("context_projection", True), ("final_adaln", True)):
        diffusion.setdefault(key, then)
    model.setdefault("ffn_multiple_of", 8)
    return data


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply `section.key=value` overrides (values parsed as YAML scalars) to a nested dict."""
    import yaml

    for item in overrides:
        if "=" not in item:
            raise InputError(f"override {item!r} must look like section.key=value, e.g. train.steps=100")
        dotted, raw = item.split("=", 1)
        node = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise InputError(f"override {item!r}: {part!r} is not a section")
        node[leaf] = yaml.safe_load(raw) if raw else ""
    return data


def load_recipe(path: "str | os.PathLike", overrides: list[str] = ()) -> RecipeConfig:
    """Read a YAML recipe, apply dotted overrides, and return a validated RecipeConfig."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise InputError(f"recipe {str(path)!r} not found; shipped recipes are in the recipes/ folder")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise InputError(f"recipe {str(path)!r} is not valid YAML: {err}") from None
    return from_dict(RecipeConfig, apply_overrides(data, list(overrides)))


def to_dict(config) -> dict:
    """Dataclass -> plain nested dict (tuples become lists), for JSON next to checkpoints."""
    return dataclasses.asdict(config)
