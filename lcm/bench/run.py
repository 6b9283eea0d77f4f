"""`lcm bench`: what an LCM costs, measured side by side in one run, written as JSON + PNG plots.

Phases (each with its wall time and peak RSS): codec encode/decode throughput; generation cost per concept for each
head (MSE, diffusion at several step counts, quantized); KV cache vs none; the LCM forward vs a same-width token-level
causal transformer over the same document; and `summarize` end to end at growing document sizes.
Ratios come from timings taken in the same process, one after another; nothing is compared across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

from encoders.errors import InputError
from encoders.shared.atomic import atomic_write_text
from lcm.bench.config import PRESETS, BenchConfig
from lcm.bench.measure import PhaseMeter
from lcm.bench.models import load_models
from lcm.bench.phases import bench_codec, bench_context, bench_generation, bench_kv_cache, bench_summarize
from lcm.bench.report import format_report, notes


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        values = ()
    if not values or min(values) < 1:  # argparse prints this message and exits 2
        raise argparse.ArgumentTypeError(f"{text!r} must be a comma-separated list of positive integers, e.g. 1000,5000")
    return tuple(sorted(set(values)))


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="runs/bench", help="folder for bench.json and the PNG plots (default runs/bench)")
    parser.add_argument("--quick", action="store_true", help="small samples; finishes in < 2 minutes on 2 CPU cores")
    parser.add_argument("--codec", default="embedded", help="codec to benchmark: embedded (default), hashing, minilm, sonar")
    parser.add_argument("--codec-opt", action="append", metavar="KEY=VALUE", help="codec option, repeatable")
    parser.add_argument("--models", choices=("shipped", "tiny"), default="shipped",
                        help="shipped: lcm/pretrained models (random init of the same recipe where absent); "
                             "tiny: random init of recipes/*_tiny.yaml (64-d, use with --codec hashing)")
    parser.add_argument("--token-lengths", type=_int_list, help="document lengths in tokens (default 1000,5000,20000)")
    parser.add_argument("--tokens-per-sentence", type=int, help="assumed tokens per sentence (default 25)")
    parser.add_argument("--vocab-size", type=int, help="vocabulary of the token-level baseline (default 32000)")
    parser.add_argument("--diffusion-steps", type=_int_list, help="diffusion step counts to compare (default 5,10,40)")
    parser.add_argument("--sampler", help="diffusion sampler: ddim (default), dpmpp, euler")
    parser.add_argument("--summarize-sizes", type=_int_list, help="document sizes in sentences (default 100,1000,10000)")
    parser.add_argument("--summarize-codec", help="codec for the summarize phase (default: --codec; --quick: hashing)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: steady timings on a shared "
                        "machine, where 2 threads on 2 busy cores ran --quick 3.5x slower; 0 = torch's choice)")


def _config_from_args(args) -> BenchConfig:
    cfg = PRESETS["quick" if args.quick else "full"]()
    overrides = {"token_lengths": args.token_lengths, "tokens_per_sentence": args.tokens_per_sentence,
                 "vocab_size": args.vocab_size, "diffusion_steps": args.diffusion_steps, "sampler": args.sampler,
                 "summarize_sizes": args.summarize_sizes, "summarize_codec": args.summarize_codec}
    for key, value in overrides.items():
        if value is not None:
            setattr(cfg, key, value)
    if min(cfg.summarize_sizes) <= cfg.summary_sentences:
        raise InputError(f"--summarize-sizes must all exceed the {cfg.summary_sentences}-sentence summary, "
                         f"got {','.join(map(str, cfg.summarize_sizes))}")
    for key in ("tokens_per_sentence", "vocab_size"):
        if getattr(cfg, key) < 1:
            raise InputError(f"--{key.replace('_', '-')} must be at least 1, got {getattr(cfg, key)}")
    return cfg


def _codec_options(pairs: list[str] | None) -> dict:
    import yaml

    if any("=" not in pair for pair in pairs or []):
        raise InputError(f"--codec-opt values must look like key=value, got {pairs}")
    return {key: yaml.safe_load(value) for key, value in (pair.split("=", 1) for pair in pairs or [])}


def run_bench(args) -> dict:
    """Run every phase, print the ratios, write bench.json and the plots into args.out; returns the report."""
    cfg = _config_from_args(args)
    if args.threads < 0:
        raise InputError(f"--threads must be >= 0 (0 = torch's choice), got {args.threads}")
    import torch

    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(args.threads or threads)
        return _run(args, cfg)
    finally:
        torch.set_num_threads(threads)


def _run(args, cfg: BenchConfig) -> dict:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from encoders import load_codec

    torch.manual_seed(0)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    meter, started, load_start = PhaseMeter(log), time.perf_counter(), os.getloadavg()
    report: dict = {"preset": "quick" if args.quick else "full", "config": asdict(cfg)}

    with meter.phase("codec"):
        codec = load_codec(args.codec, **_codec_options(args.codec_opt))
        report["codec"], concepts = bench_codec(codec, cfg)
    with meter.phase("load_models"):
        models = load_models(args.models, codec.dim, log)
    report["models"] = {head: source for head, (_, source) in models.items()}
    prompt = concepts[:cfg.prompt_concepts]  # (P, D) real encoded sentences
    with meter.phase("generation"):
        report["generation"] = bench_generation(models, prompt, cfg)
    with meter.phase("kv_cache"):
        report["kv_cache"] = bench_kv_cache(models["mse"][0], prompt, cfg)
    report["context"] = bench_context(models["mse"][0], cfg, report["codec"]["encode_sentences_per_s"], meter)

    summarize_name = cfg.summarize_codec or args.codec

    def make_codec():
        if summarize_name == args.codec and not hasattr(codec, "add_to_bank"):
            return codec  # reuse the loaded codec (retrieval codecs get a fresh, empty sentence bank per document)
        options = _codec_options(args.codec_opt) if summarize_name == args.codec else {}
        if summarize_name == "hashing":
            options = {"dim": codec.dim}
        return load_codec(summarize_name, **options)

    report["summarize"] = bench_summarize(models["mse"][0], make_codec, cfg, meter)
    report["phases"] = meter.phases
    report["environment"] = {"torch": torch.__version__, "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
                             "loadavg_start": load_start, "loadavg_end": os.getloadavg(),
                             "total_s": time.perf_counter() - started}
    report["notes"] = notes(report, cfg)
    from lcm.bench.plots import plot_bench

    report["plots"] = [str(p) for p in plot_bench(report, out)]
    atomic_write_text(out / "bench.json", json.dumps(report, indent=2))
    print(format_report(report))
    print(f"\nwrote {out / 'bench.json'} and {len(report['plots'])} plots to {out}")
    return report


def main(argv: list[str] | None = None) -> int:
    """`python -m lcm.bench`: the same as `lcm bench`, without the rest of the CLI."""
    parser = argparse.ArgumentParser(prog="lcm bench", description=__doc__.splitlines()[0])
    add_bench_arguments(parser)
    try:
        run_bench(parser.parse_args(argv))
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0

