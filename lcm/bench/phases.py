"""The phases of `lcm bench`: codec throughput, generation per head, KV cache, LCM vs token model, summarize."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from lcm.bench.config import BenchConfig, synthetic_sentences
from lcm.bench.measure import PhaseMeter, TimedCodec, best_time
from lcm.bench.token_model import TokenTransformer, lcm_forward

if TYPE_CHECKING:
    import torch


def bench_codec(codec, cfg: BenchConfig) -> tuple[dict, torch.Tensor]:
    sentences = synthetic_sentences(cfg.encode_sentences, seed=1)
    start = time.perf_counter()
    warm = codec.encode(sentences[:1], "eng_Latn")  # loads lazily-built encoders
    first_encode = time.perf_counter() - start
    encode_s, concepts = best_time(lambda: codec.encode(sentences, "eng_Latn"), 1)
    start = time.perf_counter()
    codec.decode(warm, "eng_Latn")  # loads the decoder
    first_decode = time.perf_counter() - start
    to_decode = concepts[:cfg.decode_sentences]  # (M, D)
    decode_s, _ = best_time(lambda: codec.decode(to_decode, "eng_Latn"), 1)
    return {"codec": codec.name, "dim": codec.dim, "encode_sentences": len(sentences),
            "encode_sentences_per_s": len(sentences) / encode_s, "decode_sentences": len(to_decode),
            "decode_sentences_per_s": len(to_decode) / decode_s, "first_encode_s": first_encode,
            "first_decode_s": first_decode}, concepts


def time_generation(model, prompt: torch.Tensor, n: int, repeats: int, **options):
    """Best wall time to generate n concepts after `prompt` (after a warm-up), and the concepts (n, D)."""
    from lcm.inference.generate import GenerationConfig, generate

    def run(max_new):
        return generate(model, [prompt], GenerationConfig(max_new=max_new, eot_threshold=0, **options))[0][0]

    run(2)
    return best_time(lambda: run(n), repeats)


def bench_generation(models: dict, prompt: torch.Tensor, cfg: BenchConfig) -> dict:
    settings = [("mse", "mse", {})] + [(f"diffusion_{s}", "diffusion", {"sampler": cfg.sampler, "steps": s})
                                       for s in cfg.diffusion_steps] + [("quantized", "quantized", {})]
    out = {}
    for label, head, options in settings:
        seconds, _ = time_generation(models[head][0], prompt, cfg.gen_concepts, cfg.repeats, head_options=options)
        out[label] = {"ms_per_concept": 1e3 * seconds / cfg.gen_concepts, "options": options}
    for row in out.values():
        row["vs_mse"] = row["ms_per_concept"] / out["mse"]["ms_per_concept"]
    return out


def bench_kv_cache(model, prompt: torch.Tensor, cfg: BenchConfig) -> dict:
    import torch

    n = cfg.kv_concepts
    cached_s, cached = time_generation(model, prompt, n, cfg.repeats, use_cache=True)
    uncached_s, uncached = time_generation(model, prompt, n, cfg.repeats, use_cache=False)
    return {"concepts": n, "prompt": len(prompt), "cached_ms_per_concept": 1e3 * cached_s / n,
            "uncached_ms_per_concept": 1e3 * uncached_s / n, "speedup": uncached_s / cached_s,
            "outputs_equal": bool(torch.allclose(cached, uncached, atol=1e-3))}


def bench_context(model, cfg: BenchConfig, encode_per_s: float | None, meter: PhaseMeter) -> dict:
    import torch

    mcfg = model.cfg
    token_model = TokenTransformer(mcfg, cfg.vocab_size)
    rows = {}
    for n_tokens in cfg.token_lengths:
        with meter.phase(f"context_{n_tokens}_tokens"):
            n_sent = max(1, math.ceil(n_tokens / cfg.tokens_per_sentence))
            concepts = torch.randn(1, n_sent, mcfg.concept_dim)  # (1, N, D)
            tokens = torch.randint(0, cfg.vocab_size, (1, n_tokens))  # (1, T)
            if not rows:  # warm both up once (first calls pay one-off allocation and thread start-up)
                lcm_forward(model, concepts[:, :8])
                token_model(tokens[:, :64])
            lcm_s, _ = best_time(lambda: lcm_forward(model, concepts), cfg.repeats)
            depth = mcfg.n_layers
            if cfg.full_depth_up_to and n_tokens > cfg.full_depth_up_to and depth > 1:
                with torch.no_grad():
                    x = token_model.embed(tokens)  # (1, T, d)
                    positions = torch.arange(n_tokens)[None]  # (1, T)
                    layer_s, _ = best_time(lambda: token_model.block(token_model.blocks[0], x, positions), 1)
                rest_s, _ = best_time(lambda: token_model(tokens, n_blocks=0), 1)  # embedding + norm + LM head
                token_s, timed_layers = rest_s + depth * layer_s, 1  # the layers are identical in shape and cost
            else:
                token_s, _ = best_time(lambda: token_model(tokens), cfg.repeats if n_tokens <= 5000 else 1)
                timed_layers = depth
            row = {"sentences": n_sent, "lcm_forward_s": lcm_s, "token_forward_s": token_s,
                   "token_over_lcm": token_s / lcm_s, "token_layers_timed": timed_layers, "token_layers": depth}
            if encode_per_s:
                row["lcm_with_encoding_s"] = lcm_s + n_sent / encode_per_s
                row["token_over_lcm_with_encoding"] = token_s / row["lcm_with_encoding_s"]
            rows[str(n_tokens)] = row
    return {"d_model": mcfg.d_model, "n_layers": mcfg.n_layers, "n_heads": mcfg.n_heads, "max_len": mcfg.max_len,
            "vocab_size": cfg.vocab_size,
            "tokens_per_sentence": cfg.tokens_per_sentence,
            "token_model_parameters": token_model.num_parameters(),
            "lcm_parameters": model.num_parameters(), "by_tokens": rows}


def bench_summarize(model, make_codec, cfg: BenchConfig, meter: PhaseMeter) -> dict:
    from lcm.apps.summarize import summarize
    from lcm.inference.generate import GenerationConfig

    rows, name = {}, None
    for n in cfg.summarize_sizes:
        with meter.phase(f"summarize_{n}_sentences"):
            codec = TimedCodec(make_codec())
            name = codec.name
            sentences = synthetic_sentences(n, seed=2)
            start = time.perf_counter()
            summary = summarize(model, codec, sentences, "eng_Latn", "eng_Latn", cfg.summary_sentences,
                                gen=GenerationConfig(eot_threshold=0))
            total = time.perf_counter() - start
            rows[str(n)] = {"total_s": total, "encode_s": codec.encode_s, "decode_s": codec.decode_s,
                            "lcm_s": total - codec.encode_s - codec.decode_s, "ms_per_input_sentence": 1e3 * total / n,
                            "summary_sentences": len(summary.sentences)}
    sizes = [str(n) for n in cfg.summarize_sizes]
    for small, big in zip(sizes, sizes[1:]):  # time_ratio == size_ratio: linear growth; its square: quadratic
        rows[big]["growth_vs_" + small] = {"size_ratio": int(big) / int(small),
                                          "time_ratio": rows[big]["total_s"] / rows[small]["total_s"]}
    return {"codec": name, "summary_sentences": cfg.summary_sentences, "by_sentences": rows}
