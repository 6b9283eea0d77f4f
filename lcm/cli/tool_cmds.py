"""`lcm bench` (speed and memory, measured side by side) and `lcm plot` (training curves)."""

from functools import partial

from lcm.bench.run import add_bench_arguments, run_bench
from lcm.cli.common import add_command, check_writable
from lcm.training.plots import add_plot_arguments, run_plot


def register(sub) -> None:
    """Add bench and plot to the `lcm` subparsers; their options live with their code (lcm.bench, lcm.training.plots)."""
    add = partial(add_command, sub)
    p = add("bench", "measure speed and memory side by side in one run (codec, heads, KV cache, LCM vs token model)")
    add_bench_arguments(p)
    p.set_defaults(func=cmd_bench)

    p = add("plot", "plot training curves (loss, learning rate, gradient norm) from run folders")
    add_plot_arguments(p)
    p.set_defaults(func=cmd_plot)


def cmd_bench(args) -> None:
    check_writable(args.out, "--out", folder=True)  # before minutes of measuring
    run_bench(args)


def cmd_plot(args) -> None:
    check_writable(args.out, "-o/--out")
    run_plot(args)
