"""The training loop. AdamW, warmup + cosine, grad clipping, bf16/fp32, gradient accumulation, atomic checkpoints,
resume; the same loop runs on one process or under torchrun (DDP / FSDP2, see lcm.training.distributed).

    train(recipe)  =  TrainingRun(recipe) set up (fresh, resumed or fine-tuned)
                      -> train_epoch() until train.steps (or train.max_minutes) -> export()
"""

import json
import os
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from encoders.errors import InputError
from encoders.shared.atomic import atomic_write_text
from encoders.shared.training import lr_at, make_optimizer, pick_device
from lcm.config import RecipeConfig
from lcm.data.batches import batches, sample_concepts
from lcm.data.prefetch import prefetch
from lcm.data.shards import dataset_info
from lcm.model.concept_model import build_model
from lcm.model.io import save_model
from lcm.training import distributed as dist
from lcm.training.checkpoints import load_latest_training_state, save_training_state
from lcm.training.finetune import init_from_pretrained


def check_data(recipe: RecipeConfig) -> dict:
    info = dataset_info(recipe.data.train)
    if info["dim"] != recipe.model.concept_dim:
        raise InputError(f"shards hold {info['dim']}-d concepts ({info['codec']} codec) but model.concept_dim is "
                         f"{recipe.model.concept_dim}; set model.concept_dim={info['dim']}")
    if info["codec"] != recipe.codec:
        raise InputError(f"shards were encoded with codec {info['codec']!r} but the recipe says codec={recipe.codec!r}; "
                         f"set codec={info['codec']}")
    return info


def train(recipe: RecipeConfig, *, resume: bool = True, show_progress: bool = True, rank: int = 0,
          world_size: int = 1, provenance: "dict | None" = None) -> Path:
    """Train the model described by `recipe`; returns the exported model directory (out_dir/model).

    With world_size > 1 (a process group started by distributed.init_distributed under torchrun) the model is
    wrapped by train.strategy (DDP or FSDP2); the loop is the same, and rank 0 writes checkpoints and the model.
    `provenance` (e.g. {"recipe": "base_lcm_tiny.yaml"}) is recorded in the exported model's config.json.
    """
    run = TrainingRun(recipe, resume=resume, rank=rank, world_size=world_size, provenance=provenance)
    with run.reporting(show_progress):
        while not run.finished:
            run.train_epoch()
    return run.export()


class TrainingRun:
    """The state of one training run: model, optimizer, the wrapped model for DDP/FSDP, and the loop counters (step,
    epoch, batches of the epoch already trained on when resuming)."""

    def __init__(self, recipe: RecipeConfig, *, resume: bool, rank: int, world_size: int,
                 provenance: "dict | None" = None):
        cfg = recipe.train
        self.recipe, self.cfg, self.rank, self.world_size = recipe, cfg, rank, world_size
        self.provenance = provenance or {}  # recorded in the exported model's config.json
        self.out_dir = Path(cfg.out_dir)
        self.strategy = dist.resolve_strategy(cfg.strategy, world_size)
        if cfg.grad_accum < 1:
            raise InputError(f"train.grad_accum must be at least 1, got {cfg.grad_accum}")
        info = check_data(recipe)
        torch.manual_seed(cfg.seed)
        self.device = pick_device(cfg.device)
        self.model = build_model(recipe)
        optimizer = make_optimizer(self.model, cfg)
        state = load_latest_training_state(self.out_dir, self.model, optimizer) if resume else None
        if state is None:
            self._start(info)
            state = {"step": 0, "epoch": 0, "batch_in_epoch": 0}
        self.model.to(self.device)
        for group_state in optimizer.state.values():  # optimizer tensors follow the model to its device
            for key, value in group_state.items():
                if torch.is_tensor(value) and key != "step":
                    group_state[key] = value.to(self.device)
        if cfg.activation_checkpointing:
            dist.checkpoint_layers(self.model)
        self.train_model, self.optimizer = dist.wrap(self.model, optimizer, self.strategy, device=self.device,
                                                     precision=cfg.precision,
                                                     make_optimizer=lambda m: make_optimizer(m, cfg))
        torch.manual_seed(cfg.seed + rank)  # ranks draw different dropout/noise; initialisation was equal (and broadcast)
        self.eot = self.model.eot_concept.cpu().numpy() if recipe.data.append_eot else None
        self.step, self.epoch, self.skip = state["step"], state["epoch"], state["batch_in_epoch"]
        self.out_of_time = False
        self.started = self.last_log = time.monotonic()
        self.concepts_seen = 0
        self.autocast = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16")

    def _start(self, info: dict) -> None:
        """No checkpoint to resume: fine-tune train.init_from (its weights and normalizer, a fresh optimizer), or start
        from scratch (fit the normalizer, record the end-of-text concept, let the head prepare)."""
        recipe = self.recipe
        if recipe.train.init_from:
            init_from_pretrained(self.model, recipe)
            return
        sample = sample_concepts(recipe.data.train, recipe.normalizer.fit_samples, recipe.train.seed)
        self.model.normalizer.fit(sample)
        self.model.eot_concept.copy_(torch.tensor(info["eot"]))
        self.model.head.prepare(self.model.normalizer.normalize(sample))

    @property
    def finished(self) -> bool:
        return self.step >= self.cfg.steps or self.out_of_time

    @contextmanager
    def reporting(self, show_progress: bool):
        """The progress bar and the JSONL loss log (rank 0 only), open while training runs."""
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        log_path = self.out_dir / "loss_log.jsonl"
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if self.rank == 0:
            _trim_log(log_path, self.step)
        self.progress = Progress(TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[loss]}"), TimeRemainingColumn(),
                                 console=Console(stderr=True), disable=not show_progress or self.rank != 0)
        with self.progress, open(log_path, "a") if self.rank == 0 else open(os.devnull, "w") as self.log:
            self.task = self.progress.add_task("train", total=self.cfg.steps, completed=self.step, loss="")
            yield

    def train_epoch(self) -> None:
        """One pass over the training data (the rest of it, when resuming mid-epoch); returns early once finished."""
        recipe, cfg = self.recipe, self.cfg
        local = batches(recipe.data.train, recipe.data.concepts_per_batch, recipe.model.max_len, eot=self.eot,
                        shuffle=recipe.data.shuffle, seed=cfg.seed, epoch=self.epoch, rank=self.rank,
                        world_size=self.world_size, split=cfg.data_split, targets=True)
        if recipe.data.prefetch > 0:  # read and padded in a background thread while the model steps
            local = prefetch(local, recipe.data.prefetch, self.device)
        n_batches = 0
        # One optimizer step = up to grad_accum micro-batches per rank, each weighted so the step sees the global batch.
        for batch_in_epoch, micro in enumerate(dist.step_batches(local, cfg.grad_accum, self.world_size,
                                                                 recipe.model.concept_dim, self.device)):
            n_batches += 1
            if batch_in_epoch < self.skip:  # resuming mid-epoch: this step was already trained on
                continue
            self.report(*self.optimizer_step(micro))
            self.out_of_time = self._out_of_time()
            if self.step % cfg.checkpoint_every == 0 or self.finished:
                self.checkpoint(batch_in_epoch + 1)
            if self.finished:
                local.close()
                return
        if n_batches == 0:
            raise InputError(f"the training data at {recipe.data.train!r} gave no batch; it needs documents "
                             "of at least 2 sentences")
        self.epoch, self.skip = self.epoch + 1, 0

    def optimizer_step(self, micro: list) -> tuple[float, dict, torch.Tensor]:
        """Forward and backward over the micro-batches, clip, step; -> (loss, metrics, gradient norm) of the step."""
        device, cfg = self.device, self.cfg
        self.train_model.train()
        for group in self.optimizer.param_groups:
            group["lr"] = lr_at(self.step, cfg)
        self.optimizer.zero_grad(set_to_none=True)
        step_loss, step_metrics = 0.0, {}
        for i, (concepts, valid, targets, weight) in enumerate(micro):
            with dist.no_sync(self.train_model, self.strategy, last=i == len(micro) - 1):
                with self.autocast:  # the model's forward is its loss, so DDP/FSDP wrappers see the whole step
                    loss, metrics = self.train_model(*(t.to(device, non_blocking=True) for t in (concepts, valid, targets)))
                if not torch.isfinite(loss):
                    raise RuntimeError(f"loss became {loss.item()} at step {self.step}; lower train.lr or check the data")
                (loss * weight).backward()
            step_loss += loss.item() * weight
            step_metrics = {k: step_metrics.get(k, 0.0) + float(v) * weight for k, v in metrics.items()}
            self.concepts_seen += int(valid.sum()) if weight else 0
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip) if cfg.grad_clip > 0 \
            else torch.tensor(0.0)
        self.optimizer.step()
        self.step += 1
        return step_loss, step_metrics, grad_norm

    def report(self, step_loss: float, step_metrics: dict, grad_norm: torch.Tensor) -> None:
        """Validation loss every train.eval_every steps; a loss-log line every train.log_every steps (and at the end).
        Every rank joins the reductions; rank 0 writes."""
        recipe, cfg, step = self.recipe, self.cfg, self.step
        valid_loss = {}
        if recipe.data.valid and cfg.eval_every > 0 and step % cfg.eval_every == 0:  # every rank (FSDP gathers)
            valid_loss = {"valid_loss": evaluate_loss(self.model, recipe, self.device)}
        if step % cfg.log_every == 0 or step == cfg.steps or valid_loss:
            keys = sorted(step_metrics)
            loss_value, *values = dist.reduce_mean([step_loss] + [step_metrics[k] for k in keys], self.world_size,
                                                   self.device)
            concepts_total, = dist.reduce_mean([self.concepts_seen * self.world_size], self.world_size, self.device)
            now = time.monotonic()
            self.log.write(json.dumps({"step": step, "loss": loss_value, "lr": lr_at(step - 1, cfg),
                                       "grad_norm": float(grad_norm), "epoch": self.epoch, **dict(zip(keys, values)),
                                       "concepts": int(concepts_total), "seconds": round(now - self.last_log, 4),
                                       **valid_loss}) + "\n")
            self.log.flush()
            self.progress.update(self.task, loss=f"loss {loss_value:.4f}")
            self.concepts_seen, self.last_log = 0, now
        self.progress.update(self.task, completed=step)

    def _out_of_time(self) -> bool:
        cfg = self.cfg
        out_of_time = cfg.max_minutes > 0 and time.monotonic() - self.started > cfg.max_minutes * 60
        if self.world_size > 1 and cfg.max_minutes > 0:  # ranks must agree to stop (or they wait for each other forever)
            out_of_time = dist.reduce_mean([float(out_of_time)], self.world_size, self.device)[0] > 0
        return out_of_time

    def checkpoint(self, batch_in_epoch: int) -> None:
        """Gather the full state (collective under FSDP); rank 0 writes it, complete before visible."""
        full_model, full_optimizer = dist.gather_state(self.model, self.optimizer, self.strategy)
        if self.rank == 0:
            save_training_state(self.out_dir, self.step, full_model, full_optimizer, self.recipe,
                                {"epoch": self.epoch, "batch_in_epoch": batch_in_epoch}, self.cfg.keep_checkpoints)

    def export(self) -> Path:
        """The trained model, exported by rank 0 to out_dir/model (collective under FSDP)."""
        final = dist.export_model(self.model, self.recipe, self.strategy, self.rank)
        if self.rank != 0:
            return self.out_dir / "model"
        provenance = {**self.provenance, "trained_steps": self.step}
        if self.recipe.data.valid:
            provenance["figures"] = {"valid_loss": evaluate_loss(final.to(self.device), self.recipe, self.device)}
        return save_model(final.cpu().eval(), self.recipe, self.out_dir / "model", provenance)


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
        atomic_write_text(path, "".join(ln + "\n" for ln in lines))
