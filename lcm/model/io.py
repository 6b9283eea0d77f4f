"""Exported models on disk: model.safetensors + config.json (lcm.model.export_config), written atomically (temp dir,
then rename)."""

import json
from pathlib import Path

from encoders.errors import InputError
from encoders.shared.atomic import atomic_dir
from encoders.shared.training import load_tensors, save_tensors
from lcm.config import RecipeConfig
from lcm.model.export_config import export_config, read_model_config, training_provenance


def save_model(model, recipe: RecipeConfig, out: "str | Path", provenance: "dict | None" = None) -> Path:
    """Export a model for inference: model.safetensors + config.json (architecture and provenance; lcm.model.
    export_config). `provenance` adds to what training_provenance records (trained steps, figures, recipe name)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = export_config(recipe, training_provenance(recipe, model.num_parameters(), provenance or {}))
    half = recipe.train.export_dtype == "fp16"  # matrices only: norms, normalizer and biases stay fp32

    def write(tmp: Path):
        state = {k: v.half() if half and v.is_floating_point() and v.ndim >= 2 else v for k, v in model.state_dict().items()}
        save_tensors(state, tmp / "model.safetensors")
        (tmp / "config.json").write_text(json.dumps(meta, indent=2) + "\n")

    atomic_dir(out, write)
    return out


def check_codec_dim(model_dir, dim: int, model_codec: str, codec) -> None:
    """Refuse a codec whose concepts are not the size the model was trained on, naming the fix that applies: the
    model's codec, or (the right codec with other options) the --codec-opt the model was trained with."""
    if codec.dim == dim:
        return
    fix = (f"use --codec {model_codec}" if codec.name != model_codec else
           f"give the {model_codec} codec the options the model was trained with (--codec-opt, e.g. dim={dim}), "
           f"or a model trained on {codec.dim}-d concepts")
    raise InputError(f"model {str(model_dir)!r} was trained on {dim}-d concepts ({model_codec} codec) but codec "
                     f"{codec.name!r} makes {codec.dim}-d concepts; {fix}")


def load_model(path: "str | Path", codec=None):
    """Load an exported model -> (model in eval mode, its architecture as a RecipeConfig, config.json in format-1
    layout). With `codec`, refuse a concept-dimension (or codec) mismatch."""
    from lcm.model.concept_model import build_model

    recipe, meta = read_model_config(path)
    if codec is not None:
        check_codec_dim(path, recipe.model.concept_dim, meta["codec"], codec)
    model = build_model(recipe)
    state = load_tensors(Path(path) / "model.safetensors")
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise InputError(f"weights in {str(path)!r} do not match its config ({str(err).splitlines()[0]})") from None
    return model.eval(), recipe, meta
