"""Parallel plan diffusion vs one-by-one autoregressive generation: quality and speed on held-out documents, one run.

For every problem (a window of a held-out document: `--prompt` sentences given, the next `--horizon` to plan), each
method plans `--horizon` concepts; l2 and CA (the LCM paper's contrastive accuracy, same-document neighbours
excluded) compare the plan with the true next concepts, position by position. The methods run interleaved on each
problem, so machine load hits them alike, and times are per planned concept on one thread.

Methods: the diffusion model autoregressively (the sampler once per concept), the same model with parallel plan
diffusion for each `--configs` K:P (block K, P passes), optionally a Base-LCM (`--reference`), and two baselines that
need no model: repeat the last prompt concept, and the mean of the prompt.

Usage: python bench/bench_plan.py [--data ~/.cache/lcm-toolkit/shards/en_test] [--model lcm/pretrained/two_tower]
       [--reference lcm/pretrained/base_lcm] [--configs 8:1,8:2,4:2] [--sampler dpmpp --steps 10] [--out bench/plan]
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

from encoders.shared.atomic import atomic_write_text

ROOT = Path(__file__).resolve().parent.parent  # the shipped models' folder is found from here


def load_problems(spec: str, prompt_len: int, horizon: int, stride: int, limit: int):
    """[(doc index, first target position, prompt (P, D), truth (H, D))] from shards, `stride` apart in each document."""
    from lcm.data.shards import read_shard, shard_paths

    problems = []
    docs = [d for p in shard_paths(spec) for d in read_shard(p)]
    for i, doc in enumerate(docs):
        c = torch.from_numpy(doc.concepts)
        for s in range(prompt_len, len(c) - horizon + 1, stride):
            problems.append((i, s, c[s - prompt_len:s], c[s:s + horizon]))
    if not problems:
        raise SystemExit(f"no document at {spec} has {prompt_len + horizon} sentences; lower --prompt/--horizon")
    step = max(1, len(problems) // limit) if limit else 1
    return problems[::step][:limit or None], len(docs)


def methods(model, reference, configs, head_options, horizon, seed):
    """name -> plan(prompt (P, D)) -> (horizon, D)."""
    from diffusion_head.plan import PlanConfig, parallel_plan
    from lcm.inference.generate import GenerationConfig, generate

    gen = GenerationConfig(max_new=horizon, min_new=horizon, eot_threshold=0, seed=seed, head_options=head_options)
    out = {"autoregressive": lambda p: generate(model, [p], gen)[0][0]}
    for k, passes in configs:
        out[f"parallel K={k} P={passes}"] = (lambda k, passes: lambda p: parallel_plan(
            model, p, horizon, PlanConfig(block=k, passes=passes), head_options, seed))(k, passes)
    if reference is not None:
        ref_gen = GenerationConfig(max_new=horizon, min_new=horizon, eot_threshold=0, seed=seed)
        out["Base-LCM autoregressive (MSE)"] = lambda p: generate(reference, [p], ref_gen)[0][0]
    out["baseline: repeat last concept"] = lambda p: p[-1:].expand(horizon, -1)
    out["baseline: mean of the prompt"] = lambda p: p.mean(0, keepdim=True).expand(horizon, -1)
    return out


def score(preds: torch.Tensor, truth: torch.Tensor, doc: torch.Tensor, pos: torch.Tensor) -> dict:
    """preds, truth (M, H, D); doc, pos (M, H) -> l2, CA and per-position l2."""
    from lcm.eval.metrics import contrastive_accuracy, l2, neighbour_mask

    flat_p, flat_t = preds.flatten(0, 1), truth.flatten(0, 1)  # (M*H, D)
    ca = contrastive_accuracy(flat_p, flat_t, neighbour_mask(doc.flatten(), pos.flatten()))
    dist = l2(flat_p, flat_t).view(preds.shape[:2])  # (M, H)
    return {"l2": dist.mean().item(), "ca": ca.mean().item(), "l2_by_position": dist.mean(0).tolist(),
            "ca_by_position": ca.view(preds.shape[:2]).mean(0).tolist()}


def plot(report: dict, path: Path) -> None:
    from lcm.plotting import pyplot, save_figure

    fig, (ax1, ax2) = pyplot().subplots(1, 2, figsize=(11, 4))
    for name, r in report["methods"].items():
        ax1.plot(range(1, len(r["l2_by_position"]) + 1), r["l2_by_position"], marker="o", label=name)
    ax1.set(xlabel="position in the plan", ylabel="l2 to the true concept (lower is better)", title="quality")
    ax1.legend(fontsize=7)
    timed = {n: r for n, r in report["methods"].items() if not n.startswith("baseline")}
    ax2.barh(list(timed), [r["ms_per_concept"] for r in timed.values()], color="tab:orange")
    ax2.set(xlabel="ms per planned concept (1 thread)", title="speed")
    save_figure(fig, path, dpi=110)


def table(report: dict) -> str:
    ar = report["methods"]["autoregressive"]["ms_per_concept"]
    lines = ["| method | CA | l2 | l2 at position 1 / last | ms per concept | speed vs autoregressive |",
             "|---|---|---|---|---|---|"]
    for name, r in report["methods"].items():
        speed = "–" if name.startswith("baseline") else f"{ar / r['ms_per_concept']:.2f}×"
        ms = "–" if name.startswith("baseline") else f"{r['ms_per_concept']:.2f}"
        lines.append(f"| {name} | {r['ca']:.3f} | {r['l2']:.3f} | {r['l2_by_position'][0]:.3f} / "
                     f"{r['l2_by_position'][-1]:.3f} | {ms} | {speed} |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="~/.cache/lcm-toolkit/shards/en_test", help="held-out parquet shards")
    ap.add_argument("--model", default=str(ROOT / "lcm/pretrained/two_tower"), help="a diffusion LCM")
    ap.add_argument("--reference", default=str(ROOT / "lcm/pretrained/base_lcm"), help="a Base-LCM to compare ('' = none)")
    ap.add_argument("--configs", default="8:1,8:2,8:3,4:2", help="comma-separated K:P (block size : passes)")
    ap.add_argument("--prompt", type=int, default=6, help="given sentences per problem")
    ap.add_argument("--horizon", type=int, default=8, help="concepts to plan per problem")
    ap.add_argument("--stride", type=int, default=8, help="distance between problems in one document")
    ap.add_argument("--max-problems", type=int, default=96)
    ap.add_argument("--sampler", default="dpmpp")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--guidance", type=float, help="classifier-free guidance scale (default: the head's)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="bench/plan", help="folder for plan.json, plan.md and plan.png")
    args = ap.parse_args(argv)

    from lcm.model.io import load_model

    torch.set_num_threads(args.threads)
    configs = [tuple(int(v) for v in c.split(":")) for c in args.configs.split(",") if c]
    head_options = {"sampler": args.sampler, "steps": args.steps}
    if args.guidance is not None:
        head_options["guidance_scale"] = args.guidance
    model = load_model(args.model)[0]
    reference = load_model(args.reference)[0] if args.reference else None
    problems, n_docs = load_problems(os.path.expanduser(args.data), args.prompt, args.horizon, args.stride,
                                     args.max_problems)
    plans = methods(model, reference, configs, head_options, args.horizon, args.seed)
    preds = {name: [] for name in plans}
    seconds = dict.fromkeys(plans, 0.0)
    for n, (_, _, prompt, _) in enumerate(problems):
        for name, plan in plans.items():
            start = time.perf_counter()
            preds[name].append(plan(prompt))
            seconds[name] += time.perf_counter() - start
        print(f"\r{n + 1}/{len(problems)} problems", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    truth = torch.stack([p[3] for p in problems])  # (M, H, D)
    doc = torch.tensor([p[0] for p in problems])[:, None].expand(-1, args.horizon)  # (M, H)
    pos = torch.tensor([p[1] for p in problems])[:, None] + torch.arange(args.horizon)  # (M, H)
    concepts = len(problems) * args.horizon
    report = {"settings": {**vars(args), "problems": len(problems), "documents": n_docs, "head_options": head_options},
              "methods": {name: {**score(torch.stack(preds[name]), truth, doc, pos),
                                 "ms_per_concept": 1000 * seconds[name] / concepts} for name in plans}}
    out = Path(args.out)
    for name, text in (("plan.json", json.dumps(report, indent=2)), ("plan.md", table(report) + "\n")):
        atomic_write_text(out / name, text)
    plot(report, out / "plan.png")
    print(table(report))
    print(f"\n{len(problems)} problems from {n_docs} documents; {args.prompt} given + {args.horizon} planned; "
          f"{head_options}; written to {out}/plan.json, plan.md, plan.png")
    return report


if __name__ == "__main__":
    main()
