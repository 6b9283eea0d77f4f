"""Scale-out for the training loop: process groups from torchrun, DDP / FSDP2 wrapping, lockstep global batches,
and gathering full state for rank-0 checkpoints. `lcm.training.loop.train` stays one loop; this module owns the plumbing.

The same recipe runs on 1 CPU process and on N GPUs; only the launcher changes:
    lcm train recipe.yaml                                   # one process, no process group
    torchrun --nproc_per_node 2 -m lcm train recipe.yaml    # RANK/WORLD_SIZE set: gloo on CPU, nccl on CUDA

Global batch. Rank r feeds its own (possibly empty) batches; `step_batches` groups them into optimizer steps and, with one
all-reduce per step, gives each micro-batch the weight n_local * world_size / n_global (n = next-concept targets), so the
averaged gradient equals that of one process training on the union of every rank's micro-batches. This assumes what
every head does: the loss is a mean over the target positions `valid[:, 1:] & valid[:, :-1]`. Ranks that run out of data
first (or get an empty slice) run a zero-weight placeholder batch, so all ranks take the same number of steps and no
document is dropped or repeated within an epoch.
"""

import os
import warnings
from contextlib import nullcontext
from dataclasses import dataclass
from itertools import islice
from typing import Iterator

import torch
from torch import nn

from encoders.errors import InputError

STRATEGIES = ("auto", "none", "ddp", "fsdp")


@dataclass
class DistEnv:
    """Where this process sits in the job (read from torchrun's environment variables)."""

    rank: int = 0  # global rank
    world_size: int = 1  # number of processes
    local_rank: int = 0  # rank on this node (picks the GPU)


def init_distributed(device: str = "auto") -> DistEnv:
    """Start the process group when launched by torchrun (WORLD_SIZE > 1): nccl for CUDA, gloo for CPU."""
    import torch.distributed as dist

    env = DistEnv(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0)))
    if env.world_size > 1 and not dist.is_initialized():
        use_cuda = torch.cuda.is_available() and device != "cpu"
        if use_cuda:
            torch.cuda.set_device(env.local_rank)
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return env


def shutdown() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def resolve_strategy(strategy: str, world_size: int) -> str:
    """auto -> ddp with several processes, none with one; ddp/fsdp on a single process are plain training."""
    if strategy not in STRATEGIES:
        raise InputError(f"train.strategy={strategy!r} is unknown; use one of {', '.join(STRATEGIES)}")
    if world_size == 1:
        return "none"
    return "ddp" if strategy == "auto" else strategy


def n_targets(valid: torch.Tensor, targets: "torch.Tensor | None" = None) -> int:
    """Number of next-concept targets in a right-padded batch (the positions a head's loss averages over).

    `targets` (B, T) restricts them as ConceptModel.forward does (e.g. to a summary after its document)."""
    pairs = valid[:, 1:] & valid[:, :-1]
    return int((pairs if targets is None else pairs & targets[:, 1:]).sum())


def step_batches(local: Iterator, grad_accum: int, world_size: int, concept_dim: int,
                 device: torch.device) -> Iterator[list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]]]:
    """Group this rank's batches into optimizer steps of up to `grad_accum` micro-batches, in lockstep with all ranks.

    `local` yields (concepts, valid) or (concepts, valid, targets) batches (lcm.data.batches). Yields
    [(concepts, valid, targets, loss_weight), ...] (targets = valid when the batch had none); every rank yields the
    same number of steps and micro-batches, and the weights make the step average over the global batch's targets.
    """
    import torch.distributed as dist

    local = iter(local)
    while True:
        micro = [(b[0], b[1], b[2] if len(b) > 2 else b[1]) for b in islice(local, grad_accum)]
        counts = torch.zeros(2, grad_accum, dtype=torch.float64)  # row 0: slot used, row 1: targets in slot
        for i, (_, valid, targets) in enumerate(micro):
            counts[0, i], counts[1, i] = 1, n_targets(valid, targets)
        if world_size > 1:
            counts = counts.to(device)
            dist.all_reduce(counts)
            counts = counts.cpu()
        n_slots, total = int((counts[0] > 0).sum()), float(counts[1].sum())
        if n_slots == 0:  # every rank is out of data: the epoch is over
            return
        ones = torch.ones(1, 2, dtype=torch.bool)
        placeholder = (torch.zeros(1, 2, concept_dim), ones, ones, 0.0)  # runs (every rank must), weight 0
        micro += [(None, None, None)] * (n_slots - len(micro))
        yield [(c, v, t, n_targets(v, t) * world_size / total) if c is not None and len(c) else placeholder
               for c, v, t in micro]


def reduce_mean(values: list[float], world_size: int, device: torch.device) -> list[float]:
    """Sum weighted per-rank values over ranks and divide by world size (loss * weight -> the global-batch mean)."""
    import torch.distributed as dist

    if world_size == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return (t / world_size).tolist()


def checkpoint_layers(model: nn.Module) -> None:
    """Activation checkpointing: every layer of every nn.ModuleList recomputes its activations in backward.

    Parameter names are unchanged (the forward is wrapped in place), so checkpoints stay interchangeable.
    """
    from torch.utils.checkpoint import checkpoint

    for layers in [m for m in model.modules() if isinstance(m, nn.ModuleList)]:
        for layer in layers:
            layer.forward = (lambda f: lambda *a, **k: checkpoint(f, *a, use_reentrant=False, **k))(layer.forward)


def broadcast_module(model: nn.Module) -> None:
    """Make every rank's parameters and buffers equal to rank 0's (normalizer, fitted codebooks, init)."""
    import torch.distributed as dist

    with torch.no_grad():
        for tensor in list(model.parameters()) + list(model.buffers()):
            dist.broadcast(tensor.data, src=0)


def wrap(model: nn.Module, optimizer: torch.optim.Optimizer, strategy: str, *, device: torch.device,
         precision: str = "fp32", make_optimizer=None):
    """-> (module to call in the loop, optimizer). DDP wraps; FSDP2 shards every layer of every ModuleList, then the root.

    FSDP2 replaces parameters with sharded DTensors, so the optimizer is rebuilt by `make_optimizer(model)` and the
    (full, already loaded) optimizer state of `optimizer` is sharded into it.
    """
    if strategy == "none":
        return model, optimizer
    broadcast_module(model)
    if strategy == "ddp":
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids), optimizer
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    # Layers return their KV cache (views of q/k/v); nothing modifies them in place, so FSDP2's warning does not apply.
    warnings.filterwarnings("ignore", message="FSDP2-wrapped module .* returned a view tensor")
    full_optim = to_fqn_optimizer_state(optimizer.state_dict(), param_order(model))
    # bf16: layers compute in bf16 and gradients are reduced in fp32; the sharded master weights stay fp32
    mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if precision == "bf16" \
        else MixedPrecisionPolicy()
    for layers in [m for m in model.modules() if isinstance(m, nn.ModuleList)]:
        for layer in layers:
            fully_shard(layer, mp_policy=mp)
    fully_shard(model, mp_policy=mp)
    sharded_optimizer = make_optimizer(model)
    if full_optim["state"]:
        set_optimizer_state_dict(model, sharded_optimizer, full_optim, options=StateDictOptions(full_state_dict=True))
    return model, sharded_optimizer


def no_sync(train_model: nn.Module, strategy: str, last: bool):
    """Skip the gradient all-reduce on all but the last micro-batch of a step (DDP no_sync / FSDP2 sync flag)."""
    if strategy == "ddp" and not last:
        return train_model.no_sync()
    if strategy == "fsdp":
        train_model.set_requires_gradient_sync(last)
    return nullcontext()


def param_order(model: nn.Module) -> list[str]:
    """Parameter names in the optimizer's order: matrices (weight decay) first, then vectors (no decay)."""
    named = list(model.named_parameters())
    return [n for n, p in named if p.ndim >= 2] + [n for n, p in named if p.ndim < 2]


def to_fqn_optimizer_state(state: dict, names: list[str]) -> dict:
    """torch's integer-indexed optimizer state dict -> the parameter-name-keyed form of torch.distributed.checkpoint."""
    groups = [{**g, "params": [names[i] for i in g["params"]]} for g in state["param_groups"]]
    return {"state": {names[i]: s for i, s in state["state"].items()}, "param_groups": groups}


def to_index_optimizer_state(state: dict, names: list[str]) -> dict:
    """The inverse of to_fqn_optimizer_state (lcm checkpoints store integer indices)."""
    index = {n: i for i, n in enumerate(names)}
    groups = [{**g, "params": [index[n] for n in g["params"]]} for g in state["param_groups"]]
    return {"state": {index[n]: s for n, s in state["state"].items()}, "param_groups": groups}


class FullState:
    """A gathered state dict standing in for a module/optimizer where lcm.training.checkpoints calls `.state_dict()`."""

    def __init__(self, state: dict):
        self.state = state

    def state_dict(self) -> dict:
        return self.state


def gather_state(model: nn.Module, optimizer, strategy: str) -> tuple:
    """Full (unsharded, CPU) model and optimizer state; collective under FSDP. -> (model_like, optimizer_like)."""
    if strategy != "fsdp":
        return model, optimizer
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict

    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    model_state, optim_state = get_state_dict(model, optimizer, options=options)
    if not model_state:  # cpu_offload gathers onto rank 0 only; the other ranks get empty dicts
        return FullState({}), FullState({})
    return FullState(model_state), FullState(to_index_optimizer_state(optim_state, param_order(model)))


def export_model(model: nn.Module, recipe, strategy: str, rank: int) -> "nn.Module | None":
    """The trained model, plain (unwrapped, unsharded) and on CPU, on rank 0; None on other ranks. Collective under FSDP,
    where rank 0 gathers the full weights into a freshly built model."""
    if strategy != "fsdp":
        return model.cpu() if rank == 0 else None
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    from lcm.model.concept_model import build_model

    state = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if rank != 0:
        return None
    plain = build_model(recipe)
    plain.load_state_dict(state)
    return plain.eval()
