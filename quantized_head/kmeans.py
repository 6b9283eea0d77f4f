"""Memory-bounded k-means in torch: chunked nearest-centroid search, k-means++ seeding, mini-batch updates, Lloyd.

Points are never held as an (N, V) distance matrix: they are read through `points(index) -> (b, D)` in chunks,
so the caller can hand out residuals computed on the fly (no second copy of N x D data).
"""

from typing import Callable

import torch

# At most this many distance entries (chunk rows x V) live at once: 2^24 floats = 64 MiB.
DISTANCE_BUDGET = 1 << 24

PointFn = Callable[[torch.Tensor], torch.Tensor]  # (b,) long indices -> (b, D) float32 points


def chunk_rows(num_centroids: int) -> int:
    """Rows per chunk so that a (rows, V) distance block stays within DISTANCE_BUDGET."""
    return max(64, DISTANCE_BUDGET // max(1, num_centroids))


def nearest(x: torch.Tensor, centroids: torch.Tensor, need_dist: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(n, D), (V, D) -> nearest centroid (n,) long and its squared distance (n,) (None if not need_dist); chunked."""
    c_sq = centroids.pow(2).sum(-1)  # (V,)
    codes, dists = [], []
    step = chunk_rows(centroids.shape[0])
    for start in range(0, x.shape[0], step):
        xb = x[start:start + step].float()  # (b, D)
        # ||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2; the ||x||^2 term does not change the argmin.
        d = torch.addmm(c_sq, xb, centroids.T, alpha=-2.0)  # (b, V)
        best, idx = d.min(-1)  # (b,)
        codes.append(idx)
        if need_dist:
            dists.append((best + xb.pow(2).sum(-1)).clamp_min(0.0))
    if not codes:
        return torch.zeros(0, dtype=torch.long, device=x.device), torch.zeros(0, device=x.device)
    return torch.cat(codes), torch.cat(dists) if need_dist else None


def kmeans_pp_init(x: torch.Tensor, k: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """k-means++ seeding (Arthur & Vassilvitskii, 2007): each new centroid drawn with p ~ D(x)^2. (n, D) -> (k, D)."""
    n = x.shape[0]
    x_sq = x.pow(2).sum(-1)  # (n,)
    picks = [int(torch.randint(n, (1,), generator=generator))]
    min_sq = (x_sq - 2 * (x @ x[picks[0]]) + x_sq[picks[0]]).clamp_min(0)  # (n,)
    for _ in range(1, k):
        total = min_sq.sum()
        if total <= 0:  # fewer distinct points than k: fill with random points
            pick = int(torch.randint(n, (1,), generator=generator))
        else:
            pick = int(torch.multinomial(min_sq / total, 1, generator=generator))
        picks.append(pick)
        min_sq = torch.minimum(min_sq, (x_sq - 2 * (x @ x[pick]) + x_sq[pick]).clamp_min(0))
    return x[picks].clone()  # (k, D)


def random_init(x: torch.Tensor, k: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """k distinct random points as centroids. (n, D) -> (k, D)."""
    return x[torch.randperm(x.shape[0], generator=generator)[:k]].clone()


def minibatch_kmeans(
    points: PointFn,
    n: int,
    centroids: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Mini-batch k-means (Sculley, 2010): each centroid moves to a running mean with rate 1/count. Returns (V, D)."""
    centroids = centroids.clone()
    num_centroids = centroids.shape[0]
    counts = torch.zeros(num_centroids, device=centroids.device)  # (V,)
    for _ in range(epochs):
        hits_this_epoch = torch.zeros(num_centroids, device=centroids.device)  # (V,)
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, batch_size):
            xb = points(order[start:start + batch_size])  # (b, D)
            codes, _ = nearest(xb, centroids, need_dist=False)  # (b,)
            hits = torch.bincount(codes, minlength=num_centroids).to(centroids.dtype)  # (V,)
            sums = torch.zeros_like(centroids).index_add_(0, codes, xb)  # (V, D)
            counts += hits
            hits_this_epoch += hits
            used = hits > 0
            rate = (hits[used] / counts[used]).unsqueeze(-1)  # (v, 1)
            centroids[used] += rate * (sums[used] / hits[used].unsqueeze(-1) - centroids[used])
        centroids = _reseed_dead(points, n, centroids, hits_this_epoch == 0, generator)
    return centroids


def lloyd_step(points: PointFn, n: int, centroids: torch.Tensor, *, batch_size: int,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """One exact Lloyd iteration (assign all points, move centroids to their means), accumulated in chunks."""
    sums = torch.zeros_like(centroids)  # (V, D)
    counts = torch.zeros(centroids.shape[0], device=centroids.device)  # (V,)
    for start in range(0, n, batch_size):
        xb = points(torch.arange(start, min(start + batch_size, n)))  # (b, D)
        codes, _ = nearest(xb, centroids, need_dist=False)
        sums.index_add_(0, codes, xb)
        counts += torch.bincount(codes, minlength=centroids.shape[0]).to(counts.dtype)
    used = counts > 0
    centroids = centroids.clone()
    centroids[used] = sums[used] / counts[used].unsqueeze(-1)
    return _reseed_dead(points, n, centroids, ~used, generator)


def _reseed_dead(points: PointFn, n: int, centroids: torch.Tensor, dead: torch.Tensor,
                 generator: torch.Generator | None) -> torch.Tensor:
    """Move centroids that attracted no point onto random points, so no unit of the codebook is wasted."""
    num_dead = int(dead.sum())
    if num_dead == 0:
        return centroids
    fresh = points(torch.randint(n, (num_dead,), generator=generator))  # (num_dead, D)
    centroids[dead] = fresh.to(centroids.dtype)
    return centroids
