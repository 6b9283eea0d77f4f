"""The application commands: `lcm summarize`, `lcm story`, `lcm infill`, `lcm interpolate`."""

import json
from functools import partial

from lcm.cli.common import (add_command, codec_args, generation_args, head_options, load_codec_for, load_for_generation,
                            read_input_text, sample_text)


def register(sub) -> None:
    """Add summarize, story, infill and interpolate to the `lcm` subparsers."""
    add = partial(add_command, sub)

    p = add("summarize", "summarize a document (file, folder, JSONL or stdin) into the language of your choice")
    p.add_argument("input", help="text file, folder of .txt files, JSONL (one document per line) or - for stdin")
    p.add_argument("--sentences", type=int, help="summary length in sentences")
    p.add_argument("--ratio", type=float, help="summary length as a fraction of the input's sentences (default 0.2)")
    p.add_argument("--extractive", action="store_true",
                   help="output the input sentences closest to the predicted summary concepts (labelled as extractive)")
    p.add_argument("--json", action="store_true", help="JSON lines with the summary and its source alignment")
    generation_args(p, detect=True)
    p.set_defaults(func=cmd_summarize)

    p = add("story", "plan the next N ideas of a story as concepts, then write them out (outline, then text)")
    p.add_argument("input", help="premise or opening sentences: a text file, or - for stdin")
    p.add_argument("-n", "--sentences", type=int, default=5, help="concepts to plan (default 5)")
    p.add_argument("--plot", help="write a PNG of the plan's concept trajectory (PCA) here")
    p.add_argument("--parallel", type=int, metavar="K",
                   help="parallel plan diffusion: denoise K concepts at a time jointly (diffusion models only)")
    p.add_argument("--passes", type=int, default=1,
                   help="with --parallel: denoising passes per block; each pass after the first re-noises and revises it (default 1)")
    p.add_argument("--strength", type=float, default=0.5,
                   help="with --parallel: share of the sampler steps each refinement pass re-runs (default 0.5)")
    generation_args(p, detect=True)
    p.set_defaults(func=cmd_story)

    p = add("infill", "write the missing sentence(s) between a passage before a gap and a passage after it")
    p.add_argument("before", help="text before the gap (file, or - for stdin)")
    p.add_argument("after", help="text after the gap (file)")
    p.add_argument("-n", "--sentences", type=int, default=1, help="sentences in the gap (default 1)")
    p.add_argument("--candidates", type=int, default=4, help="continuations tried per gap (default 4)")
    generation_args(p, detect=True)
    p.set_defaults(func=cmd_infill)

    p = add("interpolate", "walk between two sentences in concept space and decode each step")
    p.add_argument("first", help="the first sentence")
    p.add_argument("second", help="the second sentence")
    p.add_argument("--steps", type=int, default=5, help="points on the path, endpoints included (default 5)")
    p.add_argument("--src-lang", default="en")
    p.add_argument("--tgt-lang", help="language to decode into (default: same as input)")
    codec_args(p)
    p.set_defaults(func=cmd_interpolate)


def _input_documents(args, src: str) -> list[tuple[str, list[str]]]:
    """(name, sentences) for a file, a folder of .txt files, stdin (-) or JSONL (one document per line)."""
    from encoders import segment
    from lcm.data.documents import load_documents

    if args.input == "-":
        return [("stdin", segment(read_input_text("-"), src))]
    return [(d.doc_id, d.sentences) for d in load_documents([args.input], src)]


def cmd_summarize(args) -> None:
    from rich.console import Console
    from rich.progress import Progress

    from lcm.apps.summarize import summarize, summary_length
    from lcm.data.audio_input import time_span  # audio input: each entry gets the time span it draws on
    from lcm.inference.generate import GenerationConfig

    model, codec, src, tgt, _ = load_for_generation(args, sample_text(args.input))
    docs = _input_documents(args, src)
    gen = GenerationConfig(seed=args.seed, head_options=head_options(args), eot_threshold=0)
    results = []
    with Progress(console=Console(stderr=True), transient=True, disable=len(docs) < 2 and
                  sum(len(s) for _, s in docs) < 200) as progress:
        task = progress.add_task("summarizing", total=len(docs))
        step = progress.add_task("", total=None)  # inside one document: encoding, windows, decoding

        def show(stage: str, done: int, total: int) -> None:
            progress.update(step, description=f"  {stage} {done}/{total}", completed=done, total=total)

        for name, sentences in docs:
            n_out = summary_length(len(sentences), args.sentences, args.ratio)
            progress.update(task, description=f"summarizing {name} ({len(sentences)} sentences)")
            summary = summarize(model, codec, sentences, src, tgt, n_out, extractive=args.extractive, gen=gen,
                                progress=show)
            results.append((name, sentences, summary))
            progress.advance(task)
    for name, sentences, summary in results:
        if args.json:
            print(json.dumps({"document": name, "mode": summary.mode, "summary": summary.sentences,
                              "alignment": [{"summary_sentence": i, "closest_input_sentences": idx,
                                             "closest_input_text": sentences[idx[0]], **time_span(name, idx)}
                                            for i, idx in enumerate(summary.alignment)]}, ensure_ascii=False))
        else:
            if len(results) > 1:
                print(f"# {name}")
            if summary.mode == "extractive":
                print("[extractive: the input sentences closest to the predicted summary concepts]")
            print("\n".join(summary.sentences))


def cmd_story(args) -> None:
    from encoders import segment
    from lcm.apps.story import plan_config, plan_story, plot_trajectory
    from lcm.inference.generate import GenerationConfig

    text = read_input_text(args.input)
    model, codec, src, tgt, _ = load_for_generation(args, text)
    sentences = segment(text, src)
    gen = GenerationConfig(seed=args.seed, head_options=head_options(args), eot_threshold=0)
    parallel = plan_config(args.parallel, args.passes, args.strength)
    prompt, plan = plan_story(model, codec, sentences, src, args.sentences, gen, parallel)
    text = codec.decode(plan, tgt)
    print("Outline:")
    for i, line in enumerate(text, 1):
        print(f"  {i}. {line}")
    print("\nStory:\n" + " ".join(sentences + text) if tgt == src else "\nStory:\n" + " ".join(text))
    if args.plot:
        plot_trajectory(prompt, plan, args.plot, "story plan: input vs planned concepts")
        print(f"\nplot written to {args.plot}")


def cmd_infill(args) -> None:
    from encoders import segment
    from lcm.apps.infill import infill
    from lcm.inference.generate import GenerationConfig

    before_text = read_input_text(args.before)
    model, codec, src, tgt, _ = load_for_generation(args, before_text)
    before = segment(before_text, src)
    after = segment(read_input_text(args.after), src)
    gen = GenerationConfig(seed=args.seed, head_options=head_options(args), eot_threshold=0)
    gap = infill(model, codec.encode(before, src), codec.encode(after, src), args.sentences, gen, args.candidates)
    print("\n".join(codec.decode(gap, tgt)))


def cmd_interpolate(args) -> None:
    from encoders.languages import normalize_lang
    from lcm.apps.infill import interpolate

    codec = load_codec_for(args)
    src, tgt = normalize_lang(args.src_lang), normalize_lang(args.tgt_lang or args.src_lang)
    a, b = codec.encode([args.first, args.second], src)
    for i, text in enumerate(codec.decode(interpolate(a, b, args.steps), tgt)):
        print(f"{i / (args.steps - 1):.2f}  {text}")
