"""config.json of an exported model: what loading needs, plus free-form provenance. Plain JSON, no torch.

Format 1 (written since this module exists):

    {"format": 1, "codec": "embedded", "concept_dim": 512,
     "model": {...}, "normalizer": {...}, "diffusion": {...} or "quantized": {...},
     "provenance": {...}}

`model`, `normalizer` and the head's own section (only for model.head diffusion or quantized) hold the architecture:
every field of their recipe dataclass except the ones its FINE_TUNE_FREE lists (dropout, fitting options: they do not
shape the network), with model.max_len kept (the longest context the model was trained on). They are parsed strictly,
since a model cannot be built from a key this version does not know. `provenance` (data and its credit, training
steps and settings, recipe name, measured figures, history) is information for people: loading never parses it.
No machine paths are written: data folders and fine-tuning sources are recorded by name.

Format 0 (exported models from before): {"format": "lcm-toolkit/1", "recipe": {the whole training recipe}, ...}. Its
architecture is taken from the recipe's sections the same way (other keys are ignored, so renaming a training option
never breaks an old model), and everything else becomes provenance.

Both formats are upgraded on reading (upgrade_sections): renamed keys (a dataclass's RENAMED_KEYS, e.g. diffusion
cfg_dropout -> cond_dropout) take their new names, and architecture fields added since a file was written take the
values the models of that time were built with (ADDED_FIELDS). Their weights in the older denoiser layout are
converted when the state dict is loaded (diffusion_head/convert.py).
"""

import json
import os
from pathlib import Path

from encoders.errors import InputError
from encoders.shared.recipes import from_dict, to_dict
from lcm.config import RecipeConfig

FORMAT = 1
LEGACY_FORMAT = "lcm-toolkit/1"  # what format-0 files carry in their "format" field
HEADS_WITH_SECTIONS = ("diffusion", "quantized")  # model.head values whose variant lives in its own recipe section
# fine-tune-free keys an exported model still records: the longest context it was trained on, its default DDIM spacing
KEPT_FREE_KEYS = {"model": ("max_len",), "diffusion": ("timestep_spacing",)}
# Architecture fields added after models were exported without them -> the value those models were built with (a
# section without the key was written before it existed): SwiGLU rounded to 8 in the backbone and to 1 in the
# denoiser, a context projection, a DiT (AdaLN) final layer. Fields whose default is the old behaviour are not listed.
ADDED_FIELDS = {"model": {"ffn_multiple_of": 8},
                "diffusion": {"ffn_multiple_of": 1, "context_projection": True, "final_adaln": True}}


def architecture_sections(recipe: RecipeConfig) -> list[str]:
    """The recipe sections build_model reads: model, normalizer and the head's own section."""
    head = recipe.model.head
    return ["model", "normalizer"] + ([head] if head in HEADS_WITH_SECTIONS else [])


def architecture_keys(section_name: str, section) -> list[str]:
    """The fields of one section's dataclass an exported model records."""
    free = set(getattr(section, "FINE_TUNE_FREE", ())) - set(KEPT_FREE_KEYS.get(section_name, ()))
    return [key for key in to_dict(section) if key not in free]


def upgrade_sections(sections: dict) -> dict:
    """Architecture sections as an older version wrote them, in today's keys and with the sizes they were built with:
    renamed keys take their new names (RENAMED_KEYS of the section's dataclass), absent ADDED_FIELDS their old values."""
    defaults = RecipeConfig()
    out = {name: dict(value) if isinstance(value, dict) else value for name, value in sections.items()}
    for name, section in out.items():
        if not isinstance(section, dict) or not hasattr(defaults, name):
            continue
        for old, new in getattr(type(getattr(defaults, name)), "RENAMED_KEYS", {}).items():
            if old in section:
                value = section.pop(old)
                section.setdefault(new, value)
        for key, then in ADDED_FIELDS.get(name, {}).items():
            section.setdefault(key, then)
    return out


def export_config(recipe: RecipeConfig, provenance: dict) -> dict:
    """The format-1 config.json of a model built from `recipe`."""
    meta = {"format": FORMAT, "codec": recipe.codec, "concept_dim": recipe.model.concept_dim}
    for name in architecture_sections(recipe):
        section = getattr(recipe, name)
        values = to_dict(section)
        meta[name] = {key: values[key] for key in architecture_keys(name, section) if key != "concept_dim"}
    meta["provenance"] = provenance
    return meta


def training_provenance(recipe: RecipeConfig, parameters: int, extra: dict) -> dict:
    """What `lcm train` records about a model it exports: data (folder names, credit), fine-tuning source, the training
    settings (no paths), and `extra` (recipe name, trained steps, figures)."""
    data, train = recipe.data, recipe.train
    provenance = {"parameters": parameters,
                  "data": {"train": _name(data.train), **({"valid": _name(data.valid)} if data.valid else {}),
                           **({"credit": data.credit} if data.credit else {})}}
    if train.init_from:
        provenance["fine_tuned_from"] = _name(train.init_from)
    provenance["training"] = {"steps": train.steps, "lr": train.lr, "min_lr_ratio": train.min_lr_ratio,
                              "warmup_steps": train.warmup_steps, "weight_decay": train.weight_decay,
                              "betas": list(train.betas), "grad_clip": train.grad_clip, "precision": train.precision,
                              "seed": train.seed, "grad_accum": train.grad_accum, "dropout": recipe.model.dropout,
                              "concepts_per_batch": data.concepts_per_batch, "export_dtype": train.export_dtype}
    return {**provenance, **extra}


def _name(path: str) -> str:
    """A data folder, shard glob or model folder as its last component: where it was on the training machine is
    not the model's business."""
    return os.path.basename(os.path.normpath(os.path.expanduser(path))) if path else ""


def parse_config(meta: dict, where: str) -> tuple[RecipeConfig, dict]:
    """(a RecipeConfig with the architecture sections filled, the rest at defaults; the config in format-1 layout,
    with "format" as read: 0 for an old recipe dump). `where` names the file in errors."""
    if not isinstance(meta, dict):
        raise InputError(f"{where} is not a JSON object; re-export the model")
    if meta.get("format") == LEGACY_FORMAT and isinstance(meta.get("recipe"), dict):
        return _parse_format0(meta, where)
    if meta.get("format") != FORMAT:
        raise InputError(f"{where} has format {meta.get('format')!r}; this version of lcm-toolkit reads format "
                         f"{FORMAT} (and the older {LEGACY_FORMAT!r}): upgrade lcm-toolkit or re-export the model")
    missing = [key for key in ("codec", "concept_dim", "model") if key not in meta]
    if missing:
        raise InputError(f"{where} lacks {', '.join(missing)}; re-export the model")
    model = meta["model"]
    if not isinstance(model, dict):
        raise InputError(f"{where}: 'model' must be a mapping; re-export the model")
    sections = {"codec": meta["codec"], "model": {**model, "concept_dim": meta["concept_dim"]},
                "normalizer": meta.get("normalizer", {})}
    head = model.get("head", "mse")
    if head in HEADS_WITH_SECTIONS:
        sections[head] = meta.get(head, {})
    try:
        recipe = from_dict(RecipeConfig, upgrade_sections(sections))
    except InputError as err:
        raise InputError(f"{where}: {err} (a model exported by a newer version of lcm-toolkit?)") from None
    provenance = meta.get("provenance") if isinstance(meta.get("provenance"), dict) else {}
    return recipe, {"format": FORMAT, "codec": recipe.codec, "concept_dim": recipe.model.concept_dim,
                    "provenance": provenance}


def _parse_format0(meta: dict, where: str) -> tuple[RecipeConfig, dict]:
    dump = upgrade_sections(meta["recipe"])
    model = dump.get("model") or {}
    head = model.get("head", "mse")
    names = ["model", "normalizer"] + ([head] if head in HEADS_WITH_SECTIONS else [])
    defaults = RecipeConfig()
    sections = {"codec": dump.get("codec", meta.get("codec", "embedded"))}
    for name in names:
        keep = set(architecture_keys(name, getattr(defaults, name))) | {"concept_dim"}
        sections[name] = {k: v for k, v in (dump.get(name) or {}).items() if k in keep}
    try:
        recipe = from_dict(RecipeConfig, sections)
    except InputError as err:
        raise InputError(f"{where}: {err}; re-export the model") from None
    provenance = {k: v for k, v in meta.items() if k not in ("format", "codec", "concept_dim", "recipe", "valid_loss")}
    if "valid_loss" in meta:
        provenance["figures"] = {"valid_loss": meta["valid_loss"]}
    provenance["recipe"] = meta["recipe"]  # as it was written
    return recipe, {"format": 0, "codec": recipe.codec, "concept_dim": recipe.model.concept_dim,
                    "provenance": provenance}


def read_model_config(path: "str | Path") -> tuple[RecipeConfig, dict]:
    """The architecture (as a RecipeConfig) and the format-1 view of a model folder's config.json."""
    path = Path(path)
    cfg_file = path / "config.json"
    if not cfg_file.is_file():
        raise InputError(f"{str(path)!r} is not a model directory (no config.json); pass a directory written by `lcm train`")
    try:
        meta = json.loads(cfg_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError(f"{str(cfg_file)!r} is truncated or not JSON; re-export the model") from None
    return parse_config(meta, repr(str(cfg_file)))


def read_provenance(path: "str | Path") -> dict:
    """The provenance of a model folder, {} when it has none or cannot be read (for plots and reports)."""
    try:
        return read_model_config(path)[1]["provenance"]
    except InputError:
        return {}
