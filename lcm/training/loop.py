"""The training loop: one readable function. AdamW, warmup + cosine, grad clipping, bf16/fp32, gradient accumulation,
atomic checkpoints, resume; the same loop runs on one process or under torchrun (DDP / FSDP2, see
lcm.training.distributed)."""

import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch

from encoders.errors import InputError
from lcm.config import RecipeConfig
from lcm.data.batches import batches, sample_concepts
from lcm.data.prefetch import prefetch
from lcm.data.shards import dataset_info
from lcm.model.concept_model import build_model
from lcm.model.io import save_model
from lcm.training import distributed as dist
from lcm.training.checkpoints import load_latest_training_state, save_training_state
from lcm.training.finetune import init_from_pretrained


def lr_at(step: int, cfg) -> float:
    """Linear warmup to cfg.lr, then cosine decay to cfg.lr * cfg.min_lr_ratio."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def pick_device(name: str) -> torch.device:
    return torch.device("cuda" if name == "auto" and torch.cuda.is_available() else ("cpu" if name == "auto" else name))


def check_data(recipe: RecipeConfig) -> dict:
    info = dataset_info(recipe.data.train)
    if info["dim"] != recipe.model.concept_dim:
        raise InputError(f"shards hold {info['dim']}-d concepts ({info['codec']} codec) but model.concept_dim is "
                         f"{recipe.model.concept_dim}; set model.concept_dim={info['dim']}")
    if info["codec"] != recipe.codec:
        raise InputError(f"shards were encoded with codec {info['codec']!r} but the recipe says codec={recipe.codec!r}; "
                         f"set codec={info['codec']}")
    return info


def make_optimizer(model, cfg) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only; parameter order = distributed.param_order (checkpoints rely on it)."""
    named = list(model.named_parameters())
    return torch.optim.AdamW([{"params": [p for n, p in named if p.ndim >= 2], "weight_decay": cfg.weight_decay},
                              {"params": [p for n, p in named if p.ndim < 2], "weight_decay": 0.0}], lr=cfg.lr, betas=cfg.betas)


def train(recipe: RecipeConfig, *, resume: bool = True, show_progress: bool = True, rank: int = 0,
          world_size: int = 1) -> Path:
    """Train the model described by `recipe`; returns the exported model directory (out_dir/model).

    With world_size > 1 (a process group started by distributed.init_distributed under torchrun) the model is
    wrapped by train.strategy (DDP or FSDP2); the loop is the same, and rank 0 writes checkpoints and the model.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    cfg, out_dir = recipe.train, Path(recipe.train.out_dir)
    strategy = dist.resolve_strategy(cfg.strategy, world_size)
    if cfg.grad_accum < 1:
        raise InputError(f"train.grad_accum must be at least 1, got {cfg.grad_accum}")
    info = check_data(recipe)
    torch.manual_seed(cfg.seed)
    device = pick_device(cfg.device)
    model = build_model(recipe)
    optimizer = make_optimizer(model, cfg)
    state = load_latest_training_state(out_dir, model, optimizer) if resume else None
    if state is None and cfg.init_from:  # fine-tune: pretrained weights and normalizer, fresh optimizer
        init_from_pretrained(model, recipe)
        state = {"step": 0, "epoch": 0, "batch_in_epoch": 0}
    if state is None:  # fresh start: fit the normalizer, record the end-of-text concept, let the head prepare
        sample = sample_concepts(recipe.data.train, recipe.normalizer.fit_samples, cfg.seed)
        model.normalizer.fit(sample)
        model.eot_concept.copy_(torch.tensor(info["eot"]))
        model.head.prepare(model.normalizer.normalize(sample))
        state = {"step": 0, "epoch": 0, "batch_in_epoch": 0}
    model.to(device)
    for group_state in optimizer.state.values():  # optimizer tensors follow the model to its device
        for key, value in group_state.items():
            if torch.is_tensor(value) and key != "step":
                group_state[key] = value.to(device)
    if cfg.activation_checkpointing:
        dist.checkpoint_layers(model)
    train_model, optimizer = dist.wrap(model, optimizer, strategy, device=device, precision=cfg.precision,
                                       make_optimizer=lambda m: make_optimizer(m, cfg))
    torch.manual_seed(cfg.seed + rank)  # ranks draw different dropout/noise; initialisation was equal (and broadcast)
    eot = model.eot_concept.cpu().numpy() if recipe.data.append_eot else None
    log_path = out_dir / "loss_log.jsonl"
    out_dir.mkdir(parents=True, exist_ok=True)
    if rank == 0:
        _trim_log(log_path, state["step"])
    step, epoch, skip = state["step"], state["epoch"], state["batch_in_epoch"]
    started = last_log = time.monotonic()
    concepts_seen = 0
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16")
    progress = Progress(TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[loss]}"),
                        TimeRemainingColumn(), console=Console(stderr=True), disable=not show_progress or rank != 0)
    with progress, open(log_path, "a") if rank == 0 else open(os.devnull, "w") as log:
        task = progress.add_task("train", total=cfg.steps, completed=step, loss="")
        while step < cfg.steps:
            n_batches = 0
            local = batches(recipe.data.train, recipe.data.concepts_per_batch, recipe.model.max_len, eot=eot,
                            shuffle=recipe.data.shuffle, seed=cfg.seed, epoch=epoch, rank=rank, world_size=world_size,
                            split=cfg.data_split, targets=True)
            if recipe.data.prefetch > 0:  # read and padded in a background thread while the model steps
                local = prefetch(local, recipe.data.prefetch, device)
            # One optimizer step = up to grad_accum micro-batches per rank, each weighted so the step sees the global batch.
            for batch_in_epoch, micro in enumerate(dist.step_batches(local, cfg.grad_accum, world_size,
                                                                     recipe.model.concept_dim, device)):
                n_batches += 1
                if batch_in_epoch < skip:  # resuming mid-epoch: this step was already trained on
                    continue
                train_model.train()
                for group in optimizer.param_groups:
                    group["lr"] = lr_at(step, cfg)
                optimizer.zero_grad(set_to_none=True)
                step_loss, step_metrics = 0.0, {}
                for i, (concepts, valid, targets, weight) in enumerate(micro):
                    with dist.no_sync(train_model, strategy, last=i == len(micro) - 1):
                        with autocast:  # the model's forward is its loss, so DDP/FSDP wrappers see the whole step
                            loss, metrics = train_model(*(t.to(device, non_blocking=True) for t in (concepts, valid, targets)))
                        if not torch.isfinite(loss):
                            raise RuntimeError(f"loss became {loss.item()} at step {step}; lower train.lr or check the data")
                        (loss * weight).backward()
                    step_loss += loss.item() * weight
                    step_metrics = {k: step_metrics.get(k, 0.0) + float(v) * weight for k, v in metrics.items()}
                    concepts_seen += int(valid.sum()) if weight else 0
                grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip) if cfg.grad_clip > 0 else torch.tensor(0.0)
                optimizer.step()
                step += 1
                valid_loss = {}
                if recipe.data.valid and cfg.eval_every > 0 and step % cfg.eval_every == 0:  # every rank (FSDP gathers)
                    valid_loss = {"valid_loss": evaluate_loss(model, recipe, device)}
                if step % cfg.log_every == 0 or step == cfg.steps or valid_loss:  # every rank joins the reduction
                    keys = sorted(step_metrics)
                    loss_value, *values = dist.reduce_mean([step_loss] + [step_metrics[k] for k in keys], world_size, device)
                    concepts_total, = dist.reduce_mean([concepts_seen * world_size], world_size, device)
                    now = time.monotonic()
                    log.write(json.dumps({"step": step, "loss": loss_value, "lr": lr_at(step - 1, cfg),
                                          "grad_norm": float(grad_norm), "epoch": epoch, **dict(zip(keys, values)),
                                          "concepts": int(concepts_total), "seconds": round(now - last_log, 4),
                                          **valid_loss}) + "\n")
                    log.flush()
                    progress.update(task, loss=f"loss {loss_value:.4f}")
                    concepts_seen, last_log = 0, now
                progress.update(task, completed=step)
                out_of_time = cfg.max_minutes > 0 and time.monotonic() - started > cfg.max_minutes * 60
                if world_size > 1 and cfg.max_minutes > 0:  # ranks must agree to stop (or they wait for each other forever)
                    out_of_time = dist.reduce_mean([float(out_of_time)], world_size, device)[0] > 0
                if step % cfg.checkpoint_every == 0 or step == cfg.steps or out_of_time:
                    full_model, full_optimizer = dist.gather_state(model, optimizer, strategy)  # collective under FSDP
                    if rank == 0:  # complete before visible: written to a temp dir, then renamed
                        save_training_state(out_dir, step, full_model, full_optimizer, recipe,
                                            {"epoch": epoch, "batch_in_epoch": batch_in_epoch + 1}, cfg.keep_checkpoints)
                if step >= cfg.steps or out_of_time:
                    local.close()
                    break
            else:
                if n_batches == 0:
                    raise InputError(f"the training data at {recipe.data.train!r} gave no batch; it needs documents "
                                     "of at least 2 sentences")
                epoch, skip = epoch + 1, 0
                continue
            break
    final = dist.export_model(model, recipe, strategy, rank)  # rank 0: a plain CPU model; collective under FSDP
    if rank != 0:
        return out_dir / "model"
    extra = {"trained_steps": step}
    if recipe.data.valid:
        extra["valid_loss"] = evaluate_loss(final.to(device), recipe, device)
    return save_model(final.cpu().eval(), recipe, out_dir / "model", extra)


@torch.no_grad()
def evaluate_loss(model, recipe: RecipeConfig, device: torch.device) -> float:
    """Mean head loss over the validation shards. Head randomness is seeded for repeatability, inside a forked RNG so
    that a run with periodic evaluation (train.eval_every) trains exactly as one without. Called as model(...), so an
    FSDP-sharded model gathers its weights (every rank must call it)."""
    model.eval()
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(0)
        eot = model.eot_concept.cpu().numpy() if recipe.data.append_eot else None
        losses = [model(c.to(device), v.to(device), t.to(device))[0].item() for c, v, t in batches(
            recipe.data.valid, recipe.data.concepts_per_batch, recipe.model.max_len, eot=eot, shuffle=False, seed=0,
            epoch=0, targets=True)]
    return float(np.mean(losses)) if losses else float("nan")


def _trim_log(path: Path, step: int) -> None:
    """After a resume, drop loss-log lines past the checkpoint we resumed from, so the log has no duplicates."""
    if path.exists():
        lines = [ln for ln in path.read_text().splitlines() if ln.strip() and json.loads(ln)["step"] <= step]
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(ln + "\n" for ln in lines))
        tmp.replace(path)
