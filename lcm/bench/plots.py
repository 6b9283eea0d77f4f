"""The figures of `lcm bench`: generation cost per head, LCM vs token model, summarize growth, memory per phase."""

import math
from pathlib import Path

from lcm.plotting import pyplot, save_figure


def plot_bench(report: dict, out_dir: "str | Path") -> list[Path]:
    """generation.png, context.png, summarize.png and memory.png from a `lcm bench` report."""
    plt = pyplot()
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
    paths.append(save_figure(fig, out_dir / "generation.png"))

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
    paths.append(save_figure(fig, out_dir / "context.png"))

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
    paths.append(save_figure(fig, out_dir / "summarize.png"))

    phases = report["phases"]
    fig, ax = plt.subplots(figsize=(6.5, 0.6 + 0.35 * len(phases)))
    names = list(phases)
    peaks = [phases[n]["peak_rss_mb"] for n in names]
    bars = ax.barh(names, peaks, color="C4")
    ax.bar_label(bars, [f"{p:.0f}" for p in peaks], fontsize=8)
    ax.invert_yaxis()
    ax.set(xlabel="peak RSS (MB)", title="peak memory per phase")
    ax.set_xlim(0, max(peaks) * 1.15 if peaks and math.isfinite(max(peaks)) else 1)
    paths.append(save_figure(fig, out_dir / "memory.png"))
    return paths
