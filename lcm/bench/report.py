"""The text report of `lcm bench`: the ratios in plain lines, and notes on how each was measured."""

from __future__ import annotations

from lcm.bench.config import BenchConfig


def notes(report: dict, cfg: BenchConfig) -> list[str]:
    text = ["Sentences are synthetic (templated English, 10-16 words): the bench measures cost, not quality.",
            f"The LCM sees one position per sentence; a document of T tokens is assumed to hold T/{cfg.tokens_per_sentence} "
            f"sentences ({cfg.tokens_per_sentence} tokens per sentence).",
            f"The token-level baseline has the LCM backbone's width and depth, a {cfg.vocab_size}-token vocabulary, "
            "causal flash attention and a chunked LM head; the LCM forward is PreNet + backbone + PostNet over all "
            f"sentences in one pass (past the recipe's max_len={report['context']['max_len']}: a cost measure).",
            "'with encoding' adds the time the codec takes to encode the document's sentences at the measured rate.",
            f"summarize writes a fixed {cfg.summary_sentences}-sentence summary; encode and decode time are the codec's."]
    if any(r["token_layers_timed"] < r["token_layers"] for r in report["context"]["by_tokens"].values()):
        text.append(f"--quick: token documents over {cfg.full_depth_up_to} tokens time one layer and scale it by the "
                    "depth (the layers are identical), plus the measured embedding + LM head.")
    if report["summarize"]["codec"] != report["codec"]["codec"]:
        text.append(f"summarize used the {report['summarize']['codec']} codec, not {report['codec']['codec']}, to stay "
                    "within the time budget; run without --quick for the benchmarked codec end to end.")
    if any("random init" in s for s in report["models"].values()):
        text.append("Some models are randomly initialised (no trained weights found): costs are those of the same "
                    "architecture, quality is meaningless.")
    return text


def format_report(r: dict) -> str:
    c, g, kv, ctx, s = r["codec"], r["generation"], r["kv_cache"], r["context"], r["summarize"]
    lines = [f"== lcm bench ({r['preset']}), load average {r['environment']['loadavg_start'][0]:.1f} on "
             f"{r['environment']['cpus']} CPUs, {r['environment']['threads']} torch threads ==",
             f"codec {c['codec']} ({c['dim']}-d): encode {c['encode_sentences_per_s']:.1f} sentences/s, decode "
             f"{c['decode_sentences_per_s']:.2f} sentences/s (encode/decode speed ratio "
             f"{c['encode_sentences_per_s'] / c['decode_sentences_per_s']:.1f}x; first calls incl. loading: "
             f"{c['first_encode_s']:.1f} s / {c['first_decode_s']:.1f} s)",
             f"generation, ms per concept (prompt {r['config']['prompt_concepts']}, {r['config']['gen_concepts']} concepts, KV cache):"]
    lines += [f"  {label:<14} {row['ms_per_concept']:9.2f} ms   {row['vs_mse']:6.1f}x MSE" for label, row in g.items()]
    lines.append(f"KV cache: {kv['cached_ms_per_concept']:.2f} vs {kv['uncached_ms_per_concept']:.2f} ms/concept uncached "
                 f"-> {kv['speedup']:.1f}x faster with the cache ({kv['concepts']} concepts; outputs equal: {kv['outputs_equal']})")
    lines.append(f"LCM vs same-width token model (d={ctx['d_model']}, {ctx['n_layers']} layers, vocab {ctx['vocab_size']}, "
                 f"{ctx['tokens_per_sentence']} tokens/sentence):")
    for n, row in ctx["by_tokens"].items():
        extra = f" (token model: {row['token_layers_timed']}/{row['token_layers']} layers timed)" \
            if row["token_layers_timed"] < row["token_layers"] else ""
        enc = f"; with {c['codec']} encoding {row['token_over_lcm_with_encoding']:.2f}x" if "token_over_lcm_with_encoding" in row else ""
        lines.append(f"  {n:>6} tokens / {row['sentences']:>4} sentences: LCM {1e3 * row['lcm_forward_s']:.1f} ms, token model "
                     f"{1e3 * row['token_forward_s']:.0f} ms -> {row['token_over_lcm']:.0f}x cheaper{enc}{extra}")
    lines.append(f"summarize end to end (codec {s['codec']}, {s['summary_sentences']}-sentence summary, synthetic input):")
    for n, row in s["by_sentences"].items():
        growth = next((f"; {v['size_ratio']:.0f}x sentences -> {v['time_ratio']:.1f}x time" for k, v in row.items()
                       if k.startswith("growth_vs_")), "")
        lines.append(f"  {n:>6} sentences: {row['total_s']:.2f} s (encode {row['encode_s']:.2f}, LCM {row['lcm_s']:.2f}, "
                     f"decode {row['decode_s']:.2f}), {row['ms_per_input_sentence']:.2f} ms/sentence{growth}")
    per_phase = all(p["peak_is_per_phase"] for p in r["phases"].values())
    lines.append("peak RSS per phase" + ("" if per_phase else " (process peak so far: VmHWM could not be reset)") + ":")
    lines += [f"  {name:<26} {p['peak_rss_mb']:6.0f} MB (+{p['peak_over_start_mb']:4.0f} MB in the phase, {p['seconds']:5.1f} s)"
              for name, p in r["phases"].items()]
    lines += ["notes:"] + [f"  - {n}" for n in r["notes"]]
    lines.append(f"total {r['environment']['total_s']:.1f} s")
    return "\n".join(lines)
