"""`lcm eval` (next-sentence metrics on shards, or summarization on JSONL) and `lcm xling` (zero-shot)."""

import json
import sys
from functools import partial

from encoders.errors import InputError
from lcm.cli.common import add_command, check_writable, generation_args, head_options, load_for_generation, read_input_text


def register(sub) -> None:
    """Add eval and xling to the `lcm` subparsers."""
    add = partial(add_command, sub)

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


def _summarization_eval(args, model, codec, src, tgt) -> dict:
    from encoders import segment
    from encoders.languages import CJK_LANGS
    from lcm.apps.summarize import summarize
    from lcm.eval.metrics import ovl_n, rep_n, rouge_l
    from lcm.inference.generate import GenerationConfig

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

    from lcm.data.shards import dataset_info, read_shard, shard_paths
    from lcm.eval.evaluate import evaluate, write_report

    if args.out:
        check_writable(args.out, "--out")
    model, codec, src, tgt, model_dir = load_for_generation(args)
    if args.data.endswith(".jsonl"):
        report = _summarization_eval(args, model, codec, src, tgt)
    else:
        info = dataset_info(args.data)
        if info["dim"] != model.cfg.concept_dim:
            raise InputError(f"shards at {args.data!r} hold {info['dim']}-d concepts ({info['codec']} codec) but the model "
                             f"reads {model.cfg.concept_dim}-d ones; evaluate shards encoded with the model's codec "
                             f"({codec.name}), or a model trained on {info['codec']} concepts")
        docs = (d for p in shard_paths(args.data) for d in read_shard(p))
        report = {"next_sentence": evaluate(model, docs, codec=codec, round_trip=args.round_trip, lang_out=tgt,
                                            head_options=head_options(args), max_docs=args.max_docs)}
    report["model"], report["codec"] = str(model_dir), codec.name
    for task, rows in report.items():
        if isinstance(rows, dict):
            Console().print(_report_table(task, rows))
    for note in report.get("next_sentence", {}).get("notes", {}).values():
        print(f"note: {note}")
    if args.out:
        write_report(report, args.out)
        print(f"report written to {args.out}")


def _report_table(task: str, rows: dict):
    """A rich table: one row per language (and, for next-sentence prediction, one per baseline beside the model)."""
    from rich.table import Table

    from lcm.eval.evaluate import BASELINES

    rows = {k: v for k, v in rows.items() if k != "notes"}
    rows = rows if all(isinstance(v, dict) for v in rows.values()) else {"all": rows}
    flat = []
    for lang, values in rows.items():
        flat.append((lang, "model", {k: v for k, v in values.items() if k != "baselines"}))
        for name, base in values.get("baselines", {}).items():
            flat.append((lang, f"baseline: {BASELINES[name]}", base))
    columns = sorted({k for _, _, v in flat for k in v})
    table = Table(title=task)
    table.add_column("lang")
    if any(v.get("baselines") for v in rows.values()):
        table.add_column("predictor", no_wrap=True)
    for c in columns:
        table.add_column(c, justify="right")
    for lang, who, values in flat:
        cells = [f"{values[c]:.4f}" if isinstance(values.get(c), float) else str(values.get(c, "")) for c in columns]
        table.add_row(lang, *([who] if len(table.columns) > len(columns) + 1 else []), *cells)
    return table


def cmd_xling(args) -> None:
    from lcm.eval.xling import markdown_table, run_xling

    check_writable(args.out, "-o/--out", folder=True)
    model, codec, _, tgt, _ = load_for_generation(args)
    table = run_xling(model, codec, args.data, args.langs.split(","), out_dir=args.out, tgt_lang=tgt, max_docs=args.max_docs,
                      round_trip=args.round_trip, head_options=head_options(args),
                      progress=lambda lang: print(f"  evaluated {lang}", file=sys.stderr))
    print(markdown_table(table))
    print(f"\nwrote {args.out}/xling.md, xling.json and xling.png")
