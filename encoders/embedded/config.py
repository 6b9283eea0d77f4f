"""Config dataclasses of the embedded codec, and the YAML recipe loader that maps onto them one-to-one."""

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path

from encoders.errors import InputError

# The languages our decoder is trained to write (ISO 639-1, as parallel.jsonl keys them). USE covers all of them;
# Hungarian is in the corpus but not in USE, so it is left out.
DEFAULT_LANGS = ["en", "fr", "de", "es", "zh", "it", "pt", "ru", "ja"]
# The languages USE multilingual v3 was trained on (its encoder accepts these).
USE_LANGS = ["ar", "de", "en", "es", "fr", "it", "ja", "ko", "nl", "pl", "pt", "ru", "th", "tr", "zh"]


@dataclass
class DecoderConfig:
    """A GPT-style causal decoder conditioned on one concept vector and a target-language token."""

    concept_dim: int = 512  # size of the input concept (USE multilingual v3: 512)
    d_model: int = 512  # width of the transformer
    n_layers: int = 6  # causal transformer blocks
    n_heads: int = 8  # attention heads (head size = d_model / n_heads)
    ffn_hidden: int = 1408  # SwiGLU hidden size
    n_prefix: int = 4  # k: the concept becomes k prefix embeddings (Linear concept_dim -> k * d_model)
    vocab_size: int = 16384  # tokenizer vocabulary incl. special and language tokens (set from the tokenizer)
    max_len: int = 128  # longest target, in tokens (EOS included); longer targets are cut
    rope_theta: float = 10000.0  # RoPE base
    dropout: float = 0.1  # dropout on attention and FFN outputs during training


@dataclass
class DataConfig:
    """Where the training sentences come from and how they become (vector, target) examples."""

    parallel: str = "~/.cache/lcm-toolkit/corpora/parallel.jsonl"  # parallel.jsonl(.gz) from `python -m lcm.data.corpora fetch`
    langs: list[str] = field(default_factory=lambda: list(DEFAULT_LANGS))  # languages to encode from and decode into
    max_units: int = 0  # keep at most this many training units (0 = all); small values make quick runs
    vocab_size: int = 16384  # BPE vocabulary incl. special tokens (tokenizer training)
    encode_workers: int = 0  # processes encoding with USE (0 = all CPU cores)
    auto_encode_prob: float = 0.3  # chance that an example decodes into the source's own language
    noise_max: float = 0.2  # input noise: a random vector of norm U(0, noise_max) is added to the unit concept


@dataclass
class TrainConfig:
    """AdamW + warmup/cosine, stopped by a wall-clock budget, checkpointed atomically, resumable."""

    work_dir: str = "runs/codec_embedded"  # tokenizer, cached USE vectors (.npy), checkpoint and log
    export_dir: str = "runs/codec_embedded/export"  # fp16 safetensors + tokenizer.json + config.json go here
    init_from: str = ""  # a weights dir (e.g. encoders/embedded/weights) to start from when no checkpoint exists
    resume: bool = True  # continue from work_dir/checkpoint.pt when it exists
    max_minutes: float = 20.0  # wall-clock training budget (summed over resumed runs); the schedule follows it
    max_steps: int = 0  # also stop after this many optimizer steps (0 = no step limit)
    batch_size: int = 256  # examples per optimizer step
    lr: float = 1e-3  # peak learning rate
    min_lr_ratio: float = 0.05  # cosine decays to lr * min_lr_ratio
    warmup_steps: int = 300  # linear warmup
    weight_decay: float = 0.05  # AdamW weight decay (matrices only)
    grad_clip: float = 1.0  # max gradient norm
    checkpoint_minutes: float = 3.0  # save a checkpoint + export this often
    log_every: int = 50  # steps between log lines
    valid_examples: int = 2048  # held-out (valid split) examples for the validation loss
    device: str = "auto"  # auto | cpu | cuda
    seed: int = 0  # seeds data order, noise and initialisation


@dataclass
class CodecRecipe:
    """Everything `python -m encoders.embedded.train` needs: one YAML section per dataclass."""

    model: DecoderConfig = field(default_factory=DecoderConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def _coerce(value, kind, where: str):
    """Turn a YAML/CLI value into the field's type, or raise InputError naming the field."""
    import yaml

    origin = typing.get_origin(kind)
    if isinstance(value, str) and kind is not str:
        value = yaml.safe_load(value)  # CLI overrides arrive as text: 'true', '3', '[en, fr]'
    try:
        if kind is bool:
            if not isinstance(value, bool):
                raise TypeError
            return value
        if kind in (int, float, str):
            if kind is int and isinstance(value, float) and not value.is_integer():
                raise TypeError
            return kind(value)
        if origin is list:
            (item,) = typing.get_args(kind)
            return [_coerce(v, item, where) for v in value]
    except (TypeError, ValueError):
        pass
    raise InputError(f"{where}: {value!r} is not a valid {getattr(kind, '__name__', kind)}; fix the recipe or override")


def _fill(cls, values: dict, where: str):
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InputError(f"unknown key(s) {unknown} in {where or 'recipe'}; valid keys: {sorted(known)}")
    kwargs = {}
    for name, value in values.items():
        path = f"{where}.{name}" if where else name
        if dataclasses.is_dataclass(hints[name]):
            if not isinstance(value, dict):
                raise InputError(f"{path} must be a mapping of its fields")
            kwargs[name] = _fill(hints[name], value, path)
        else:
            kwargs[name] = _coerce(value, hints[name], path)
    return cls(**kwargs)


def load_recipe(path: "str | Path | None", overrides: "list[str] | None" = None) -> CodecRecipe:
    """Read a YAML recipe (or the defaults when path is None) and apply `section.key=value` overrides."""
    import yaml

    raw: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise InputError(f"recipe {str(path)!r} not found; pass an existing YAML file such as recipes/codec_embedded.yaml")
        raw = yaml.safe_load(path.read_text()) or {}
        if not isinstance(raw, dict):
            raise InputError(f"recipe {str(path)!r} must be a mapping of sections (model, data, train)")
    for item in overrides or []:
        if "=" not in item:
            raise InputError(f"override {item!r} must look like section.key=value")
        dotted, value = item.split("=", 1)
        parts = dotted.strip().split(".")
        node = raw
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise InputError(f"override {item!r}: {part!r} is not a section")
        node[parts[-1]] = value
    return _fill(CodecRecipe, raw, "")


def recipe_to_dict(recipe: CodecRecipe) -> dict:
    return dataclasses.asdict(recipe)
