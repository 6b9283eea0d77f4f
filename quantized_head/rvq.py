"""Residual vector quantizer of concepts: K codebooks of V units, each fitted by k-means on the previous residuals.

x ~ c_1[i_1] + c_2[i_2] + ... + c_K[i_K]; codes are chosen greedily, coarse to fine (Juang & Gray, 1982; the LCM
paper's Quant-LCM used 64 x 8192 from FAISS). Fitting streams over the data in chunks, so millions of vectors fit in
memory: the only N-sized state besides the data is the (N, K) int32 code table.
"""

import os
import time
from pathlib import Path

import torch
from torch import nn

from encoders.errors import InputError
from encoders.shared.atomic import atomic_path
from quantized_head import kmeans


class ResidualVQ(nn.Module):
    """Greedy residual VQ. State (codebooks, fitted flag, per-stage residual energy) lives in buffers."""

    def __init__(self, dim: int, num_codebooks: int = 8, codebook_size: int = 256):
        super().__init__()
        if dim <= 0 or num_codebooks <= 0 or codebook_size <= 1:
            raise InputError(f"residual VQ needs dim > 0, num_codebooks > 0 and codebook_size > 1; "
                             f"got dim={dim}, num_codebooks={num_codebooks}, codebook_size={codebook_size}")
        self.dim, self.num_codebooks, self.codebook_size = dim, num_codebooks, codebook_size
        self.register_buffer("codebooks", torch.zeros(num_codebooks, codebook_size, dim))  # (K, V, D)
        self.register_buffer("residual_sq", torch.ones(num_codebooks))  # (K,) mean ||residual||^2 entering stage k
        self.register_buffer("fitted", torch.tensor(False))

    # ---- encode / decode -------------------------------------------------------------------------------------
    def quantize(self, x: torch.Tensor, num_codebooks: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, D) -> (x_hat (N, D), codes (N, k)): greedy nearest unit on the residual, one codebook at a time."""
        self._check_ready()
        k = self._check_k(num_codebooks)
        self._check_dim(x.shape[-1], "concepts")
        x = x.float()
        x_hat = torch.zeros_like(x)  # (N, D)
        codes = []
        for stage in range(k):
            code, _ = kmeans.nearest(x - x_hat, self.codebooks[stage], need_dist=False)  # (N,)
            x_hat = x_hat + self.codebooks[stage][code]
            codes.append(code)
        return x_hat, torch.stack(codes, -1) if codes else torch.zeros(x.shape[0], 0, dtype=torch.long)

    def encode(self, x: torch.Tensor, num_codebooks: int | None = None) -> torch.Tensor:
        """(N, D) -> codes (N, k) long, k = num_codebooks or K."""
        return self.quantize(x, num_codebooks)[1]

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (N, k) with k <= K (the first k codebooks) -> (N, D): the sum of the chosen units."""
        return self.codewords(codes).sum(-2)

    def codewords(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (..., k) -> the chosen unit of each codebook (..., k, D)."""
        self._check_ready()
        if codes.dtype.is_floating_point or codes.dtype == torch.bool:
            raise InputError(f"codes must be an integer tensor, got {codes.dtype}; pass the output of encode()")
        k = codes.shape[-1]
        self._check_k(k)
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= self.codebook_size):
            raise InputError(f"codes must lie in [0, {self.codebook_size - 1}] (codebook_size={self.codebook_size}), "
                             f"got values in [{int(codes.min())}, {int(codes.max())}]; check the codes match this quantizer")
        stage = torch.arange(k, device=codes.device)  # (k,)
        return self.codebooks[stage, codes.long()]  # (..., k, D)

    # ---- fitting ---------------------------------------------------------------------------------------------
    @torch.no_grad()
    def fit(self, concepts: torch.Tensor, *, init: str = "kmeans++", epochs: int = 4, lloyd_iters: int = 1,
            batch_size: int = 4096, seed: int = 0, init_points_per_unit: int = 32, verbose: bool = False) -> "ResidualVQ":
        """Fit the K codebooks stage by stage on `concepts` (N, D); memory beyond the data is O(N*K + V*D)."""
        if init not in ("kmeans++", "random"):
            raise InputError(f"kmeans_init must be 'kmeans++' or 'random', got {init!r}")
        if epochs < 0 or lloyd_iters < 0 or batch_size <= 0 or epochs + lloyd_iters == 0:
            raise InputError(f"k-means needs epochs >= 0, lloyd_iters >= 0 (not both 0) and batch_size > 0; "
                             f"got epochs={epochs}, lloyd_iters={lloyd_iters}, batch_size={batch_size}")
        if concepts.ndim != 2:
            raise InputError(f"fit expects concepts of shape (N, D), got {tuple(concepts.shape)}")
        self._check_dim(concepts.shape[1], "fitting concepts")
        n, num_units = concepts.shape[0], self.codebook_size
        if n < num_units:
            raise InputError(f"fitting a codebook of {num_units} units needs at least {num_units} concepts, got {n}; "
                             f"give more data or lower codebook_size")
        generator = torch.Generator().manual_seed(seed)
        device = concepts.device
        books = torch.zeros(self.num_codebooks, num_units, self.dim, device=device)  # (K, V, D) on the data's device
        codes = torch.zeros(n, self.num_codebooks, dtype=torch.int32, device=device)  # (N, K): residual = x - decode
        for stage in range(self.num_codebooks):
            start = time.time()

            def residual(index: torch.Tensor, stage: int = stage) -> torch.Tensor:  # (b,) -> (b, D)
                index = index.to(device)
                x = concepts[index].float()
                for s in range(stage):
                    x = x - books[s][codes[index, s].long()]
                return x

            seeds = residual(torch.randperm(n, generator=generator)[:min(n, init_points_per_unit * num_units)])
            init_fn = kmeans.kmeans_pp_init if init == "kmeans++" else kmeans.random_init
            centroids = init_fn(seeds.cpu(), num_units, generator).to(device)  # (V, D); seeding runs on CPU
            if epochs:
                centroids = kmeans.minibatch_kmeans(residual, n, centroids, epochs=epochs, batch_size=batch_size,
                                                    generator=generator)
            for _ in range(lloyd_iters):
                centroids = kmeans.lloyd_step(residual, n, centroids, batch_size=batch_size, generator=generator)
            books[stage] = centroids
            energy = 0.0
            for lo in range(0, n, batch_size):  # final assignment: fixes the residual the next stage is fitted on
                index = torch.arange(lo, min(lo + batch_size, n))
                r = residual(index)  # (b, D)
                energy += float(r.pow(2).sum())
                codes[index, stage] = kmeans.nearest(r, centroids, need_dist=False)[0].int()
            self.residual_sq[stage] = energy / n
            if verbose:
                print(f"  codebook {stage + 1}/{self.num_codebooks}: residual energy in {energy / n:.4f}, "
                      f"{time.time() - start:.1f}s", flush=True)
        self.codebooks.copy_(books)
        self.fitted.fill_(True)
        return self

    # ---- persistence -----------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the quantizer to a .safetensors file atomically (temp file in the same folder, then rename)."""
        from safetensors.torch import save_file

        self._check_ready()
        tensors = {"codebooks": self.codebooks.contiguous(), "residual_sq": self.residual_sq.contiguous()}
        with atomic_path(path) as tmp:
            save_file(tensors, tmp, metadata={"format": "lcm-toolkit/residual-vq/1"})

    @classmethod
    def load(cls, path: str | os.PathLike, dim: int | None = None) -> "ResidualVQ":
        """Read a quantizer written by save(); with `dim`, it must quantize vectors of that size."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        if not Path(path).is_file():
            raise InputError(f"quantizer file {str(path)!r} not found; fit one with ResidualVQ.fit(...).save(path)")
        try:
            tensors = load_file(str(path))
        except (SafetensorError, OSError) as err:
            raise InputError(f"cannot read quantizer {str(path)!r} ({err}); re-create it with ResidualVQ.save") from None
        if "codebooks" not in tensors or tensors["codebooks"].ndim != 3:
            raise InputError(f"{str(path)!r} is not a residual-VQ file (no (K, V, D) 'codebooks'); re-create it")
        num_codebooks, codebook_size, file_dim = tensors["codebooks"].shape
        if dim is not None and file_dim != dim:
            raise InputError(f"quantizer {str(path)!r} is for {file_dim}-d concepts but the model/data use {dim}-d; "
                             f"fit a quantizer on concepts from the same codec")
        rvq = cls(file_dim, num_codebooks, codebook_size)
        rvq.codebooks.copy_(tensors["codebooks"])
        rvq.residual_sq.copy_(tensors.get("residual_sq", torch.ones(num_codebooks)))
        rvq.fitted.fill_(True)
        return rvq

    # ---- checks ----------------------------------------------------------------------------------------------
    def _check_ready(self) -> None:
        if not bool(self.fitted):
            raise InputError("the residual quantizer is not fitted; call fit(concepts) / head.prepare(concepts) "
                             "or load a fitted one")

    def _check_dim(self, dim: int, what: str) -> None:
        if dim != self.dim:
            raise InputError(f"{what} are {dim}-d but the quantizer is for {self.dim}-d concepts; "
                             f"use concepts from the codec the quantizer was fitted on")

    def _check_k(self, k: int | None) -> int:
        k = self.num_codebooks if k is None else k
        if not 0 <= k <= self.num_codebooks:
            raise InputError(f"number of codebooks must be in [0, {self.num_codebooks}], got {k}")
        return k
