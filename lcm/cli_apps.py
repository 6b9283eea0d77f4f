"""The `lcm` application commands: summarize, story, infill, interpolate, eval, xling (parser and main: lcm.cli)."""

import json
import sys

from encoders.errors import InputError
from lcm.cli import head_options, load_codec_for, load_for_generation, read_input_text, sample_text


def _input_documents(args, src: str) -> list[tuple[str, list[str]]]:
    """(name, sentences) for a file, a folder of .txt files, stdin (-) or JSONL (one document per line)."""
    from encoders import segment
    from lcm.data import load_documents

    if args.input == "-":
        return [("stdin", segment(read_input_text("-"), src))]
    return [(d.doc_id, d.sentences) for d in load_documents([args.input], src)]


def cmd_summarize(args) -> None:
    from rich.console import Console
    from rich.progress import Progress

    from lcm.apps import summarize, summary_length
    from lcm.generate import GenerationConfig

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
                                             "closest_input_text": sentences[idx[0]]}
                                            for i, idx in enumerate(summary.alignment)]}, ensure_ascii=False))
        else:
            if len(results) > 1:
                print(f"# {name}")
            if summary.mode == "extractive":
                print("[extractive: the input sentences closest to the predicted summary concepts]")
            print("\n".join(summary.sentences))


def cmd_story(args) -> None:
    from lcm.apps import plan_story, plot_trajectory
    from lcm.generate import GenerationConfig
    from encoders import segment

    text = read_input_text(args.input)
    model, codec, src, tgt, _ = load_for_generation(args, text)
    sentences = segment(text, src)
    gen = GenerationConfig(seed=args.seed, head_options=head_options(args), eot_threshold=0)
    parallel = None
    if args.parallel is not None:
        from lcm.plan import PlanConfig

        parallel = PlanConfig(block=args.parallel, passes=args.passes, strength=args.strength)
    elif (args.passes, args.strength) != (1, 0.5):
        raise InputError("--passes and --strength only apply to parallel planning; add --parallel K")
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
    from lcm.apps import infill
    from lcm.generate import GenerationConfig

    before_text = read_input_text(args.before)
    model, codec, src, tgt, _ = load_for_generation(args, before_text)
    before = segment(before_text, src)
    after = segment(read_input_text(args.after), src)
    gen = GenerationConfig(seed=args.seed, head_options=head_options(args), eot_threshold=0)
    gap = infill(model, codec.encode(before, src), codec.encode(after, src), args.sentences, gen, args.candidates)
    print("\n".join(codec.decode(gap, tgt)))


def cmd_interpolate(args) -> None:
    from lcm.apps import interpolate

    from encoders.languages import normalize_lang

    codec = load_codec_for(args)
    src, tgt = normalize_lang(args.src_lang), normalize_lang(args.tgt_lang or args.src_lang)
    a, b = codec.encode([args.first, args.second], src)
    for i, text in enumerate(codec.decode(interpolate(a, b, args.steps), tgt)):
        print(f"{i / (args.steps - 1):.2f}  {text}")


def _summarization_eval(args, model, codec, src, tgt) -> dict:
    from encoders import segment
    from encoders.languages import CJK_LANGS
    from lcm.apps import summarize
    from lcm.generate import GenerationConfig
    from lcm.metrics import ovl_n, rep_n, rouge_l

    rows = [json.loads(line) for line in read_input_text(args.data).splitlines() if line.strip()]
    missing = [i + 1 for i, r in enumerate(rows) if not isinstance(r.get("document"), str) or not isinstance(r.get("summary"), str)]
    if missing:
        raise InputError(f"{args.data}: line(s) {missing[:5]} lack a 'document' or 'summary' string column")
    rows = rows[: args.max_docs or None]
    cjk = tgt in CJK_LANGS
    scores = {"rouge_l": [], "ovl_3": [], "rep_4": []}
    gen = GenerationConfig(seed=args.seed, head_options=head_options(args), eot_threshold=0)
    for row in rows:
        sentences = segment(row["document"], src)
        n_out = max(1, min(len(segment(row["summary"], tgt)), len(sentences) - 1))
        out = " ".join(summarize(model, codec, sentences, src, tgt, n_out, extractive=args.extractive, gen=gen).sentences)
        scores["rouge_l"].append(rouge_l(out, row["summary"], cjk))
        scores["ovl_3"].append(ovl_n(out, row["document"], 3, cjk))
        scores["rep_4"].append(rep_n(out, 4, cjk))
    return {"summarization": {k: float(sum(v) / len(v)) for k, v in scores.items()} | {"documents": len(rows)}}


def cmd_eval(args) -> None:
    from rich.console import Console
    from rich.table import Table

    from lcm.data import read_shard, shard_paths
    from lcm.evaluate import evaluate, write_report

    model, codec, src, tgt, model_dir = load_for_generation(args)
    if args.data.endswith(".jsonl"):
        report = _summarization_eval(args, model, codec, src, tgt)
    else:
        docs = (d for p in shard_paths(args.data) for d in read_shard(p))
        report = {"next_sentence": evaluate(model, docs, codec=codec, round_trip=args.round_trip, lang_out=tgt,
                                            head_options=head_options(args), max_docs=args.max_docs)}
    report["model"], report["codec"] = str(model_dir), codec.name
    for task, rows in report.items():
        if not isinstance(rows, dict):
            continue
        table = Table(title=task)
        rows = {k: v for k, v in rows.items() if k != "notes"}
        rows = rows if all(isinstance(v, dict) for v in rows.values()) else {"all": rows}
        columns = sorted({k for v in rows.values() for k in v})
        table.add_column("lang")
        for c in columns:
            table.add_column(c, justify="right")
        for lang, values in rows.items():
            table.add_row(lang, *[f"{values[c]:.4f}" if isinstance(values.get(c), float) else str(values.get(c, "")) for c in columns])
        Console().print(table)
    for note in report.get("next_sentence", {}).get("notes", {}).values():
        print(f"note: {note}")
    if args.out:
        write_report(report, args.out)
        print(f"report written to {args.out}")


def cmd_xling(args) -> None:
    from lcm.xling import markdown_table, run_xling

    model, codec, _, tgt, _ = load_for_generation(args)
    table = run_xling(model, codec, args.data, args.langs.split(","), out_dir=args.out, tgt_lang=tgt, max_docs=args.max_docs,
                      round_trip=args.round_trip, head_options=head_options(args),
                      progress=lambda lang: print(f"  evaluated {lang}", file=sys.stderr))
    print(markdown_table(table))
    print(f"\nwrote {args.out}/xling.md, xling.json and xling.png")
