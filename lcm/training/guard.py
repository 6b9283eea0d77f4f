"""Checks around a training run, before any work: a recipe that cannot train, an out_dir another run holds (a lock
for the run's life), and checkpoints of a different architecture that resuming would silently discard."""

import fcntl
import json
import math
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

from encoders.errors import InputError
from encoders.shared.recipes import to_dict
from lcm.config import RecipeConfig

# Recipe sections that fix the shapes in a checkpoint: resuming across a change to them cannot work.
ARCHITECTURE = ("codec", "model", "diffusion", "quantized")
RUN_FILES = ("checkpoints", "model", "loss_log.jsonl")  # what --overwrite removes from train.out_dir


def check_recipe(recipe: RecipeConfig) -> None:
    """Refuse settings that would crash mid-run or export an untrained model."""
    cfg, model = recipe.train, recipe.model
    if cfg.steps < 1:
        raise InputError(f"train.steps must be at least 1, got {cfg.steps} (a model with no training step is untrained)")
    if not (math.isfinite(cfg.lr) and cfg.lr > 0):
        raise InputError(f"train.lr must be a positive number, got {cfg.lr}; e.g. train.lr=4e-4")
    if model.d_model % model.n_heads:
        raise InputError(f"model.n_heads ({model.n_heads}) must divide model.d_model ({model.d_model}); "
                         f"e.g. model.n_heads={_divisor_near(model.d_model, model.n_heads)}")
    if model.head == "diffusion" and recipe.diffusion.d_model % recipe.diffusion.n_heads:
        d, h = recipe.diffusion.d_model, recipe.diffusion.n_heads
        raise InputError(f"diffusion.n_heads ({h}) must divide diffusion.d_model ({d}); "
                         f"e.g. diffusion.n_heads={_divisor_near(d, h)}")


def _divisor_near(n: int, target: int) -> int:
    return min((k for k in range(1, n + 1) if n % k == 0), key=lambda k: (abs(k - target), k))


def latest_checkpoint(out_dir: Path) -> "tuple[int, dict] | None":
    """(step, recipe dict) of the newest checkpoint whose state.json reads, or None."""
    for ckpt in sorted((out_dir / "checkpoints").glob("step_*"), reverse=True):
        try:
            state = json.loads((ckpt / "state.json").read_text())
            return int(state["step"]), state["recipe"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return None


def _differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    keys = sorted(set(old) | set(new))
    out = []
    for key in keys:
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return out


def check_resume(recipe: RecipeConfig, out_dir: Path) -> "int | None":
    """The step a run will resume from (None: a fresh start); refuses checkpoints of another architecture."""
    found = latest_checkpoint(out_dir)
    if found is None:
        return None
    step, saved = found
    new = to_dict(recipe)
    changed = [d for section in ARCHITECTURE for d in _differences({section: saved.get(section)}, {section: new.get(section)})
               if not d.endswith("dropout") and ".max_len:" not in d]
    if changed:
        shown = "; ".join(changed[:4]) + (f"; and {len(changed) - 4} more" if len(changed) > 4 else "")
        raise InputError(f"{out_dir} holds checkpoints of a different architecture ({shown}); resuming would discard "
                         "them: choose another train.out_dir, or add --overwrite to delete them and start over")
    return step


def clear_run(out_dir: Path) -> None:
    """--overwrite: remove the checkpoints, exported model and loss log of an earlier run."""
    for name in RUN_FILES:
        path = out_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


@contextmanager
def run_lock(out_dir: Path):
    """Hold an exclusive lock on out_dir for the run's life. The kernel drops it when the process dies, so a crashed
    run never blocks the next one; a second live run on the same folder is refused."""
    out_dir.mkdir(parents=True, exist_ok=True)
    handle = open(out_dir / ".lock", "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise InputError(f"{out_dir} is in use by another `lcm train` ({holder}); wait for it to finish, or "
                             "choose another train.out_dir") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        yield
    finally:
        handle.close()
