"""Training throughput of `lcm train` (concepts/s): 1 vs 2 CPU processes, and on a GPU the throughput and MFU of a
~100M-parameter Base-LCM.

CPU (the default without a GPU): 1 process vs 2 processes under torchrun (DDP and FSDP2, gloo). Every configuration
trains the same recipe on the same global batches (train.data_split=rows), so concepts/s compare like for like. With
2 cores, "1 proc x 2 threads" is the fair baseline for "2 procs x 1 thread".
GPU (--device cuda, or auto with a GPU visible; use --preset 100m): one process, bf16 autocast (train.precision=bf16).

Rows: `lcm train` end to end (reading parquet shards, padding, host-to-device copies included), timed from its loss log
with the first --warmup steps left out; "train step only": the same step (forward, backward, grad clip, AdamW) on one
batch already on the device, timed in this process, which is what the model alone can do; "data loader only": the
trainer's data path alone (shards -> padded batch -> device), whose concepts/s and MFU bound what `lcm train` can reach.
MFU = achieved model FLOP/s / peak FLOP/s. Model FLOPs of a training step, summed over rows of n input positions
(PaLM, Chowdhery et al. 2022, appendix B):  n * (6 N + 12 L d n),  N = parameters in matrix multiplies (every nn.Linear
weight: PreNet, attention, SwiGLU, PostNet; an LCM has no embedding table; norms and biases left out), L layers,
d = d_model, and n also the attention length (QK^T and AV, forward + backward, not halved for the causal mask). Padding
is not counted. torch's FLOP counter gives exactly this minus 2 D d n (the PreNet's input needs no gradient; 0.3% at 100m).
Peak: PEAK_TFLOPS below by GPU name (dense bf16, no sparsity), or --peak-tflops; on CPU MFU is printed only with it.

Usage: python bench/bench_distributed.py [--steps 20] [--d-model 128] [--layers 2] [--dim 128] [--batch 1024] [--no-fsdp]
       python bench/bench_distributed.py --device cuda --preset 100m        # what scripts/device_bench_mfu.sh runs
       python bench/bench_distributed.py --configs 1x1,step --peak-tflops 0.1  # CPU, MFU against an assumed peak
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from encoders.shared.atomic import atomic_write_text
from lcm.model.info import matmul_params, training_flops_per_position  # noqa: F401  (tests read them here too)

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "recipes" / "base_lcm_tiny.yaml"  # the preset's sizes are set on top of it with dotted overrides
# Dense bf16 tensor-core peaks from NVIDIA's datasheets (the sparsity figures are 2x these); first match wins.
PEAK_TFLOPS = [("H100 PCIe", 756.0), ("H100 NVL", 835.0), ("H100", 989.0), ("H200", 989.0), ("A100", 312.0)]
CPU_CONFIGS = {"1x1": ("1 proc x 1 thread", 1, 1, []), "1x2": ("1 proc x 2 threads", 1, 2, []),
               "ddp": ("2 procs x 1 thread, DDP", 2, 1, ["train.strategy=ddp"]),
               "fsdp": ("2 procs x 1 thread, FSDP2", 2, 1, ["train.strategy=fsdp"])}


@dataclass
class BenchModel:
    """The Base-LCM and data a bench run trains (random concepts: throughput does not depend on what they mean)."""

    d_model: int = 128  # backbone width
    n_layers: int = 2  # transformer layers
    n_heads: int = 8  # attention heads
    concept_dim: int = 128  # concept vector size
    max_len: int = 64  # longest training window (documents are cut into windows of this many concepts)
    batch: int = 1024  # concepts per batch (budget, padding included)
    doc_len: tuple[int, int] = (8, 40)  # range of concepts per document (the end-of-text concept is added)
    n_docs: int = 600  # documents written to 4 shards; epochs repeat over them


def tiny() -> BenchModel:
    """The CPU comparison: trains in seconds per configuration on 2 cores."""
    return BenchModel()


def base_100m() -> BenchModel:
    """~86M parameters (d 768, 12 layers, SONAR-sized 1024-d concepts); windows of exactly 128 concepts, 128 per batch."""
    return BenchModel(d_model=768, n_layers=12, n_heads=12, concept_dim=1024, max_len=128, batch=16384,
                      doc_len=(127, 127), n_docs=512)


PRESETS = {"tiny": tiny, "100m": base_100m}


def write_random_shards(out: Path, dim: int, n_docs: int, n_shards: int, seed: int = 0,
                        doc_len: tuple[int, int] = (8, 40)) -> None:
    """Documents of doc_len[0]..doc_len[1] random concepts each, plus a random end-of-text concept in the metadata."""
    from lcm.data.documents import Document
    from lcm.data.shards import write_shard

    rng = np.random.default_rng(seed)
    docs = [Document(f"doc{i}", "eng_Latn", ["x"] * (n := int(rng.integers(doc_len[0], doc_len[1] + 1))),
                     rng.standard_normal((n, dim)).astype(np.float32)) for i in range(n_docs)]
    out.mkdir(parents=True, exist_ok=True)
    meta = {"codec": "hashing", "dim": dim, "eot": rng.standard_normal(dim).astype(np.float32).tolist()}
    for k in range(n_shards):
        write_shard(out / f"shard_{k:05d}.parquet", docs[k::n_shards], dim, meta)


def recipe_overrides(shape: BenchModel, shards: Path, steps: int, device: str, precision: str, grad_accum: int) -> list[str]:
    return [f"data.train={shards}", f"model.concept_dim={shape.concept_dim}", f"model.d_model={shape.d_model}",
            f"model.n_layers={shape.n_layers}", f"model.n_heads={shape.n_heads}", f"model.max_len={shape.max_len}",
            f"data.concepts_per_batch={shape.batch}", f"train.steps={steps}", "train.log_every=1",
            "train.checkpoint_every=100000", "train.data_split=rows", f"train.device={device}",
            f"train.precision={precision}", f"train.grad_accum={grad_accum}"]


def batch_flops(valid, n_params: int, n_layers: int, d_model: int) -> float:
    """Model FLOPs of one training step on a right-padded batch `valid` (B, T): rows of n positions cost n * f(T=n)."""
    n = (valid[:, 1:] & valid[:, :-1]).sum(1).double()  # (B,) input positions that have a next-concept target
    return float((n * training_flops_per_position(n_params, n_layers, d_model, n)).sum())


def throughput_metrics(concepts_per_s: float, flops_per_concept: float, peak_tflops: "float | None",
                       tokens_per_concept: float) -> dict:
    """concepts/s -> tokens-equivalent/s, achieved TFLOP/s and MFU (None without a peak)."""
    achieved = concepts_per_s * flops_per_concept / 1e12
    return {"concepts_per_s": concepts_per_s, "tokens_equiv_per_s": concepts_per_s * tokens_per_concept,
            "flops_per_concept": flops_per_concept, "achieved_tflops": achieved,
            "mfu": achieved / peak_tflops if peak_tflops else None}


def peak_for(device_name: str) -> "float | None":
    """Dense bf16 peak TFLOP/s of a GPU from PEAK_TFLOPS, or None if the name matches no row."""
    return next((tflops for key, tflops in PEAK_TFLOPS if key.lower() in device_name.lower()), None)


def epoch_flops_per_concept(recipe, n_params: int) -> float:
    """Model FLOPs per logged concept, averaged over one epoch of the batches `lcm train` builds from the shards."""
    from lcm.data.batches import batches
    from lcm.data.shards import dataset_info

    eot = np.asarray(dataset_info(recipe.data.train)["eot"], dtype=np.float32) if recipe.data.append_eot else None
    flops = concepts = 0.0
    for _, valid in batches(recipe.data.train, recipe.data.concepts_per_batch, recipe.model.max_len, eot=eot,
                            shuffle=False, seed=0, epoch=0):
        flops += batch_flops(valid, n_params, recipe.model.n_layers, recipe.model.d_model)
        concepts += int(valid.sum())
    return flops / concepts


def run_train(name: str, procs: int, threads: int, overrides: list[str], out: Path, warmup: int) -> dict:
    """One `lcm train` run (under torchrun if procs > 1); concepts/s from its loss log, warm-up steps left out."""
    path = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])  # keep carried wheels' folder
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1", "PYTHONPATH": path}
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}"] if procs > 1 \
        else [sys.executable]
    cmd = [*launcher, "-m", "lcm", "train", str(RECIPE), *overrides, f"train.out_dir={out}", "--quiet", "--no-resume"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    log = [json.loads(line) for line in (out / "loss_log.jsonl").read_text().splitlines()][warmup:]
    concepts, seconds = sum(r["concepts"] for r in log), sum(r["seconds"] for r in log)
    return {"name": name, "concepts_per_s": concepts / seconds, "ms_per_step": 1e3 * seconds / len(log),
            "final_loss": log[-1]["loss"], "wall_s": wall}


def time_train_step(recipe, steps: int, warmup: int, threads: int) -> dict:
    """The trainer's step (autocast forward, backward, clip, AdamW) repeated on one real batch already on the device."""
    import torch

    from lcm.data.batches import batches
    from lcm.data.shards import dataset_info
    from lcm.model.concept_model import build_model
    from encoders.shared.training import make_optimizer, pick_device

    cfg, device = recipe.train, pick_device(recipe.train.device)
    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(cfg.seed)
        eot = np.asarray(dataset_info(recipe.data.train)["eot"], dtype=np.float32)
        concepts, valid = next(iter(batches(recipe.data.train, recipe.data.concepts_per_batch, recipe.model.max_len,
                                            eot=eot, shuffle=True, seed=cfg.seed, epoch=0)))  # (B, T, D), (B, T)
        model = build_model(recipe).to(device).train()
        optimizer = make_optimizer(model, cfg)
        concepts, valid = concepts.to(device), valid.to(device)
        sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()

        def step():
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16"):
                loss, _ = model(concepts, valid)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            return loss

        for _ in range(warmup):
            step()
        sync()
        start = time.perf_counter()
        for _ in range(steps):
            loss = step()
        sync()
        seconds = time.perf_counter() - start
        n_params = matmul_params(model)
        flops = batch_flops(valid.cpu(), n_params, recipe.model.n_layers, recipe.model.d_model)
        n_concepts = int(valid.sum())
        result = {"name": "train step only (batch on device)", "concepts_per_s": n_concepts * steps / seconds,
                  "ms_per_step": 1e3 * seconds / steps, "final_loss": float(loss.detach()), "wall_s": seconds,
                  "flops_per_concept": flops / n_concepts, "batch_rows": int(valid.shape[0]), "batch_concepts": n_concepts}
        if device.type == "cuda":
            result["peak_gpu_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
        return result
    finally:
        torch.set_num_threads(old_threads)


def time_loader(recipe, steps: int, warmup: int) -> dict:
    """The trainer's data path alone (parquet shards -> padded batches -> device), as `lcm train` runs it: in the loop,
    between steps. Its concepts/s bound the trainer's; with the model's FLOPs per concept, its MFU is the ceiling it sets."""
    import torch

    from encoders.shared.training import pick_device
    from lcm.data.batches import batches
    from lcm.data.shards import dataset_info

    device = pick_device(recipe.train.device)
    eot = np.asarray(dataset_info(recipe.data.train)["eot"], dtype=np.float32)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    timed = concepts = epoch = 0
    while timed < steps:
        for batch, valid in batches(recipe.data.train, recipe.data.concepts_per_batch, recipe.model.max_len, eot=eot,
                                    shuffle=True, seed=recipe.train.seed, epoch=epoch):
            batch, valid = batch.to(device), valid.to(device)
            sync()
            if warmup:
                warmup -= 1
                start = time.perf_counter()
                continue
            timed, concepts = timed + 1, concepts + int(valid.sum())
            if timed == steps:
                break
        epoch += 1
    seconds = time.perf_counter() - start
    return {"name": "data loader only (sets a ceiling)", "concepts_per_s": concepts / seconds,
            "ms_per_step": 1e3 * seconds / steps, "final_loss": None, "wall_s": seconds}


def measure_matmul_tflops(n: int = 8192, repeats: int = 10) -> float:
    """bf16 n x n x n matrix product on the GPU: what the tensor cores reach here (a reference beside the datasheet)."""
    import torch

    a, b = (torch.randn(n, n, device="cuda", dtype=torch.bfloat16) for _ in range(2))
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    torch.cuda.synchronize()
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e12


def print_report(r: dict) -> None:
    m = r["model"]
    print(f"Base-LCM preset {r['preset']}: d_model={m['d_model']} layers={m['n_layers']} heads={m['n_heads']} "
          f"concept_dim={m['concept_dim']} max_len={m['max_len']}; {r['params_total']:,} parameters "
          f"({r['params_matmul']:,} in matmuls)")
    print(f"batch <= {m['batch']} concepts x grad_accum {r['grad_accum']}, {r['precision']}, {r['steps']} steps "
          f"({r['warmup']} warm-up); {r['device_name']}; {r['flops_per_concept'] / 1e6:.1f} MFLOP per concept "
          "(6N + 12LdT, PaLM app. B)")
    if r["peak_tflops"]:
        matmul = r["measured_matmul_tflops"]
        print(f"peak {r['peak_tflops']:g} TFLOP/s from {r['peak_source']}"
              + (f"; an 8192^3 bf16 matmul measured {matmul:.0f} TFLOP/s here" if matmul else ""))
    base = r["results"][0]["concepts_per_s"]
    print(f"{'configuration':<34}{'concepts/s':>12}{'tok-eq/s':>10}{'ms/step':>9}{'vs first':>9}{'TFLOP/s':>10}"
          f"{'MFU':>9}{'loss':>10}{'wall s':>8}")
    for row in r["results"]:
        mfu = f"{100 * row['mfu']:.1f}%" if row["mfu"] is not None else "-"
        loss = f"{row['final_loss']:.4f}" if row["final_loss"] is not None else "-"
        print(f"{row['name']:<34}{row['concepts_per_s']:>12.0f}{row['tokens_equiv_per_s']:>10.3g}"
              f"{row['ms_per_step']:>9.1f}{row['concepts_per_s'] / base:>8.2f}x{row['achieved_tflops']:>10.3g}{mfu:>9}"
              f"{loss:>10}{row['wall_s']:>8.1f}")


def parse_args(argv: "list[str] | None") -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="auto: cuda if visible")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="tiny", help="model and data sizes (see PRESETS)")
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps per run (default 20 tiny, 50 100m)")
    parser.add_argument("--warmup", type=int, default=None, help="steps left out of the timing (default 4 tiny, 10 100m)")
    parser.add_argument("--d-model", type=int, help="override the preset's d_model")
    parser.add_argument("--layers", type=int, help="override the preset's layer count")
    parser.add_argument("--heads", type=int, help="override the preset's attention heads")
    parser.add_argument("--dim", type=int, help="override the preset's concept dimension")
    parser.add_argument("--batch", type=int, help="override the preset's batch budget in concepts (per micro-batch)")
    parser.add_argument("--grad-accum", type=int, default=1, help="micro-batches per optimizer step")
    parser.add_argument("--precision", choices=("fp32", "bf16"), help="default: bf16 on cuda, fp32 on cpu")
    parser.add_argument("--configs", help="comma list of 1x1,1x2,ddp,fsdp (cpu) or train (cuda), plus step and loader; "
                        "default all")
    parser.add_argument("--no-fsdp", action="store_true", help="skip the FSDP2 configuration (cpu)")
    parser.add_argument("--peak-tflops", type=float, help="peak FLOP/s (in TFLOP/s) of the hardware the runs use; "
                        "default from the GPU name; on CPU, MFU is printed only with this")
    parser.add_argument("--tokens-per-concept", type=float, default=None,
                        help="assumed text tokens per concept (sentence) for tokens-equivalent/s (default: lcm bench's 25)")
    parser.add_argument("--json", default=str(ROOT / "runs" / "bench_distributed.json"), help="results file")
    return parser.parse_args(argv)


def main(argv: "list[str] | None" = None) -> dict:
    import torch

    from encoders.errors import InputError
    from lcm.bench.config import BenchConfig
    from lcm.config import load_recipe
    from lcm.model.concept_model import build_model

    args = parse_args(argv)
    device = "cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()) else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda but torch sees no GPU; use --device cpu (or auto)")
    given = {"d_model": args.d_model, "n_layers": args.layers, "n_heads": args.heads, "concept_dim": args.dim,
             "batch": args.batch}
    shape = replace(PRESETS[args.preset](), **{k: v for k, v in given.items() if v is not None})
    if shape.d_model % shape.n_heads:
        raise InputError(f"d_model {shape.d_model} is not divisible by {shape.n_heads} heads; set --heads")
    big = args.preset != "tiny"
    steps, warmup = args.steps or (50 if big else 20), args.warmup if args.warmup is not None else (10 if big else 4)
    if args.peak_tflops is not None and args.peak_tflops <= 0:
        raise InputError(f"--peak-tflops must be positive, got {args.peak_tflops}")
    if steps <= warmup:
        raise InputError(f"--steps ({steps}) must exceed --warmup ({warmup}): warm-up steps are not timed")
    precision = args.precision or ("bf16" if device == "cuda" else "fp32")
    tokens_per_concept = args.tokens_per_concept or BenchConfig().tokens_per_sentence
    gpu_threads = min(8, os.cpu_count() or 1)
    if device == "cuda":
        table = {"train": ("lcm train, 1 GPU", 1, gpu_threads, [])}
        default = ["train", "step", "loader"]
    else:
        table = CPU_CONFIGS
        default = [c for c in ("1x1", "1x2", "ddp", "fsdp", "step", "loader") if not (c == "fsdp" and args.no_fsdp)]
    chosen = args.configs.split(",") if args.configs else default
    unknown = [c for c in chosen if c not in table and c not in ("step", "loader")]
    if unknown:
        raise InputError(f"--configs: unknown {unknown} for {device}; choose from {', '.join([*table, 'step', 'loader'])}")

    device_name = torch.cuda.get_device_name() if device == "cuda" else f"CPU, {os.cpu_count()} cores visible"
    peak = args.peak_tflops or (peak_for(device_name) if device == "cuda" else None)
    peak_source = "--peak-tflops (given)" if args.peak_tflops else ("datasheet table (PEAK_TFLOPS)" if peak else None)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_random_shards(tmp / "shards", shape.concept_dim, n_docs=shape.n_docs, n_shards=4, doc_len=shape.doc_len)
        overrides = recipe_overrides(shape, tmp / "shards", steps, device, precision, args.grad_accum)
        recipe = load_recipe(RECIPE, overrides)
        with torch.device("meta"):
            meta_model = build_model(recipe)
        n_total, n_matmul = meta_model.num_parameters(), matmul_params(meta_model)
        flops_per_concept = epoch_flops_per_concept(recipe, n_matmul)
        results = []
        for i, key in enumerate(chosen):
            if key == "step":
                row = time_train_step(recipe, steps - warmup, warmup, threads=gpu_threads if device == "cuda" else 1)
            elif key == "loader":
                row = {**time_loader(recipe, steps - warmup, max(warmup, 1)), "flops_per_concept": flops_per_concept}
            else:
                name, procs, threads, extra = table[key]
                row = run_train(name, procs, threads, overrides + extra, tmp / f"run{i}", warmup)
                row["flops_per_concept"] = flops_per_concept
            results.append({**row, **throughput_metrics(row["concepts_per_s"], row["flops_per_concept"], peak,
                                                        tokens_per_concept)})
    report = {"device": device, "device_name": device_name, "preset": args.preset, "model": asdict(shape),
              "params_total": n_total, "params_matmul": n_matmul, "precision": precision, "grad_accum": args.grad_accum,
              "steps": steps, "warmup": warmup, "flops_per_concept": flops_per_concept,
              "flops_formula": "per input position: 6*N_matmul + 12*n_layers*d_model*T (PaLM, Chowdhery et al. 2022, "
                               "app. B), T = the row's input length; padding not counted",
              "tokens_per_concept_assumed": tokens_per_concept, "peak_tflops": peak, "peak_source": peak_source,
              "measured_matmul_tflops": measure_matmul_tflops() if device == "cuda" else None,
              "torch": torch.__version__, "results": results}
    print_report(report)
    out = Path(args.json)
    atomic_write_text(out, json.dumps(report, indent=2))
    print(f"wrote {out}")
    return report


if __name__ == "__main__":
    from encoders.errors import InputError

    try:
        main()
    except InputError as err:  # a user-fixable mistake: one line, exit 2 (as the lcm CLI does)
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
