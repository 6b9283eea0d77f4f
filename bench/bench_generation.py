"""KV-cached vs uncached generation: time to generate N concepts with a randomly initialised Base-LCM.

Prints both timings and their ratio, measured in the same run. Target: >= 5x on CPU for 256 concepts.
Usage: python bench/bench_generation.py [--concepts 256] [--d-model 512] [--layers 6] [--threads 2]
"""

import argparse
import time

import torch

from encoders.shared.recipes import from_dict
from lcm.config import RecipeConfig
from lcm.inference.generate import GenerationConfig, generate
from lcm.model.concept_model import build_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concepts", type=int, default=256)
    parser.add_argument("--prompt", type=int, default=16, help="prompt length in concepts")
    parser.add_argument("--d-model", type=int, default=512)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--dim", type=int, default=512, help="concept dimension")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    recipe = from_dict(RecipeConfig, {"model": {"concept_dim": args.dim, "d_model": args.d_model, "n_layers": args.layers,
                                                "n_heads": 8, "max_len": args.prompt + args.concepts}})
    model = build_model(recipe).eval()
    model.normalizer.fit(torch.randn(1000, args.dim))
    prompts = [torch.randn(args.prompt, args.dim)]
    results = {}
    for use_cache in (True, False):
        cfg = GenerationConfig(max_new=args.concepts, eot_threshold=0, use_cache=use_cache)
        generate(model, prompts, GenerationConfig(max_new=4, eot_threshold=0, use_cache=use_cache))  # warm-up
        start = time.perf_counter()
        (out,), _ = generate(model, prompts, cfg)
        results[use_cache] = (time.perf_counter() - start, out)
    diff = (results[True][1] - results[False][1]).abs().max(dim=-1).values  # (N,) per generated concept
    # fp32 rounding differs between the two paths and compounds over hundreds of autoregressive steps
    agreement = f"max |cached - uncached|: first 16 concepts {diff[:16].max():.1e}, all {diff.max():.1e}"
    print(f"model: d_model={args.d_model} layers={args.layers} params={model.num_parameters() / 1e6:.1f}M, "
          f"prompt={args.prompt}, generated={args.concepts} concepts, threads={args.threads}")
    print(f"cached   : {results[True][0]:.3f} s  ({results[True][0] / args.concepts * 1e3:.2f} ms/concept)")
    print(f"uncached : {results[False][0]:.3f} s  ({results[False][0] / args.concepts * 1e3:.2f} ms/concept)")
    print(f"speed-up cached/uncached: {results[False][0] / results[True][0]:.1f}x   {agreement}")


if __name__ == "__main__":
    main()
