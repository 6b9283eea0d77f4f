"""The application commands: `lcm summarize`, `lcm story`, `lcm infill`, `lcm interpolate`."""

import json
import os
from functools import partial

from encoders.errors import InputError
from lcm.cli.common import (add_command, check_codec_languages, check_sentences, check_writable, codec_args,
                            generation_args, head_options, load_codec_for, load_for_generation, load_model_codec,
                            read_input_text, source_language)

MAX_INTERPOLATION_STEPS = 1000  # each point is decoded into a sentence


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


def _input_documents(args) -> list[tuple[str, str, list[str]]]:
    """(name, language, sentences) for a file, a folder of .txt files, stdin (-) or JSONL (one document per line).

    Each document is read in its own language: a JSONL row's `lang`, else --src-lang, else (auto) detected from it."""
    from encoders import segment
    from lcm.data.documents import load_documents

    if args.input == "-":
        text = read_input_text("-")
        src = source_language(args, text)
        return [("stdin", src, segment(text, src))]
    several = os.path.isdir(args.input) or args.input.endswith(".jsonl")  # name the document a language guess is about
    docs = [(d.doc_id, d.lang, d.sentences) for d in load_documents(
        [args.input], args.src_lang, strict=True, detect=lambda text, name: source_language(args, text, several * name))]
    if not docs:
        raise InputError(f"{args.input!r} holds no document with a sentence to summarize")
    return docs


def cmd_summarize(args) -> None:
    from rich.console import Console
    from rich.progress import Progress

    from encoders.languages import AUTO, normalize_lang
    from lcm.apps.summarize import summarize, summary_length
    from lcm.inference.generate import GenerationConfig

    tgt = normalize_lang(args.tgt_lang) if args.tgt_lang else None  # None: each document in its own language
    if args.src_lang != AUTO:
        normalize_lang(args.src_lang)
    docs = _input_documents(args)
    model, codec, _ = load_model_codec(args)
    for _, src, _ in docs:
        check_codec_languages(codec, src, tgt or src, detected=args.src_lang == AUTO)
    gen = GenerationConfig(seed=args.seed, head_options=head_options(args), eot_threshold=0)
    results = []
    with Progress(console=Console(stderr=True), transient=True, disable=len(docs) < 2 and
                  sum(len(s) for _, _, s in docs) < 200) as progress:
        task = progress.add_task("summarizing", total=len(docs))
        step = progress.add_task("", total=None)  # inside one document: encoding, windows, decoding

        def show(stage: str, done: int, total: int) -> None:
            progress.update(step, description=f"  {stage} {done}/{total}", completed=done, total=total)

        for name, src, sentences in docs:
            n_out = summary_length(len(sentences), args.sentences, args.ratio)
            progress.update(task, description=f"summarizing {name} ({len(sentences)} sentences)")
            summary = summarize(model, codec, sentences, src, tgt or src, n_out, extractive=args.extractive, gen=gen,
                                progress=show)
            results.append((name, sentences, summary))
            progress.advance(task)
    for name, sentences, summary in results:
        _print_summary(args, name, sentences, summary, several=len(results) > 1)


def _print_summary(args, name: str, sentences: list[str], summary, several: bool) -> None:
    from lcm.data.audio_input import time_span  # audio input: each entry gets the time span it draws on

    if args.json:
        print(json.dumps({"document": name, "mode": summary.mode, "summary": summary.sentences,
                          "alignment": [{"summary_sentence": i, "closest_input_sentences": idx,
                                         "closest_input_text": [sentences[j] for j in idx], **time_span(name, idx)}
                                        for i, idx in enumerate(summary.alignment)]}, ensure_ascii=False))
        return
    if several:
        print(f"# {name}")
    if summary.mode == "extractive":
        print("[extractive: the input sentences closest to the predicted summary concepts, in document order]")
    print("\n".join(summary.sentences))


def cmd_story(args) -> None:
    from encoders import segment
    from lcm.apps.story import plan_config, plan_story, plot_trajectory
    from lcm.inference.generate import GenerationConfig

    if args.plot:
        check_writable(args.plot, "--plot")
    text = read_input_text(args.input)
    model, codec, src, tgt, _ = load_for_generation(args, text)
    check_sentences(args.sentences, model)
    sentences = segment(text, src)
    gen = GenerationConfig(seed=args.seed, head_options=head_options(args), eot_threshold=0)
    parallel = plan_config(args.parallel, args.passes, args.strength)
    prompt, plan = plan_story(model, codec, sentences, src, args.sentences, gen, parallel)
    text = codec.decode(plan, tgt)
    print("Outline:")
    for i, line in enumerate(text, 1):
        print(f"  {i}. {line}")
    if tgt == src:  # the opening, then the continuation as its own paragraph
        print("\nStory:\n" + " ".join(sentences) + "\n\n" + " ".join(text))
    else:
        print("\nStory:\n" + " ".join(text))
    if args.plot:
        plot_trajectory(prompt, plan, args.plot, "story plan: input vs planned concepts")
        print(f"\nplot written to {args.plot}")


def cmd_infill(args) -> None:
    from encoders import segment
    from lcm.apps.infill import infill
    from lcm.inference.generate import GenerationConfig

    before_text = read_input_text(args.before)
    model, codec, src, tgt, _ = load_for_generation(args, before_text)
    check_sentences(args.sentences, model)
    before = segment(before_text, src)
    after = segment(read_input_text(args.after), src)
    gen = GenerationConfig(seed=args.seed, head_options=head_options(args), eot_threshold=0)
    gap = infill(model, codec.encode(before, src), codec.encode(after, src), args.sentences, gen, args.candidates)
    print("\n".join(codec.decode(gap, tgt)))


def cmd_interpolate(args) -> None:
    from encoders.languages import normalize_lang
    from lcm.apps.infill import interpolate

    if not 2 <= args.steps <= MAX_INTERPOLATION_STEPS:
        raise InputError(f"--steps must be between 2 and {MAX_INTERPOLATION_STEPS} (points on the path, each decoded "
                         f"into a sentence), got {args.steps}")
    src, tgt = normalize_lang(args.src_lang), normalize_lang(args.tgt_lang or args.src_lang)
    codec = load_codec_for(args)
    check_codec_languages(codec, src, tgt)
    a, b = codec.encode([args.first, args.second], src)
    for i, text in enumerate(codec.decode(interpolate(a, b, args.steps), tgt)):
        print(f"{i / (args.steps - 1):.2f}  {text}")
