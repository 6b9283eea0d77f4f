"""The shipped models (lcm/pretrained/<name>: weights + config.json), the default one for each head, and finding a
model by a shipped name or a folder written by `lcm train`. Shared by the CLI (--model, --head) and the Python API."""

from pathlib import Path

from encoders.errors import InputError

PRETRAINED = Path(__file__).resolve().parent.parent / "pretrained"
DEFAULT_MODELS = {"mse": "base_lcm", "diffusion": "two_tower", "quantized": "quant_lcm"}


def shipped_models() -> list[str]:
    return sorted(p.name for p in PRETRAINED.iterdir() if (p / "config.json").is_file())


def find_model(model: "str | Path | None" = None, head: str = "mse") -> Path:
    """A model folder, or the name of a shipped model (e.g. base_lcm_sum); without one, the shipped model for `head`."""
    if model:
        path = Path(model)
        if not path.exists() and (PRETRAINED / str(model) / "config.json").is_file():
            return PRETRAINED / str(model)
        if not path.exists():
            raise InputError(f"--model {str(model)!r}: no such folder and no shipped model of that name; give a folder "
                             f"written by `lcm train`, or one of: {', '.join(shipped_models())}")
        return path
    if head not in DEFAULT_MODELS:
        raise InputError(f"--head {head!r}: choose one of {', '.join(sorted(DEFAULT_MODELS))}")
    path = PRETRAINED / DEFAULT_MODELS[head]
    if not (path / "config.json").is_file():
        raise InputError(f"no shipped {head} model at {path}; train one with `lcm train recipes/{DEFAULT_MODELS[head]}_embedded.yaml` "
                         "or pass --model DIR")
    return path
