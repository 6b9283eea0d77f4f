"""`lcm generate`: continue a document by N sentences, in its language or another."""

import json
from functools import partial

from lcm.cli.common import add_command, check_sentences, generation_args, head_options, load_for_generation, read_input_text


def register(sub) -> None:
    """Add generate to the `lcm` subparsers."""
    add = partial(add_command, sub)

    p = add("generate", "continue a document by N sentences (in the same or another language)")
    p.add_argument("input", help="text file, or - for standard input")
    p.add_argument("-n", "--sentences", type=int, default=3, help="sentences to generate (default 3)")
    p.add_argument("--no-cache", action="store_true", help="disable the KV cache (slower; for checking)")
    p.add_argument("--json", action="store_true", help="print JSON with the prompt, continuation and stop reason")
    generation_args(p, detect=True)
    p.set_defaults(func=cmd_generate)


def cmd_generate(args) -> None:
    from encoders import segment
    from lcm.inference.generate import GenerationConfig, check_count, generate

    check_count(args.sentences)
    text = read_input_text(args.input)
    model, codec, src, tgt, model_dir = load_for_generation(args, text)
    check_sentences(args.sentences, model)
    sentences = segment(text, src)
    prompt = codec.encode(sentences, src)
    cfg = GenerationConfig(max_new=args.sentences, use_cache=not args.no_cache, seed=args.seed, head_options=head_options(args))
    (new,), (reason,) = generate(model, [prompt], cfg)
    texts = codec.decode(new, tgt) if len(new) else []
    if args.json:
        print(json.dumps({"prompt": sentences, "continuation": texts, "stopped": reason, "model": str(model_dir),
                          "codec": codec.name}, ensure_ascii=False, indent=2))
    else:
        print("\n".join(texts))
