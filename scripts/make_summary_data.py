"""Document -> summary training sequences for the summarization fine-tune (recipes/base_lcm_summarize.yaml).

Reads the ACLSum rows of the corpora's summaries.jsonl (`python -m lcm.data.corpora fetch --only aclsum`) and writes to --out:
  sum_<split>.jsonl              one sequence per (paper, summary kind), for `lcm prepare`:
                                 {"doc_id", "lang", "sentences": [document..., separator, summary...], "loss_start"}
                                 the document keeps its first sentences, as many as fit max_len with the separator, the
                                 summary and the end-of-text concept; loss_start = index of the first summary sentence
  pairs_<split>_<kind>.jsonl     {"doc_id", "document", "summary"}: whole documents, for `lcm eval FILE --src-lang en`
and, unless --no-encode, encodes sum_<split>.jsonl into parquet shards at --shards/sum_<split> with `lcm prepare`'s code
(the loss_start column is kept, so training puts the loss on the summary only).

Licence: ACL Anthology papers are CC BY 4.0 from 2016 on and CC BY-NC-SA 3.0 before. --licence cc-by (the default)
keeps only CC BY 4.0 papers in the training sequences, as weights that are shipped require; the eval pairs keep every
paper of the split (they are never committed).
Usage: python scripts/make_summary_data.py [--kinds abstract] [--licence any] [--max-len 128]
       python scripts/make_summary_data.py --lead-baseline pairs_test_abstract.jsonl   # lead-N scores, N = reference length
"""

import argparse
import json
import os
import re
from pathlib import Path

KINDS = ("abstract", "challenge", "approach", "outcome")


def paper_year(paper_id: str) -> int:
    """Publication year from an ACL Anthology id: new style `2020.acl-main.47`, old style `P16-1001` (letter + yy)."""
    new = re.match(r"(\d{4})\.", paper_id)
    if new:
        return int(new.group(1))
    old = re.match(r"[A-Z](\d{2})-\d+$", paper_id)
    if not old:
        raise ValueError(f"not an ACL Anthology id: {paper_id!r}")
    yy = int(old.group(1))
    return 2000 + yy if yy < 60 else 1900 + yy


def is_cc_by(paper_id: str) -> bool:
    """ACL Anthology licence: CC BY 4.0 from 2016 on (before: CC BY-NC-SA 3.0)."""
    return paper_year(paper_id) >= 2016


def training_sequence(doc_sentences: list[str], summary_sentences: list[str], separator: str, max_len: int,
                      min_document: int = 8) -> "tuple[list[str], int] | None":
    """[first document sentences, separator, summary] fitting max_len concepts with the end-of-text concept appended,
    and the index of the first summary sentence; None when the summary leaves fewer than `min_document` sentences."""
    n_doc = min(len(doc_sentences), max_len - 2 - len(summary_sentences))  # 2 = separator + end of text
    if n_doc < min(min_document, len(doc_sentences)) or n_doc < 1 or not summary_sentences:
        return None
    return doc_sentences[:n_doc] + [separator] + summary_sentences, n_doc + 1


def lead_baseline(pairs_path: str, max_docs: int = 0) -> dict:
    """The lead-N baseline, scored as `lcm eval` scores a model: the first N document sentences, N = the reference's
    sentence count (at most the document's minus one); ROUGE-L (rouge-score), OVL-3 and REP-4 from lcm.eval.metrics."""
    from encoders import segment
    from lcm.eval.metrics import ovl_n, rep_n, rouge_l

    with open(pairs_path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()][: max_docs or None]
    scores = {"rouge_l": [], "ovl_3": [], "rep_4": []}
    for row in rows:
        sentences = segment(row["document"], "eng_Latn")
        n_out = max(1, min(len(segment(row["summary"], "eng_Latn")), len(sentences) - 1))
        out = " ".join(sentences[:n_out])
        scores["rouge_l"].append(rouge_l(out, row["summary"]))
        scores["ovl_3"].append(ovl_n(out, row["document"], 3))
        scores["rep_4"].append(rep_n(out, 4))
    return {k: sum(v) / len(v) for k, v in scores.items()} | {"documents": len(rows)}


def build(rows: list[dict], kinds: tuple, licence: str, max_len: int, separator: str) -> tuple[dict, dict, dict]:
    """-> (training sequences per split, eval pairs per (split, kind), counts of what was kept and skipped)."""
    from encoders import segment

    sequences, pairs = {}, {}
    counts = {"rows": 0, "kept": 0, "skipped_kind": 0, "skipped_licence": 0, "skipped_long_summary": 0}
    segmented: dict[str, list[str]] = {}  # the four rows of a paper share one document
    for row in rows:
        if row.get("source") != "aclsum":
            continue
        counts["rows"] += 1
        paper, kind = row["doc_id"].split("/", 1)[1].split("#")
        pairs.setdefault((row["split"], kind), []).append(
            {"doc_id": row["doc_id"], "document": row["document"], "summary": row["summary"]})
        if kind not in kinds:
            counts["skipped_kind"] += 1
            continue
        if licence == "cc-by" and not is_cc_by(paper):
            counts["skipped_licence"] += 1
            continue
        if paper not in segmented:
            segmented[paper] = segment(row["document"], "eng_Latn")
        made = training_sequence(segmented[paper], segment(row["summary"], "eng_Latn"), separator, max_len)
        if made is None:
            counts["skipped_long_summary"] += 1
            continue
        sentences, loss_start = made
        sequences.setdefault(row["split"], []).append(
            {"doc_id": row["doc_id"], "lang": "en", "sentences": sentences, "loss_start": loss_start})
        counts["kept"] += 1
    return sequences, pairs, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cache = Path(os.environ.get("LCM_CACHE", Path.home() / ".cache" / "lcm-toolkit"))
    parser.add_argument("--corpora", default=str(cache / "corpora"), help="folder holding summaries.jsonl")
    parser.add_argument("--out", default=str(cache / "lcm-data"), help="where the JSONL files go")
    parser.add_argument("--shards", default=str(cache / "shards"), help="where the encoded shards go (sum_<split>)")
    parser.add_argument("--kinds", default="abstract", help=f"summary kinds to train on, comma-separated: {','.join(KINDS)}")
    parser.add_argument("--licence", choices=("cc-by", "any"), default="cc-by",
                        help="cc-by: train only on CC BY 4.0 papers (2016 on); any: every paper (weights not shippable)")
    parser.add_argument("--max-len", type=int, default=128, help="the model's max_len (the shipped Base-LCM: 128)")
    parser.add_argument("--codec", default="embedded")
    parser.add_argument("--no-encode", action="store_true", help="write the JSONL files only")
    parser.add_argument("--lead-baseline", metavar="PAIRS", help="only score lead-N on a pairs JSONL and print JSON")
    parser.add_argument("--max-docs", type=int, default=0, help="with --lead-baseline: the first N rows only")
    args = parser.parse_args()
    if args.lead_baseline:
        print(json.dumps(lead_baseline(args.lead_baseline, args.max_docs)))
        return
    from encoders.errors import InputError
    from lcm.apps.summarize import SUMMARY_SEPARATOR
    from lcm.data.corpora.store import write_jsonl

    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    if not kinds or set(kinds) - set(KINDS):
        raise SystemExit(f"error: --kinds must be a comma-separated subset of {','.join(KINDS)}, got {args.kinds!r}")
    source = Path(args.corpora) / "summaries.jsonl"
    if not source.is_file():
        raise SystemExit(f"error: {source} not found; run `python -m lcm.data.corpora fetch --only aclsum` first")
    with open(source, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    sequences, pairs, counts = build(rows, kinds, args.licence, args.max_len, SUMMARY_SEPARATOR)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for split, seqs in sorted(sequences.items()):
        write_jsonl(out / f"sum_{split}.jsonl", seqs)
    for (split, kind), items in sorted(pairs.items()):
        write_jsonl(out / f"pairs_{split}_{kind}.jsonl", items)
    print(f"kinds={','.join(kinds)} licence={args.licence}: {counts}; sequences per split: "
          f"{ {s: len(v) for s, v in sorted(sequences.items())} } -> {out}")
    if args.no_encode:
        return
    from encoders import load_codec
    from lcm.data.prepare import prepare, write_manifest

    codec = load_codec(args.codec)
    for split in sorted(sequences):
        shard_dir = Path(args.shards) / f"sum_{split}"
        for old in shard_dir.glob("shard_*.parquet"):  # finished shards are skipped by prepare: rebuild from scratch
            old.unlink()
        try:
            prepare(str(out / f"sum_{split}.jsonl"), str(shard_dir), codec)
        except InputError as err:
            raise SystemExit(f"error: {err}") from None
        write_manifest(str(shard_dir))
        print(f"encoded {len(sequences[split])} sequences -> {shard_dir}")


if __name__ == "__main__":
    main()
