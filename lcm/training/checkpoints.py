"""Training checkpoints: checkpoints/step_XXXXXXXX with model, optimizer and loop state, written atomically."""

import json
import shutil
from pathlib import Path

from encoders.errors import InputError
from encoders.shared.atomic import atomic_dir
from encoders.shared.recipes import to_dict
from lcm.model.io import load_tensors, save_tensors


def save_training_state(out_dir: Path, step: int, model, optimizer, recipe, state: dict, keep: int) -> Path:
    """Write checkpoints/step_XXXXXXXX atomically, then prune older ones down to `keep`."""
    ckpt_root = out_dir / "checkpoints"
    ckpt_root.mkdir(parents=True, exist_ok=True)
    opt = optimizer.state_dict()
    opt_tensors = {f"state.{i}.{k}": v for i, s in opt["state"].items() for k, v in s.items()}

    def write(tmp: Path):
        save_tensors(model.state_dict(), tmp / "model.safetensors")
        save_tensors(opt_tensors, tmp / "optimizer.safetensors")
        (tmp / "state.json").write_text(json.dumps({"step": step, "recipe": to_dict(recipe),
                                                    "param_groups": opt["param_groups"], **state}))

    final = ckpt_root / f"step_{step:08d}"
    atomic_dir(final, write)
    for old in sorted(ckpt_root.glob("step_*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_latest_training_state(out_dir: Path, model, optimizer) -> "dict | None":
    """Restore the newest complete checkpoint; skip (and report) unreadable ones. None when there is none."""
    from rich.console import Console

    for ckpt in sorted((out_dir / "checkpoints").glob("step_*"), reverse=True):
        try:
            state = json.loads((ckpt / "state.json").read_text())
            model.load_state_dict(load_tensors(ckpt / "model.safetensors"))
            flat = load_tensors(ckpt / "optimizer.safetensors")
        except (InputError, OSError, json.JSONDecodeError, RuntimeError) as err:
            Console(stderr=True).print(f"[yellow]skipping unreadable checkpoint {ckpt}: {err}[/]")
            continue
        opt_state: dict = {}
        for key, value in flat.items():
            _, idx, name = key.split(".", 2)
            opt_state.setdefault(int(idx), {})[name] = value
        optimizer.load_state_dict({"state": opt_state, "param_groups": state["param_groups"]})
        return state
    return None
