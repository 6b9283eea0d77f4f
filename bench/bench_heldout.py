"""Next-concept prediction on held-out registers, per language, beside trivial baselines: one run, one table.

Every model is scored on exactly the same predictions (each prefix of each held-out document predicts its next
concept), and so are three predictors that need no training:
  - repeat the previous concept;
  - the mean of the prompt's concepts;
  - a linear blend a * previous + b * prompt mean, with (a, b) fitted by least squares on the *training* shards
    (`--fit-data`), a strong trivial point predictor for l2.
l2 is on unit-norm concepts and CA is the LCM paper's contrastive accuracy (arXiv 2412.08821, section 2.4.1),
same-document neighbours excluded, both from `lcm.eval.evaluate`.

Usage: python bench/bench_heldout.py --data ~/.cache/lcm-toolkit/shards/heldout --models base_lcm two_tower
       [--fit-data ~/.cache/lcm-toolkit/shards/train] [--langs en,de,fr,es,zh,ru] [--max-docs 40] [--out bench/heldout]
A model is a shipped model's name or an exported model folder; `--head-opt key=value` applies to every model.
"""

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch


def fit_blend(spec: str, max_shards: int) -> tuple[float, float]:
    """(a, b) minimising ||a * previous + b * prompt_mean - next||^2 over the documents of the first shards of `spec`."""
    from lcm.data.shards import read_shard, shard_paths

    rows, targets = [], []
    for path in shard_paths(spec)[:max_shards]:
        for doc in read_shard(path):
            x = torch.from_numpy(np.asarray(doc.concepts, dtype=np.float32))  # (T, D)
            if len(x) < 2:
                continue
            prev, mean = x[:-1], torch.cumsum(x[:-1], 0) / torch.arange(1, len(x))[:, None]  # (T-1, D) each
            rows.append(torch.stack([prev.reshape(-1), mean.reshape(-1)], 1))
            targets.append(x[1:].reshape(-1))
    A, y = torch.cat(rows).double(), torch.cat(targets).double()
    a, b = torch.linalg.lstsq(A, y[:, None]).solution[:, 0].tolist()
    return a, b


def blend_scores(docs, a: float, b: float) -> dict:
    """l2 / CA of the fitted blend per language, on the same predictions `evaluate` makes."""
    from lcm.eval.evaluate import scores

    by_lang = defaultdict(lambda: {"pred": [], "true": [], "doc": [], "pos": []})
    for i, doc in enumerate(docs):
        x = torch.from_numpy(np.asarray(doc.concepts, dtype=np.float32))
        if len(x) < 2:
            continue
        r = by_lang[doc.lang]
        r["pred"].append(a * x[:-1] + b * torch.cumsum(x[:-1], 0) / torch.arange(1, len(x))[:, None])
        r["true"].append(x[1:])
        r["doc"].append(torch.full((len(x) - 1,), i))
        r["pos"].append(torch.arange(len(x) - 1))
    return {lang: scores(*(torch.cat(r[k]) for k in ("pred", "true", "doc", "pos")), 256) for lang, r in by_lang.items()}


def load_docs(spec: str, langs: list[str], max_docs: int, max_len: int):
    """Up to `max_docs` documents per language (in shard order), truncated to the models' context length."""
    from encoders.languages import normalize_lang
    from lcm.data.shards import read_shard, shard_paths

    want = {normalize_lang(lang) for lang in langs} if langs else None
    count, docs = defaultdict(int), []
    for path in shard_paths(spec):
        for doc in read_shard(path):
            if (want is None or doc.lang in want) and count[doc.lang] < max_docs and len(doc.concepts) >= 2:
                doc.concepts = doc.concepts[:max_len]
                docs.append(doc)
                count[doc.lang] += 1
    return docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="held-out shards (folder or glob)")
    parser.add_argument("--models", nargs="+", default=["base_lcm"], help="shipped model names or model folders")
    parser.add_argument("--fit-data", default="", help="training shards to fit the linear blend on (omit: no blend row)")
    parser.add_argument("--langs", default="", help="comma-separated languages (default: all in the data)")
    parser.add_argument("--max-docs", type=int, default=40, help="documents per language")
    parser.add_argument("--head-opt", action="append", default=[], help="head option key=value for every model")
    parser.add_argument("--out", default="", help="folder for heldout.md and heldout.json")
    args = parser.parse_args()
    from lcm.eval.evaluate import evaluate
    from lcm.model.shipped import PRETRAINED
    from lcm.model.io import load_model

    torch.set_num_threads(1)
    opts = {k: _number(v) for k, v in (o.split("=", 1) for o in args.head_opt)}
    docs = load_docs(args.data, [s for s in args.langs.split(",") if s], args.max_docs, 128)
    table: dict[str, dict[str, dict]] = defaultdict(dict)  # lang -> predictor -> scores
    for name in args.models:
        path = PRETRAINED / name if (PRETRAINED / name / "config.json").is_file() else Path(name)
        model, _, _ = load_model(path)
        model.eval()
        start = time.time()
        report = evaluate(model, docs, head_options=opts)
        print(f"{name}: {time.time() - start:.0f} s")
        for lang, entry in report.items():
            if lang == "notes":
                continue
            table[lang][name] = {"l2": entry["l2"], "ca": entry["ca"], "predictions": entry["predictions"]}
            for base, values in entry["baselines"].items():
                table[lang][f"baseline: {base}"] = values
    if args.fit_data:
        a, b = fit_blend(args.fit_data, 20)
        print(f"linear blend fitted on {args.fit_data}: {a:.3f} * previous + {b:.3f} * prompt mean")
        for lang, values in blend_scores(docs, a, b).items():
            table[lang][f"baseline: blend {a:.2f}*prev+{b:.2f}*mean"] = values
    lines = ["| lang | predictor | l2 | CA |", "|---|---|---|---|"]
    for lang in sorted(table):
        for who, values in table[lang].items():
            lines.append(f"| {lang} | {who} | {values['l2']:.3f} | {values['ca']:.3f} |")
    print("\n".join(lines))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "heldout.md").write_text("\n".join(lines) + "\n")
        (out / "heldout.json").write_text(json.dumps(table, indent=1))


def _number(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


if __name__ == "__main__":
    main()
