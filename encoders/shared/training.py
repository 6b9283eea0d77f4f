"""What the codec trainer (encoders.embedded.train) and the LCM trainer (lcm.training.loop) share: the device, AdamW
with weight decay on matrices only, the warmup + cosine learning rate, and checkpoints.

A checkpoint is a folder written atomically (encoders.shared.atomic.atomic_dir): model.safetensors, optimizer.safetensors
(the optimizer's tensors, keyed `state.<param index>.<name>`) and state.json (the trainer's own counters, the
optimizer's param_groups and the names of tied weights, stored once). Nothing in it is a pickle, so loading one never
runs code.
"""

import json
import math
from pathlib import Path

import torch

from encoders.errors import InputError
from encoders.shared.atomic import atomic_dir

MODEL_FILE, OPTIMIZER_FILE, STATE_FILE = "model.safetensors", "optimizer.safetensors", "state.json"


def pick_device(name: str) -> torch.device:
    """`auto` -> cuda when available, else cpu; any other name as given (cpu, cuda, cuda:1)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def make_optimizer(model: torch.nn.Module, cfg, fused: bool = False) -> torch.optim.AdamW:
    """AdamW (cfg.lr, cfg.betas, cfg.weight_decay) with weight decay on matrices only, in model.named_parameters()
    order (checkpoints and lcm.training.distributed.param_order rely on it)."""
    named = list(model.named_parameters())
    groups = [{"params": [p for _, p in named if p.ndim >= 2], "weight_decay": cfg.weight_decay},
              {"params": [p for _, p in named if p.ndim < 2], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=tuple(cfg.betas), **({"fused": True} if fused else {}))


def lr_at(step: int, cfg, progress: "float | None" = None) -> float:
    """Linear warmup over cfg.warmup_steps to cfg.lr, then cosine decay to cfg.lr * cfg.min_lr_ratio as `progress` goes
    from 0 to 1; by default progress counts steps after warmup up to cfg.steps (the codec passes its wall-clock share)."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if progress is None:
        progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    progress = min(1.0, progress)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def save_tensors(tensors: dict, path: Path, metadata: "dict | None" = None) -> None:
    from safetensors.torch import save_file

    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(path), metadata=metadata)


def load_tensors(path: Path, device: str = "cpu") -> dict:
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device=str(device))
    except Exception as err:  # safetensors raises SafetensorError / OSError for truncated files
        raise InputError(f"{str(path)!r} is truncated or corrupt ({err}); re-export or retrain the model") from None


def untie(tensors: dict) -> tuple[dict, dict]:
    """(tensors with each shared storage kept once, {dropped name: the kept name}): safetensors refuses tied weights."""
    kept, tied, seen = {}, {}, {}
    for name, tensor in tensors.items():
        key = (tensor.data_ptr(), tensor.dtype, tuple(tensor.shape), tensor.stride())
        if tensor.numel() and key in seen:
            tied[name] = seen[key]
        else:
            seen[key], kept[name] = name, tensor
    return kept, tied


def write_checkpoint(folder: Path, model, optimizer, state: dict) -> Path:
    """Write model, optimizer and `state` (JSON-able counters) into `folder`, atomically. `model` and `optimizer` need
    only a state_dict() method (an unsharded copy of a distributed model will do)."""
    opt = optimizer.state_dict()
    opt_tensors = {f"state.{i}.{k}": v for i, s in opt["state"].items() for k, v in s.items()}
    weights, tied = untie(model.state_dict())

    def write(tmp: Path):
        save_tensors(weights, tmp / MODEL_FILE)
        save_tensors(opt_tensors, tmp / OPTIMIZER_FILE)
        (tmp / STATE_FILE).write_text(json.dumps({**state, "param_groups": opt["param_groups"], "tied": tied}))

    return atomic_dir(folder, write)


def read_checkpoint(folder: Path, model, optimizer, device: str = "cpu") -> dict:
    """Restore `model` and `optimizer` from a folder written by write_checkpoint; return the trainer's state. Raises
    InputError, OSError, ValueError (bad JSON) or RuntimeError (wrong shapes) when it is unreadable."""
    state = json.loads((folder / STATE_FILE).read_text())
    weights = load_tensors(folder / MODEL_FILE, device)
    model.load_state_dict({**weights, **{name: weights[kept] for name, kept in state.pop("tied").items()}})
    opt_state: dict = {}
    for key, value in load_tensors(folder / OPTIMIZER_FILE).items():
        _, index, name = key.split(".", 2)
        opt_state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": opt_state, "param_groups": state.pop("param_groups")})
    return state
