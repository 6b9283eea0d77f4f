"""Config dataclasses of the embedded codec; recipes map onto them one-to-one (encoders.shared.recipes reads them)."""

from dataclasses import dataclass, field
from pathlib import Path

from encoders.shared import recipes

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
    resume: bool = True  # continue from work_dir/checkpoint/ when it exists
    max_minutes: float = 20.0  # wall-clock training budget (summed over resumed runs); the schedule follows it
    max_steps: int = 0  # also stop after this many optimizer steps (0 = no step limit)
    batch_size: int = 256  # examples per optimizer step
    lr: float = 1e-3  # peak learning rate
    min_lr_ratio: float = 0.05  # cosine decays to lr * min_lr_ratio
    warmup_steps: int = 300  # linear warmup
    weight_decay: float = 0.05  # AdamW weight decay (matrices only)
    betas: tuple[float, float] = (0.9, 0.98)  # AdamW betas
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


def load_recipe(path: "str | Path | None", overrides: "list[str] | None" = None) -> CodecRecipe:
    """Read a YAML recipe (or the defaults when path is None) and apply `section.key=value` overrides."""
    return recipes.load_recipe(CodecRecipe, path, overrides or [],
                               hint="pass an existing YAML file such as recipes/codec_embedded.yaml")
