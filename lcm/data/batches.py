"""The streaming batch loader: shards -> padded (concepts, valid[, targets]) batches, and concept samples for fitting."""

import random
from typing import Iterator

import numpy as np
import torch

from encoders.errors import InputError
from lcm.data.shards import read_shard, shard_paths


def sample_concepts(spec: str, n: int, seed: int = 0) -> torch.Tensor:
    """Up to n concepts drawn uniformly from the shards, for fitting the normalizer and head."""
    rows = np.concatenate([d.concepts for p in shard_paths(spec) for d in read_shard(p)])
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(rows), size=min(n, len(rows)), replace=False)
    return torch.from_numpy(rows[pick])


def batches(spec: str, concepts_per_batch: int, max_len: int, *, eot: "np.ndarray | None", shuffle: bool,
            seed: int, epoch: int, rank: int = 0, world_size: int = 1, split: str = "shards",
            targets: bool = False) -> Iterator[tuple[torch.Tensor, ...]]:
    """Stream padded batches (concepts (B, T, D), valid (B, T)) from shards, packing documents by a concept budget.

    Documents longer than max_len are cut into windows. With world_size > 1, split="shards": rank r reads only shards
    r::world_size (its batches are its own); split="rows": every rank reads every shard, packs the same global batches as
    one process would, and keeps rows r::world_size of each (a slice may be empty: (0, 2, D)).
    The order depends only on (seed, epoch), so a resumed run can skip to where it stopped.
    With `targets`, batches are (concepts, valid, targets): targets (B, T) marks the positions the loss predicts, i.e.
    those at or after a document's `loss_start` (every valid one in shards without it), and windows holding no target
    are skipped; without it, `loss_start` is ignored and the batches are exactly those of plain shards.
    """
    if split not in ("shards", "rows"):
        raise InputError(f"unknown data split {split!r}; use shards or rows")
    rng = random.Random(f"{seed}:{epoch}")
    paths = shard_paths(spec)
    if shuffle:
        rng.shuffle(paths)
    if split == "shards":
        paths, rank, world_size = paths[rank::world_size], 0, 1
    batch: list[tuple[np.ndarray, int]] = []
    for path in paths:  # one shard in memory at a time: documents are shuffled within a shard, shards across epochs
        windows = []  # (concepts of the window, index of its first target)
        for doc in read_shard(path):
            seq = doc.concepts if eot is None else np.concatenate([doc.concepts, eot[None]])
            first = (doc.loss_start or 0) if targets else 0
            for start in range(0, max(len(seq) - 1, 1), max_len - 1):  # windows overlap by one concept
                window = seq[start:start + max_len]
                if len(window) >= 2 and start + len(window) - 1 >= first:  # it predicts at least one target
                    windows.append((window, max(0, first - start)))
        if shuffle:
            rng.shuffle(windows)
        for window in windows:
            longest = max([len(window[0])] + [len(s) for s, _ in batch])
            if batch and (len(batch) + 1) * longest > concepts_per_batch:
                yield _pad(batch[rank::world_size], window[0].shape[1], targets)
                batch = []
            batch.append(window)
    if batch:
        yield _pad(batch[rank::world_size], batch[0][0].shape[1], targets)


def _pad(windows: list[tuple[np.ndarray, int]], dim: int, targets: bool = False) -> tuple[torch.Tensor, ...]:
    """Right-pad (T_i, D) concepts -> concepts (B, T, D), valid (B, T) [, targets (B, T)]; none -> (0, 2, D)."""
    T, D = max([len(s) for s, _ in windows] or [2]), dim
    concepts = torch.zeros(len(windows), T, D)
    valid = torch.zeros(len(windows), T, dtype=torch.bool)
    for i, (s, _) in enumerate(windows):
        concepts[i, :len(s)] = torch.from_numpy(s)
        valid[i, :len(s)] = True
    if not targets:
        return concepts, valid
    first = torch.tensor([start for _, start in windows], dtype=torch.long).reshape(-1, 1)  # (B, 1)
    return concepts, valid, valid & (torch.arange(T)[None, :] >= first)  # (B, T)
