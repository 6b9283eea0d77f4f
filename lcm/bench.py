"""`lcm bench`: what an LCM costs, measured side by side in one run, written as JSON + PNG plots.

Phases (each with its wall time and peak RSS): codec encode/decode throughput; generation cost per concept for each
head (MSE, diffusion at several step counts, quantized); KV cache vs none; the LCM forward vs a same-width token-level
causal transformer over the same document; and `summarize` end to end at growing document sizes.
Ratios come from timings taken in the same process, one after another; nothing is compared across runs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from encoders.errors import InputError

SHIPPED = {"mse": "base_lcm", "diffusion": "two_tower", "quantized": "quant_lcm"}  # head -> lcm/pretrained/<name>
PRETRAINED = Path(__file__).parent / "pretrained"
RECIPES = Path(__file__).resolve().parents[1] / "recipes"


@dataclass
class BenchConfig:
    """Sizes of every measurement; `quick` and `full` presets below."""

    encode_sentences: int = 512  # sentences encoded for the codec throughput
    decode_sentences: int = 64  # concepts decoded for the codec throughput
    prompt_concepts: int = 16  # prompt length for generation
    gen_concepts: int = 32  # concepts generated per head setting
    diffusion_steps: tuple[int, ...] = (5, 10, 40)  # diffusion sampling steps to compare
    sampler: str = "ddim"  # diffusion sampler (ddim | dpmpp | euler); other decoding options at their defaults
    kv_concepts: int = 256  # concepts generated for the KV-cache comparison
    token_lengths: tuple[int, ...] = (1000, 5000, 20000)  # document lengths in tokens for the LCM vs token model
    tokens_per_sentence: int = 25  # assumed tokens per sentence: the LCM sees tokens / this many positions
    vocab_size: int = 32000  # vocabulary of the token-level model (its embedding and LM head)
    full_depth_up_to: int = 0  # token lengths above this time 1 layer and scale by depth (0 = always all layers)
    summarize_sizes: tuple[int, ...] = (100, 1000, 10000)  # document sizes (sentences) for summarize end to end
    summary_sentences: int = 5  # fixed summary length, so the cost reflects the input size
    summarize_codec: str = ""  # codec for the summarize phase ("" = the benchmarked codec)
    repeats: int = 3  # timings of short operations take the best of this many runs


def full_config() -> BenchConfig:
    return BenchConfig()


def quick_config() -> BenchConfig:
    """Fits in < 2 minutes on 2 shared CPU cores: fewer samples, and the 20k-token model is timed on one layer."""
    return BenchConfig(encode_sentences=48, decode_sentences=4, gen_concepts=8, kv_concepts=48, full_depth_up_to=5000,
                       summarize_codec="hashing", repeats=2)


PRESETS = {"full": full_config, "quick": quick_config}

WORDS = ("river stone lantern harbor winter garden bridge market candle forest letter window mountain violin orchard "
         "station ribbon meadow castle silver teacher village storm ship doctor painter island road").split()
VERBS = "found carried watched opened remembered crossed painted lost followed built".split()


def synthetic_sentences(n: int, seed: int = 0) -> list[str]:
    """n distinct English-like sentences of 10-16 words (synthetic: the bench measures cost, not quality)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        extra = " ".join(f"and the {rng.choice(WORDS)}" for _ in range(rng.randint(0, 2)))
        out.append(f"The {rng.choice(WORDS)} {rng.choice(VERBS)} the {rng.choice(WORDS)} near the {rng.choice(WORDS)} "
                   f"{extra} on day {i}.".replace("  ", " "))
    return out


# ---- measuring -----------------------------------------------------------------------------------------------------
def _status_mb(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter (VmHWM) of this process; False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class PhaseMeter:
    """Wall time and peak RSS of named phases. Peak RSS is per phase where Linux lets us reset VmHWM, else the
    process peak so far (ru_maxrss), and the report says which."""

    def __init__(self, log=print):
        self.phases: dict[str, dict] = {}
        self.log = log

    @contextmanager
    def phase(self, name: str):
        self.log(f"[bench] {name} ...")
        per_phase = _reset_peak_rss()
        start_rss, start = _status_mb("VmRSS"), time.perf_counter()
        yield
        if per_phase:
            peak = _status_mb("VmHWM")
        else:
            import resource

            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        peak = max(peak, start_rss)  # the kernel's high-water mark lags RSS by a page-counter batch
        self.phases[name] = {"seconds": time.perf_counter() - start, "start_rss_mb": start_rss, "peak_rss_mb": peak,
                             "peak_over_start_mb": peak - start_rss, "peak_is_per_phase": per_phase}


def best_time(fn, repeats: int):
    """(fastest wall time of `repeats` calls, last result): the minimum is the least disturbed by other load."""
    best, result = math.inf, None
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


class TimedCodec:
    """Wraps a codec and adds up the time spent in encode and decode (summarize calls both internally)."""

    def __init__(self, codec):
        self.codec, self.encode_s, self.decode_s = codec, 0.0, 0.0
        self.name, self.dim, self.languages = codec.name, codec.dim, codec.languages

    def encode(self, sentences, lang):
        start = time.perf_counter()
        out = self.codec.encode(sentences, lang)
        self.encode_s += time.perf_counter() - start
        return out

    def decode(self, concepts, lang):
        start = time.perf_counter()
        out = self.codec.decode(concepts, lang)
        self.decode_s += time.perf_counter() - start
        return out


# ---- the token-level baseline --------------------------------------------------------------------------------------
class TokenTransformer:
    """Same-width token-level causal LM: embedding -> the LCM's own Block layers -> RMSNorm -> LM head.

    Attention runs with is_causal (PyTorch's memory-efficient flash kernel, no T x T mask; the LCM runs its own
    masked attention, so this only favours the token model), and the LM head runs in chunks of `chunk` tokens so
    20k-token documents fit in memory.
    """

    def __init__(self, model_cfg, vocab_size: int, chunk: int = 2048):
        from torch import nn

        from lcm.model import Block

        self.cfg, self.chunk = model_cfg, chunk
        self.embed = nn.Embedding(vocab_size, model_cfg.d_model)
        self.blocks = nn.ModuleList(Block(model_cfg) for _ in range(model_cfg.n_layers)).eval()
        self.norm = nn.RMSNorm(model_cfg.d_model, eps=1e-6)
        self.lm_head = nn.Linear(model_cfg.d_model, vocab_size, bias=False)

    def num_parameters(self) -> int:
        return sum(p.numel() for m in (self.embed, self.blocks, self.norm, self.lm_head) for p in m.parameters())

    def block(self, block, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """One LCM Block with causal flash attention: x (B, T, d), positions (B, T) -> (B, T, d)."""
        import torch.nn.functional as F

        from lcm.model import rotary

        B, T, d = x.shape
        H = self.cfg.n_heads
        q, k, v = block.attn.qkv(block.attn_norm(x)).view(B, T, 3, H, d // H).permute(2, 0, 3, 1, 4)  # (B, H, T, hd)
        q, k = rotary(q, positions, self.cfg.rope_theta), rotary(k, positions, self.cfg.rope_theta)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, H, T, hd)
        x = x + block.attn.out(y.transpose(1, 2).reshape(B, T, d))
        return x + block.ffn(block.ffn_norm(x))  # (B, T, d)

    def head(self, x: torch.Tensor) -> float:
        """Final norm + LM head over all positions in chunks; returns a checksum so no work is optimised away."""
        total = 0.0
        for i in range(0, x.shape[1], self.chunk):
            total += float(self.lm_head(self.norm(x[:, i:i + self.chunk])).amax())  # (B, chunk, V) -> scalar
        return total

    def __call__(self, tokens: torch.Tensor, n_blocks: int | None = None) -> float:
        """tokens (B, T) -> checksum of the logits, running the first n_blocks layers (all by default)."""
        import torch

        with torch.no_grad():
            x = self.embed(tokens)  # (B, T, d)
            positions = torch.arange(tokens.shape[1])[None]  # (1, T)
            for block in self.blocks[:n_blocks]:
                x = self.block(block, x, positions)
            return self.head(x)


def lcm_forward(model, concepts: torch.Tensor) -> float:
    """The LCM's forward over a whole document: PreNet -> backbone -> PostNet at every position (MSE head)."""
    import torch

    with torch.no_grad():
        valid = torch.ones(concepts.shape[:2], dtype=torch.bool)  # (1, N)
        hidden, _ = model.hidden(concepts, valid)  # (1, N, d)
        return float(model.head.postnet(hidden).amax())  # (1, N, D) -> scalar


# ---- models --------------------------------------------------------------------------------------------------------
def load_models(kind: str, dim: int, log=print) -> dict:
    """head -> (model, where it came from). kind: shipped (lcm/pretrained, else random init of the *_embedded recipe
    of the same size) or tiny (random init of the *_tiny recipes, for tests)."""
    import torch

    from lcm.checkpoint import build_model, load_model, read_model_config
    from lcm.config import load_recipe

    models = {}
    for head, name in SHIPPED.items():
        path = PRETRAINED / name
        shipped = kind == "shipped" and (path / "config.json").is_file()
        recipe_path = RECIPES / f"{name}_{'tiny' if kind == 'tiny' else 'embedded'}.yaml"
        recipe = read_model_config(path)[0] if shipped else load_recipe(recipe_path)
        if recipe.model.concept_dim != dim:
            raise InputError(f"the {head} model makes {recipe.model.concept_dim}-d concepts but the codec makes {dim}-d "
                             "ones; use --codec embedded with --models shipped, --codec hashing with --models tiny")
        if shipped:
            models[head] = (load_model(path)[0], f"shipped weights {path}")
        else:
            model = build_model(recipe).eval()
            sample = torch.randn(4096, dim)  # (N, D)
            model.normalizer.fit(sample)
            if head == "quantized":  # codebooks fitted on random vectors: sampling cost does not depend on them
                model.head.quantizer.fit(model.normalizer.normalize(sample), init="random", epochs=1, lloyd_iters=0)
            models[head] = (model, f"random init of {recipe_path.relative_to(RECIPES.parent)} (no trained weights)")
        log(f"[bench] {head}: {models[head][1]}, {models[head][0].num_parameters() / 1e6:.2f}M parameters")
    return models


# ---- phases --------------------------------------------------------------------------------------------------------
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
    from lcm.generate import GenerationConfig, generate

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
    from lcm.apps import summarize
    from lcm.generate import GenerationConfig

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


# ---- command line --------------------------------------------------------------------------------------------------
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


def _write_json(data: dict, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


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
    from lcm.plots import plot_bench

    report["plots"] = [str(p) for p in plot_bench(report, out)]
    _write_json(report, out / "bench.json")
    print(format_report(report))
    print(f"\nwrote {out / 'bench.json'} and {len(report['plots'])} plots to {out}")
    return report


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


def main(argv: list[str] | None = None) -> int:
    """`python -m lcm.bench --quick` works before the `lcm bench` subcommand is wired."""
    parser = argparse.ArgumentParser(prog="lcm bench", description=__doc__.splitlines()[0])
    add_bench_arguments(parser)
    try:
        run_bench(parser.parse_args(argv))
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
