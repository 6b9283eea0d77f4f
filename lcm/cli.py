"""The `lcm` command line. Every user mistake ends in one clear `error:` line and exit code 2."""

import argparse
import json
import os
import sys
from pathlib import Path

from encoders.errors import InputError

PRETRAINED = Path(__file__).parent / "pretrained"
DEFAULT_MODELS = {"mse": "base_lcm", "diffusion": "two_tower", "quantized": "quant_lcm"}

EXAMPLES = {
    "encode": "lcm encode story.txt --lang en -o shards/\n  lcm encode corpus.jsonl docs/ --codec embedded --lang fr -o shards/",
    "decode": "lcm decode shards/shard_00000.parquet --lang de\n  lcm decode concepts.npy --lang zh",
    "prepare": "lcm prepare ~/.cache/lcm-toolkit/corpora/documents.jsonl --split train -o shards/train\n"
               "  torchrun --nproc_per_node 2 -m lcm prepare docs.jsonl -o shards/ --codec embedded",
    "train": "lcm train recipes/base_lcm_tiny.yaml data.train=shards/ train.steps=200\n"
             "  lcm train recipes/two_tower_small.yaml train.out_dir=runs/tt model.d_model=384",
    "summarize": "lcm summarize examples/prodigal_son.de.txt --src-lang de --tgt-lang en --sentences 3\n"
                 "  lcm summarize paper.txt --model base_lcm_sum --sentences 5   # fine-tuned on paper -> abstract\n"
                 "  cat article.txt | lcm summarize - --ratio 0.1 --json\n  lcm summarize docs.jsonl --extractive",
    "eval": "lcm eval shards/test --round-trip 200 --out report.json\n  lcm eval pairs.jsonl --src-lang en --max-docs 20",
    "xling": "lcm xling ~/.cache/lcm-toolkit/lcm-data/docs_test.jsonl --langs en,fr,de,es,zh -o xling/\n"
             "  lcm xling test.jsonl --langs en,de --tgt-lang en --round-trip 50 --head diffusion",
    "bench": "lcm bench --quick --out bench/\n  lcm bench --codec embedded --out bench_full/",
    "plot": "lcm plot loss runs/base_lcm_embedded -o loss.png\n  lcm plot loss runs/a runs/b -o compare.png",
    "infill": "lcm infill before.txt after.txt -n 1\n  lcm infill before.txt after.txt --head diffusion --candidates 8",
    "interpolate": "lcm interpolate 'The king was angry.' 'The queen laughed.' --steps 5 --tgt-lang fr",
    "story": "lcm story examples/ruth_1.en.txt -n 5 --plot plan.png\n  lcm story premise.txt --tgt-lang fr --head diffusion\n"
             "  lcm story examples/ruth_1.en.txt -n 8 --head diffusion --parallel 8 --sampler dpmpp --steps 10\n"
             "  lcm story examples/ruth_1.en.txt -n 8 --head diffusion --parallel 4 --passes 2 --strength 0.5",
    "generate": "lcm generate story.txt -n 3\n  echo 'It was a dark night. The wind howled.' | lcm generate - --tgt-lang fr\n"
                "  lcm generate story.txt --head diffusion --sampler dpmpp --steps 10 --guidance 3",
}


def _codec_options(pairs: list[str]) -> dict:
    import yaml

    options = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise InputError(f"--codec-opt {pair!r} must look like key=value")
        key, value = pair.split("=", 1)
        options[key] = yaml.safe_load(value)
    return options


def load_codec_for(args, model_codec: "str | None" = None):
    from encoders import load_codec

    name = args.codec or model_codec or "embedded"
    return load_codec(name, **_codec_options(args.codec_opt))


def shipped_models() -> list[str]:
    return sorted(p.name for p in PRETRAINED.iterdir() if (p / "config.json").is_file())


def resolve_model(args) -> Path:
    """--model DIR or the name of a shipped model (e.g. base_lcm_sum), else the shipped default model for --head."""
    if args.model:
        path = Path(args.model)
        if not path.exists() and (PRETRAINED / args.model / "config.json").is_file():
            return PRETRAINED / args.model
        if not path.exists():
            raise InputError(f"--model {args.model!r}: no such folder and no shipped model of that name; give a folder "
                             f"written by `lcm train`, or one of: {', '.join(shipped_models())}")
        return path
    path = PRETRAINED / DEFAULT_MODELS[args.head]
    if not (path / "config.json").is_file():
        raise InputError(f"no shipped {args.head} model at {path}; train one with `lcm train recipes/{DEFAULT_MODELS[args.head]}_embedded.yaml` "
                         "or pass --model DIR")
    return path


NOTES: "list[str]" = []  # printed to stderr after a command succeeds (an error is the only message otherwise)
_STDIN: "list[str]" = []  # standard input, read once: language detection and the command both look at it


def read_input_text(source: str) -> str:
    from lcm.data import read_text_file

    if source == "-":
        if not _STDIN:
            _STDIN.append(sys.stdin.read())
        if not _STDIN[0].strip():
            raise InputError("standard input is empty; pipe some text in or give a file")
        return _STDIN[0]
    return read_text_file(source)


def sample_text(source: str) -> str:
    """Text to detect the input's language from: stdin or the file, or the first document of a folder or JSONL."""
    path = Path(source)
    if source != "-" and path.is_dir():
        files = sorted(f for f in path.rglob("*") if f.suffix in (".txt", ".jsonl"))
        if not files:
            raise InputError(f"no .txt or .jsonl files found in {source!r}")
        path, source = files[0], str(files[0])
    text = read_input_text(source)
    if path.suffix == ".jsonl":
        try:
            row = json.loads(next(line for line in text.splitlines() if line.strip()))
        except (json.JSONDecodeError, StopIteration):
            raise InputError(f"{source}: the first line is not a JSON object; fix it or give --src-lang") from None
        return row.get("text") if isinstance(row.get("text"), str) else " ".join(map(str, row.get("sentences", [])))
    return text


def cmd_encode(args) -> None:
    from rich.progress import Progress

    from encoders.languages import normalize_lang
    from lcm.data import EOT_SENTENCE, load_documents, write_shard

    codec = load_codec_for(args)
    lang = normalize_lang(args.lang)  # the codec checks it supports the language when it encodes
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"codec": codec.name, "dim": codec.dim, "eot": codec.encode([EOT_SENTENCE], "eng_Latn")[0].tolist()}
    shard, docs, n_docs, n_sents = 0, [], 0, 0
    with Progress(transient=True) as progress:
        task = progress.add_task("encoding", total=None)
        for doc in load_documents(args.inputs, lang, args.text_field):
            doc.lang = normalize_lang(doc.lang)
            doc.concepts = codec.encode(doc.sentences, doc.lang).numpy()
            docs.append(doc)
            n_docs, n_sents = n_docs + 1, n_sents + len(doc.sentences)
            progress.update(task, advance=len(doc.sentences), description=f"encoding: {n_docs} docs")
            if len(docs) == args.docs_per_shard:
                write_shard(out / f"shard_{shard:05d}.parquet", docs, codec.dim, meta)
                shard, docs = shard + 1, []
    if docs:
        write_shard(out / f"shard_{shard:05d}.parquet", docs, codec.dim, meta)
        shard += 1
    if n_sents == 0:
        raise InputError("the input had no sentences to encode")
    print(f"wrote {n_docs} documents, {n_sents} sentences ({codec.name}, {codec.dim}-d) to {shard} shard(s) in {out}")


def cmd_decode(args) -> None:
    import numpy as np
    import torch

    from lcm.data import read_shard, shard_paths

    codec = load_codec_for(args)
    path = Path(args.input)
    if path.suffix == ".npy":
        try:
            arrays = [("concepts", np.load(path))]
        except (ValueError, OSError) as err:
            raise InputError(f"{str(path)!r} is not a readable .npy file ({err})") from None
    else:
        docs = [d for p in shard_paths(args.input) for d in read_shard(p)]
        if hasattr(codec, "add_to_bank"):  # a retrieval codec decodes to the nearest sentence it knows: the shards' own
            for d in docs:
                codec.add_to_bank(d.sentences, torch.from_numpy(d.concepts.copy()))
        arrays = [(d.doc_id, d.concepts) for d in docs]
    for doc_id, concepts in arrays:
        texts = codec.decode(torch.tensor(np.asarray(concepts), dtype=torch.float32), args.lang)
        print(f"# {doc_id}\n" + "\n".join(texts))


def cmd_prepare(args) -> None:
    from rich.progress import Progress

    from lcm.prepare import prepare, write_manifest

    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    codec = load_codec_for(args)
    filters = {"sources": tuple(args.source or ()), "splits": tuple(args.split or ()), "langs": tuple(args.doc_lang or ())}
    with Progress(disable=rank != 0) as progress:
        task = progress.add_task(f"preparing (rank {rank}/{world})", total=None)
        written = prepare(args.input, args.out, codec, docs_per_shard=args.docs_per_shard, rank=rank, world_size=world,
                          filters=filters, progress=lambda i, n: progress.update(task, advance=n))
    if world > 1:  # every rank must finish before the manifest is written
        import torch.distributed as dist

        dist.init_process_group("gloo")
        dist.barrier()
        dist.destroy_process_group()
    if rank == 0:
        print(f"rank 0 wrote {len(written)} shard(s); manifest: {write_manifest(args.out)}")


def cmd_train(args) -> None:
    from lcm.distributed import init_distributed, shutdown
    from lcm.presets import load
    from lcm.train import train

    recipe = load(args.recipe, args.overrides)  # a YAML recipe, or a preset name such as two_tower_1_6b
    env = init_distributed(recipe.train.device)  # under torchrun (RANK/WORLD_SIZE set): one process group per job
    try:
        out = train(recipe, resume=not args.no_resume, show_progress=not args.quiet, rank=env.rank,
                    world_size=env.world_size)
    finally:
        shutdown()
    if env.rank == 0:
        print(f"model written to {out}")


def head_options(args) -> dict:
    """Decoding options the user set explicitly; heads validate them."""
    options = {k: v for k, v in (("sampler", args.sampler), ("steps", args.steps), ("guidance_scale", args.guidance),
                                 ("temperature", args.temperature), ("top_k", args.top_k)) if v is not None}
    options.update(_codec_options(args.head_opt))
    return options


def cmd_generate(args) -> None:
    from encoders import segment
    from lcm.generate import GenerationConfig, generate

    if args.sentences < 1:
        raise InputError(f"-n/--sentences must be at least 1, got {args.sentences}")
    text = read_input_text(args.input)
    model, codec, src, tgt, model_dir = load_for_generation(args, text)
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


def load_for_generation(args, sample: "str | None" = None):
    """Model, codec, source and target languages. `--src-lang auto` detects the language of `sample`."""
    from encoders.languages import AUTO, detect_language, normalize_lang, short_code
    from lcm.checkpoint import load_model, read_model_config

    if args.src_lang == AUTO:
        if sample is None:
            raise InputError("--src-lang auto needs text to look at; give the language, e.g. --src-lang en")
        src, confidence = detect_language(sample)
        if confidence < 0.5:  # a confident detection goes without saying; a guess is said after the output
            NOTES.append(f"note: the input language was taken to be {short_code(src)}, a guess ({confidence:.0%} sure); "
                         "give --src-lang to be certain")
    else:
        src = normalize_lang(args.src_lang)
    tgt = normalize_lang(args.tgt_lang) if args.tgt_lang else src
    model_dir = resolve_model(args)
    _, meta = read_model_config(model_dir)
    codec = load_codec_for(args, meta["codec"])
    model, _, _ = load_model(model_dir, codec)
    _check_codec_languages(codec, src, tgt, detected=args.src_lang == AUTO)
    return model, codec, src, tgt, model_dir


def _check_codec_languages(codec, src: str, tgt: str, detected: bool = False) -> None:
    """Refuse, before any work, a language the codec cannot read or write but SONAR can, naming that fix."""
    from encoders.languages import short_code
    from encoders.sonar_langs import SONAR_TEXT_LANGS

    if codec.name == "sonar":
        return  # the SONAR codec words its own refusals
    source = "the input is in" if detected else "--src-lang"
    for flag, lang, covered in ((source, src, getattr(codec, "encode_languages", codec.languages)),
                                ("--tgt-lang", tgt, codec.languages)):
        if lang not in covered and lang in SONAR_TEXT_LANGS:
            shown = ", ".join(sorted(short_code(c) for c in covered))
            raise InputError(f"{flag} {short_code(lang)}: the {codec.name} codec does not cover this language (it covers "
                             f"{shown}); use --codec sonar with a model trained on SONAR concepts (--model DIR), "
                             f"which covers {len(SONAR_TEXT_LANGS)} languages")


def build_parser() -> argparse.ArgumentParser:
    from lcm.cli_apps import cmd_eval, cmd_infill, cmd_interpolate, cmd_story, cmd_summarize, cmd_xling

    parser = argparse.ArgumentParser(prog="lcm", description="Large Concept Models: model text as a sequence of sentence concepts.",
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="examples:\n" + "\n".join(f"  {e.splitlines()[0]}" for e in EXAMPLES.values()))
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, help_text):
        return sub.add_parser(name, help=help_text, description=help_text, epilog="examples:\n  " + EXAMPLES[name],
                              formatter_class=argparse.RawDescriptionHelpFormatter)

    def codec_args(p):
        p.add_argument("--codec", help="concept codec: embedded (default), sonar, minilm, hashing")
        p.add_argument("--codec-opt", action="append", metavar="KEY=VALUE", help="codec option, repeatable")

    p = add("encode", "segment and encode text/JSONL documents into parquet concept shards")
    p.add_argument("inputs", nargs="+", help=".txt files (one document each), .jsonl files (text or sentences per line) or folders")
    p.add_argument("-o", "--out", required=True, help="output folder for shard_*.parquet")
    p.add_argument("--lang", default="en", help="language of the input (en, fr, zh, fra_Latn, ...); JSONL rows may set 'lang'")
    p.add_argument("--text-field", default="text", help="JSONL field holding the document text")
    p.add_argument("--docs-per-shard", type=int, default=1000)
    codec_args(p)
    p.set_defaults(func=cmd_encode)

    p = add("decode", "decode concepts (parquet shards or a .npy matrix) back to text in any supported language")
    p.add_argument("input", help="shard file/folder/glob, or an (N, D) .npy file")
    p.add_argument("--lang", default="en", help="language to decode into")
    codec_args(p)
    p.set_defaults(func=cmd_decode)

    p = add("prepare", "encode a large JSONL corpus into shards: resumable, and split across processes under torchrun")
    p.add_argument("input", help="JSONL with one document per line ('sentences' list or 'text'; optional source/split/lang)")
    p.add_argument("-o", "--out", required=True, help="output folder for shard_*.parquet and manifest.json")
    p.add_argument("--docs-per-shard", type=int, default=500)
    p.add_argument("--source", action="append", help="keep only rows with this 'source' (repeatable)")
    p.add_argument("--split", action="append", help="keep only rows with this 'split' (repeatable)")
    p.add_argument("--doc-lang", action="append", help="keep only rows with this 'lang' (repeatable)")
    codec_args(p)
    p.set_defaults(func=cmd_prepare)

    p = add("train", "train a model from a YAML recipe; re-running resumes from the last checkpoint")
    p.add_argument("recipe", help="YAML recipe (see recipes/)")
    p.add_argument("overrides", nargs="*", help="dotted overrides such as train.steps=100")
    p.add_argument("--no-resume", action="store_true", help="start from scratch even if checkpoints exist")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    def generation_args(p, detect: bool = False):
        p.add_argument("--model", help="model folder from `lcm train`, or a shipped model's name: base_lcm, base_lcm_sum "
                                       "(summarization fine-tune, scientific papers), two_tower, quant_lcm "
                                       "(default: the shipped model for --head)")
        p.add_argument("--head", choices=sorted(DEFAULT_MODELS), default="mse", help="which shipped model to use without --model")
        p.add_argument("--src-lang", default="auto" if detect else "en",
                       help="language of the input" + (" (default: auto, detected from the text)" if detect else ""))
        p.add_argument("--tgt-lang", help="language of the output (default: same as input)")
        p.add_argument("--sampler", help="diffusion sampler: ddim, dpmpp, euler")
        p.add_argument("--steps", type=int, help="diffusion sampling steps")
        p.add_argument("--guidance", type=float, help="classifier-free guidance scale")
        p.add_argument("--temperature", type=float, help="quantized head: sampling temperature")
        p.add_argument("--top-k", type=int, help="quantized head: top-k")
        p.add_argument("--head-opt", action="append", metavar="KEY=VALUE", help="any other head option, repeatable")
        p.add_argument("--seed", type=int, default=0)
        codec_args(p)

    p = add("generate", "continue a document by N sentences (in the same or another language)")
    p.add_argument("input", help="text file, or - for standard input")
    p.add_argument("-n", "--sentences", type=int, default=3, help="sentences to generate (default 3)")
    p.add_argument("--no-cache", action="store_true", help="disable the KV cache (slower; for checking)")
    p.add_argument("--json", action="store_true", help="print JSON with the prompt, continuation and stop reason")
    generation_args(p, detect=True)
    p.set_defaults(func=cmd_generate)

    p = add("summarize", "summarize a document (file, folder, JSONL or stdin) into the language of your choice")
    p.add_argument("input", help="text file, folder of .txt files, JSONL (one document per line) or - for stdin")
    p.add_argument("--sentences", type=int, help="summary length in sentences")
    p.add_argument("--ratio", type=float, help="summary length as a fraction of the input's sentences (default 0.2)")
    p.add_argument("--extractive", action="store_true",
                   help="output the input sentences closest to the predicted summary concepts (labelled as extractive)")
    p.add_argument("--json", action="store_true", help="JSON lines with the summary and its source alignment")
    generation_args(p, detect=True)
    p.set_defaults(func=cmd_summarize)

    p = add("eval", "score a model: next-sentence metrics on shards (l2, l2-r, CA, PAR) or summarization on JSONL")
    p.add_argument("data", help="parquet shards (next-sentence task) or JSONL with 'document' and 'summary' (summarization)")
    p.add_argument("--round-trip", type=int, default=0, help="decode+re-encode this many predictions per language for l2-r")
    p.add_argument("--max-docs", type=int, default=0, help="evaluate at most this many documents (0 = all)")
    p.add_argument("--extractive", action="store_true", help="summarization: score the extractive mode")
    p.add_argument("--out", help="write the JSON report here")
    generation_args(p)
    p.set_defaults(func=cmd_eval)

    p = add("xling", "cross-lingual zero-shot: next-sentence metrics with inputs in several languages (table + bar plot)")
    p.add_argument("data", help="JSONL documents with a 'lang' column (e.g. the corpora's documents.jsonl test split)")
    p.add_argument("--langs", default="en,fr,de,es,zh", help="comma-separated input languages")
    p.add_argument("--max-docs", type=int, default=20, help="documents per language")
    p.add_argument("--round-trip", type=int, default=0, help="decode+re-encode this many predictions per language (l2-r)")
    p.add_argument("-o", "--out", default="xling", help="output folder for xling.md/json/png")
    generation_args(p)
    p.set_defaults(func=cmd_xling)

    from lcm.bench import add_bench_arguments, run_bench
    from lcm.plots import add_plot_arguments, run_plot

    p = add("bench", "measure speed and memory side by side in one run (codec, heads, KV cache, LCM vs token model)")
    add_bench_arguments(p)
    p.set_defaults(func=run_bench)

    p = add("plot", "plot training curves (loss, learning rate, gradient norm) from run folders")
    add_plot_arguments(p)
    p.set_defaults(func=run_plot)

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
    return parser


def main(argv: "list[str] | None" = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    NOTES.clear()
    try:
        args.func(args)
        for note in NOTES:
            print(note, file=sys.stderr)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and closed early: not an error worth a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
