"""What `lcm bench` measures and at what size (the quick and full presets), and the synthetic input sentences."""

from __future__ import annotations

import random
from dataclasses import dataclass


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
