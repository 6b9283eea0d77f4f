"""Plots: training loss curves from a run's loss_log.jsonl (`lcm plot loss RUN_DIR -o loss.png`) and the figures of
`lcm bench`. matplotlib (Agg) is imported inside each function; every PNG is written atomically."""

import json
import math
import os
from pathlib import Path

from encoders.errors import InputError


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: "str | Path") -> Path:
    """Write the figure to a temp file in the same folder, then rename it over `path`."""
    plt = _pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.png")
    fig.tight_layout()
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)
    return path


# ---- loss curves ---------------------------------------------------------------------------------------------------
def read_loss_log(run_dir: "str | Path") -> tuple[list[dict], dict]:
    """Rows of RUN_DIR/loss_log.jsonl (a torn last line from an interrupted run is skipped) and the exported model's
    config.json metadata (valid_loss, trained_steps) when RUN_DIR/model exists."""
    run_dir = Path(run_dir)
    log = run_dir / "loss_log.jsonl" if run_dir.is_dir() else run_dir
    if not log.is_file():
        raise InputError(f"no loss log at {str(log)!r}; pass a run folder written by `lcm train` (train.out_dir)")
    rows, bad = [], 0
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            continue
        if isinstance(row, dict) and isinstance(row.get("step"), (int, float)) and isinstance(row.get("loss"), (int, float)):
            rows.append(row)
        else:
            bad += 1
    if not rows:
        raise InputError(f"{str(log)!r} has no readable loss rows (step, loss); train for at least train.log_every steps")
    meta = {}
    config = run_dir / "model" / "config.json"
    if run_dir.is_dir() and config.is_file():
        try:
            meta = json.loads(config.read_text())
        except json.JSONDecodeError:
            meta = {}
    meta["skipped_lines"] = bad
    return rows, meta


def ema(values: list[float], smooth: float) -> list[float]:
    """Exponential moving average with bias correction (as TensorBoard draws it); smooth=0 returns the values."""
    if not 0 <= smooth < 1:
        raise InputError(f"--smooth must be in [0, 1), got {smooth}")
    out, avg = [], 0.0
    for i, v in enumerate(values, 1):
        avg = smooth * avg + (1 - smooth) * v
        out.append(avg / (1 - smooth ** i) if smooth else v)
    return out


def plot_loss(run_dirs: list, out: "str | Path", smooth: float = 0.0, log_y: bool = True) -> Path:
    """Loss (and learning rate, gradient norm when logged) against step for one or more runs, in one PNG."""
    plt = _pyplot()
    runs = [(Path(d), *read_loss_log(d)) for d in run_dirs]
    has_grad = any("grad_norm" in r for _, rows, _ in runs for r in rows)
    panels = 2 + has_grad
    fig, axes = plt.subplots(panels, 1, figsize=(7, 2.4 + 1.8 * panels), sharex=True,
                             gridspec_kw={"height_ratios": [3] + [1] * (panels - 1)})
    for i, (run_dir, rows, meta) in enumerate(runs):
        color = f"C{i}"
        name = run_dir.name if run_dir.is_dir() else run_dir.parent.name
        steps = [r["step"] for r in rows]
        losses = [r["loss"] for r in rows]
        if smooth:
            axes[0].plot(steps, losses, color=color, alpha=0.25, lw=1)
        axes[0].plot(steps, ema(losses, smooth), color=color, lw=1.6, label=f"{name} train")
        periodic = [(r["step"], r["valid_loss"]) for r in rows if isinstance(r.get("valid_loss"), (int, float))]
        if periodic:  # train.eval_every
            axes[0].plot(*zip(*periodic), "o--", color=color, lw=1, ms=3, label=f"{name} valid")
        if isinstance(meta.get("valid_loss"), (int, float)):
            at = meta.get("trained_steps", steps[-1])
            axes[0].plot([at], [meta["valid_loss"]], "D", color=color, label=f"{name} valid {meta['valid_loss']:.4g}")
        lr = [(r["step"], r["lr"]) for r in rows if isinstance(r.get("lr"), (int, float))]
        if lr:
            axes[1].plot(*zip(*lr), color=color, lw=1.2)
        if has_grad:
            grad = [(r["step"], r["grad_norm"]) for r in rows if isinstance(r.get("grad_norm"), (int, float))]
            if grad:
                axes[2].plot(*zip(*grad), color=color, lw=1, alpha=0.8)
    if log_y and all(r["loss"] > 0 for _, rows, _ in runs for r in rows):
        axes[0].set_yscale("log")
    axes[0].set(ylabel="loss", title="training loss" + (f" (EMA {smooth})" if smooth else ""))
    axes[0].legend(fontsize=8)
    axes[1].set(ylabel="learning rate")
    if has_grad:
        axes[2].set(ylabel="grad norm")
    axes[-1].set(xlabel="step")
    for ax in axes:
        ax.grid(alpha=0.3)
    return _save(fig, out)


def add_plot_arguments(parser) -> None:
    parser.add_argument("kind", choices=("loss",), help="what to plot: loss (training curves of one or more runs)")
    parser.add_argument("runs", nargs="+", help="run folder(s) from `lcm train` (holding loss_log.jsonl), or log files")
    parser.add_argument("-o", "--out", default="loss.png", help="PNG to write (default loss.png)")
    parser.add_argument("--smooth", type=float, default=0.0, help="EMA smoothing in [0, 1), e.g. 0.9 (default: none)")
    parser.add_argument("--linear", action="store_true", help="linear loss axis (default: log when all losses > 0)")


def run_plot(args) -> Path:
    if not str(args.out).lower().endswith(".png"):
        raise InputError(f"-o/--out must name a .png file, got {args.out!r}")
    path = plot_loss(args.runs, args.out, smooth=args.smooth, log_y=not args.linear)
    print(f"plot written to {path}")
    return path


# ---- lcm bench -----------------------------------------------------------------------------------------------------
def plot_bench(report: dict, out_dir: "str | Path") -> list[Path]:
    """generation.png, context.png, summarize.png and memory.png from a `lcm bench` report."""
    plt = _pyplot()
    out_dir = Path(out_dir)
    paths = []

    gen = report["generation"]
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    labels = list(gen)
    values = [gen[k]["ms_per_concept"] for k in labels]
    bars = ax.bar(labels, values, color=["C0"] + ["C1"] * (len(labels) - 2) + ["C2"])
    ax.bar_label(bars, [f"{v:.1f}" for v in values], fontsize=8)
    kv = report["kv_cache"]
    ax.set(ylabel="ms per concept", yscale="log",
           title=f"generation cost per head (KV cache {kv['speedup']:.1f}x faster than none)")
    ax.tick_params(axis="x", labelsize=8)
    paths.append(_save(fig, out_dir / "generation.png"))

    ctx = report["context"]["by_tokens"]
    tokens = [int(n) for n in ctx]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.plot(tokens, [ctx[str(n)]["token_forward_s"] for n in tokens], "s-", label="token-level transformer")
    ax.plot(tokens, [ctx[str(n)]["lcm_forward_s"] for n in tokens], "o-", label="LCM (one position per sentence)")
    if all("lcm_with_encoding_s" in ctx[str(n)] for n in tokens):
        ax.plot(tokens, [ctx[str(n)]["lcm_with_encoding_s"] for n in tokens], "o--",
                label=f"LCM + {report['codec']['codec']} encoding")
    for n in tokens:
        ax.annotate(f"{ctx[str(n)]['token_over_lcm']:.0f}x", (n, ctx[str(n)]["token_forward_s"]), fontsize=8,
                    textcoords="offset points", xytext=(4, -10))
    c = report["context"]
    ax.set(xscale="log", yscale="log", xlabel="document length (tokens)", ylabel="forward time (s)",
           title=f"forward cost, d={c['d_model']}, {c['n_layers']} layers, {c['tokens_per_sentence']} tokens/sentence")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    paths.append(_save(fig, out_dir / "context.png"))

    s = report["summarize"]["by_sentences"]
    sizes = [int(n) for n in s]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for key, style in (("total_s", "k-o"), ("encode_s", "--"), ("lcm_s", "--"), ("decode_s", "--")):
        values = [max(s[str(n)][key], 1e-6) for n in sizes]
        ax.plot(sizes, values, style, label=key[:-2])
    if len(sizes) > 1:  # a linear-growth guide through the first point
        ax.plot(sizes, [s[str(sizes[0])]["total_s"] * n / sizes[0] for n in sizes], ":", color="grey", label="linear")
    ax.set(xscale="log", yscale="log", xlabel="input sentences", ylabel="seconds",
           title=f"summarize end to end ({report['summarize']['codec']} codec)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    paths.append(_save(fig, out_dir / "summarize.png"))

    phases = report["phases"]
    fig, ax = plt.subplots(figsize=(6.5, 0.6 + 0.35 * len(phases)))
    names = list(phases)
    peaks = [phases[n]["peak_rss_mb"] for n in names]
    bars = ax.barh(names, peaks, color="C4")
    ax.bar_label(bars, [f"{p:.0f}" for p in peaks], fontsize=8)
    ax.invert_yaxis()
    ax.set(xlabel="peak RSS (MB)", title="peak memory per phase")
    ax.set_xlim(0, max(peaks) * 1.15 if peaks and math.isfinite(max(peaks)) else 1)
    paths.append(_save(fig, out_dir / "memory.png"))
    return paths
