"""Training curves: loss, learning rate and gradient norm from a run's loss_log.jsonl (`lcm plot loss RUN_DIR -o loss.png`).

matplotlib (Agg) is imported inside each function (lcm.plotting); every PNG is written atomically."""

import json
from pathlib import Path

from encoders.errors import InputError
from lcm.model.export_config import read_provenance
from lcm.plotting import pyplot, save_figure


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
    provenance = read_provenance(run_dir / "model") if run_dir.is_dir() else {}
    meta = {"trained_steps": provenance.get("trained_steps"), "valid_loss": provenance.get("figures", {}).get("valid_loss"),
            "skipped_lines": bad}
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
    plt = pyplot()
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
            at = meta.get("trained_steps") or steps[-1]
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
    return save_figure(fig, out)


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
