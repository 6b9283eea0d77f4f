"""Training checkpoints: checkpoints/step_XXXXXXXX with model, optimizer and loop state (encoders.shared.training's
checkpoint folder: safetensors + state.json, written atomically)."""

import json
import shutil
from pathlib import Path

from encoders.errors import InputError
from encoders.shared.recipes import to_dict
from encoders.shared.training import read_checkpoint, write_checkpoint


def save_training_state(out_dir: Path, step: int, model, optimizer, recipe, state: dict, keep: int) -> Path:
    """Write checkpoints/step_XXXXXXXX atomically, then prune older ones down to `keep`."""
    ckpt_root = out_dir / "checkpoints"
    ckpt_root.mkdir(parents=True, exist_ok=True)
    final = write_checkpoint(ckpt_root / f"step_{step:08d}", model, optimizer,
                             {"step": step, "recipe": to_dict(recipe), **state})
    for old in sorted(ckpt_root.glob("step_*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_latest_training_state(out_dir: Path, model, optimizer) -> "dict | None":
    """Restore the newest complete checkpoint; skip (and report) unreadable ones. None when there is none."""
    from rich.console import Console

    for ckpt in sorted((out_dir / "checkpoints").glob("step_*"), reverse=True):
        try:
            return read_checkpoint(ckpt, model, optimizer)
        except (InputError, OSError, json.JSONDecodeError, RuntimeError) as err:
            Console(stderr=True).print(f"[yellow]skipping unreadable checkpoint {ckpt}: {err}[/]")
    return None
