"""Exported models on disk: safetensors weights + config.json, written atomically (temp dir, then rename)."""

import json
from pathlib import Path

from encoders.errors import InputError
from encoders.shared.atomic import atomic_dir
from encoders.shared.training import load_tensors, save_tensors
from encoders.shared.recipes import from_dict, to_dict
from lcm.config import RecipeConfig
from lcm.model.concept_model import build_model

FORMAT = "lcm-toolkit/1"


def save_model(model, recipe: RecipeConfig, out: "str | Path", extra: "dict | None" = None) -> Path:
    """Export a model for inference: model.safetensors + config.json (recipe, codec, dim)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"format": FORMAT, "codec": recipe.codec, "concept_dim": recipe.model.concept_dim,
            "parameters": model.num_parameters(), "recipe": to_dict(recipe), **(extra or {})}

    half = recipe.train.export_dtype == "fp16"  # matrices only: norms, normalizer and biases stay fp32

    def write(tmp: Path):
        state = {k: v.half() if half and v.is_floating_point() and v.ndim >= 2 else v for k, v in model.state_dict().items()}
        save_tensors(state, tmp / "model.safetensors")
        (tmp / "config.json").write_text(json.dumps(meta, indent=2))

    atomic_dir(out, write)
    return out


def read_model_config(path: "str | Path") -> tuple[RecipeConfig, dict]:
    path = Path(path)
    cfg_file = path / "config.json"
    if not cfg_file.is_file():
        raise InputError(f"{str(path)!r} is not a model directory (no config.json); pass a directory written by `lcm train`")
    try:
        meta = json.loads(cfg_file.read_text())
    except json.JSONDecodeError:
        raise InputError(f"{str(cfg_file)!r} is truncated or not JSON; re-export the model") from None
    if meta.get("format") != FORMAT:
        raise InputError(f"{str(path)!r} has format {meta.get('format')!r}, expected {FORMAT!r}")
    return from_dict(RecipeConfig, meta["recipe"]), meta


def load_model(path: "str | Path", codec=None):
    """Load an exported model; with `codec`, refuse a concept-dimension (or codec) mismatch."""
    recipe, meta = read_model_config(path)
    if codec is not None and codec.dim != recipe.model.concept_dim:
        raise InputError(f"model {str(path)!r} was trained on {recipe.model.concept_dim}-d concepts ({meta['codec']} codec) "
                         f"but codec {codec.name!r} makes {codec.dim}-d concepts; use --codec {meta['codec']}")
    model = build_model(recipe)
    state = load_tensors(Path(path) / "model.safetensors")
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise InputError(f"weights in {str(path)!r} do not match its config ({str(err).splitlines()[0]})") from None
    return model.eval(), recipe, meta
