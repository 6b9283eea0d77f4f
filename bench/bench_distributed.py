"""Training throughput (concepts/s) on CPU: 1 process vs 2 processes under torchrun (DDP and FSDP2, gloo), one run.

Every configuration trains the same recipe on the same global batches (train.data_split=rows), so concepts/s compare
like for like. Throughput = concepts in the global batch / wall time per optimizer step, read from the loss log
(the first --warmup steps are skipped). With 2 cores, "1 proc x 2 threads" is the fair baseline for "2 procs x 1 thread".
Usage: python bench/bench_distributed.py [--steps 20] [--d-model 128] [--layers 2] [--dim 128] [--batch 1024] [--no-fsdp]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def write_random_shards(out: Path, dim: int, n_docs: int, n_shards: int, seed: int = 0) -> None:
    """Documents of 8-40 random concepts (throughput does not depend on what the concepts mean)."""
    from lcm.data import Document, write_shard

    rng = np.random.default_rng(seed)
    docs = [Document(f"doc{i}", "eng_Latn", ["x"] * (n := int(rng.integers(8, 41))),
                     rng.standard_normal((n, dim)).astype(np.float32)) for i in range(n_docs)]
    out.mkdir(parents=True, exist_ok=True)
    meta = {"codec": "hashing", "dim": dim, "eot": rng.standard_normal(dim).astype(np.float32).tolist()}
    for k in range(n_shards):
        write_shard(out / f"shard_{k:05d}.parquet", docs[k::n_shards], dim, meta)


def run(name: str, procs: int, threads: int, overrides: list[str], out: Path, warmup: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}"] if procs > 1 \
        else [sys.executable]
    cmd = [*launcher, "-m", "lcm", "train", str(ROOT / "recipes" / "base_lcm_tiny.yaml"), *overrides,
           f"train.out_dir={out}", "--quiet", "--no-resume"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    log = [json.loads(line) for line in (out / "loss_log.jsonl").read_text().splitlines()][warmup:]
    concepts, seconds = sum(r["concepts"] for r in log), sum(r["seconds"] for r in log)
    return {"name": name, "concepts_per_s": concepts / seconds, "ms_per_step": 1e3 * seconds / len(log),
            "final_loss": log[-1]["loss"], "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=4, help="steps left out of the timing")
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--dim", type=int, default=128, help="concept dimension")
    parser.add_argument("--batch", type=int, default=1024, help="global batch budget in concepts")
    parser.add_argument("--no-fsdp", action="store_true", help="skip the FSDP2 configuration")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_random_shards(tmp / "shards", args.dim, n_docs=600, n_shards=4)
        overrides = [f"data.train={tmp / 'shards'}", f"model.concept_dim={args.dim}", f"model.d_model={args.d_model}",
                     f"model.n_layers={args.layers}", "model.n_heads=8", f"data.concepts_per_batch={args.batch}",
                     f"train.steps={args.steps}", "train.log_every=1", "train.checkpoint_every=100000",
                     "train.data_split=rows", "train.device=cpu", "model.max_len=64"]
        configs = [("1 proc x 1 thread", 1, 1, []), ("1 proc x 2 threads", 1, 2, []),
                   ("2 procs x 1 thread, DDP", 2, 1, ["train.strategy=ddp"])]
        configs += [] if args.no_fsdp else [("2 procs x 1 thread, FSDP2", 2, 1, ["train.strategy=fsdp"])]
        results = [run(name, procs, threads, overrides + extra, tmp / f"run{i}", args.warmup)
                   for i, (name, procs, threads, extra) in enumerate(configs)]
    print(f"Base-LCM d_model={args.d_model} layers={args.layers} concept_dim={args.dim}, global batch <= {args.batch} "
          f"concepts, {args.steps} steps ({args.warmup} warm-up), CPU, gloo; {os.cpu_count()} cores visible")
    base = results[0]["concepts_per_s"]
    print(f"{'configuration':<28}{'concepts/s':>12}{'ms/step':>10}{'vs 1x1':>8}{'final loss':>12}{'wall s':>8}")
    for r in results:
        print(f"{r['name']:<28}{r['concepts_per_s']:>12.0f}{r['ms_per_step']:>10.1f}{r['concepts_per_s'] / base:>7.2f}x"
              f"{r['final_loss']:>12.4f}{r['wall_s']:>8.1f}")


if __name__ == "__main__":
    main()
