"""Select the LCM training and held-out documents from the corpora's documents.jsonl, and print the corpus table.

Writes to --out (default ~/.cache/lcm-toolkit/lcm-data):
  docs_train.jsonl    training documents in the codec's languages, shuffled (seeded): any prefix of it, and so any
                      prefix of the shards `lcm prepare` makes from it, is a fair sample of every source and language
  docs_valid.jsonl    the validation split of the same sources
  docs_heldout.jsonl  up to --heldout-docs documents per (held-out source, language): registers never trained on
  docs_test.jsonl     the test split of the training sources (in-domain)
  corpus.md           the corpus table (documents / sentences / words per register and per language, by split)

Only one English Bible translation is kept (WEB): KJV and BBE would triple the same chapters.
Usage: python scripts/make_lcm_data.py [--corpora DIR] [--out DIR] [--langs en,de,...] [--heldout-docs 30]
"""

import argparse
import json
import os
import random
from pathlib import Path

from lcm.data.corpora.doc_sources import HELD_OUT
from lcm.data.corpora.stats import corpus_counts, markdown_table
from lcm.data.corpora.store import write_jsonl

# The embedded codec's encoder (multilingual USE v3) reads these 16 languages.
CODEC_LANGS = "ar,de,en,es,fr,it,ja,ko,nl,pl,pt,ru,th,tr,zh"
DROP_BIBLE_TRANSLATIONS = {"k", "3"}  # KJV 1611 and BBE 1949 duplicate the WEB chapters in English
MIN_HELDOUT_SENTENCES = 8  # a held-out document must give several predictions


def select(documents: Path, langs: set[str], heldout_docs: int, seed: int) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {"train": [], "valid": [], "test": [], "heldout": []}
    for line in open(documents, encoding="utf-8"):
        doc = json.loads(line)
        if doc["lang"] not in langs:
            continue
        if doc["source"] == "bible" and doc["doc_id"].rsplit("/", 1)[1] in DROP_BIBLE_TRANSLATIONS:
            continue
        if doc["source"] in HELD_OUT:
            if len(doc["sentences"]) >= MIN_HELDOUT_SENTENCES:
                out["heldout"].append(doc)
        else:
            out[doc["split"]].append(doc)
    random.Random(seed).shuffle(out["train"])
    rng = random.Random(seed + 1)  # the held-out sample does not depend on what else the corpus holds
    by_group: dict[tuple[str, str], list[dict]] = {}
    for doc in out["heldout"]:
        by_group.setdefault((doc["source"], doc["lang"]), []).append(doc)
    out["heldout"] = [d for key in sorted(by_group) for d in rng.sample(by_group[key], min(heldout_docs, len(by_group[key])))]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cache = Path(os.environ.get("LCM_CACHE", Path.home() / ".cache" / "lcm-toolkit"))
    parser.add_argument("--corpora", default=str(cache / "corpora"), help="folder holding documents.jsonl")
    parser.add_argument("--out", default=str(cache / "lcm-data"), help="output folder")
    parser.add_argument("--langs", default=CODEC_LANGS, help="comma-separated ISO 639-1 codes to keep")
    parser.add_argument("--heldout-docs", type=int, default=30, help="documents per held-out source and language")
    parser.add_argument("--seed", type=int, default=0, help="shuffle and sampling seed")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    documents = Path(args.corpora) / "documents.jsonl"
    selected = select(documents, set(args.langs.split(",")), args.heldout_docs, args.seed)
    for split, rows in selected.items():
        write_jsonl(out / f"docs_{split}.jsonl", rows)
        print(f"{split}: {len(rows):,} documents, {sum(len(d['sentences']) for d in rows):,} sentences")
    counts = corpus_counts(documents)
    table = f"# Corpus ({documents})\n\n## By register\n\n{markdown_table(counts)}\n\n## By language\n\n{markdown_table(counts, 'language')}\n"
    (out / "corpus.md").write_text(table, encoding="utf-8")
    print(f"-> {out} (corpus table in corpus.md)")


if __name__ == "__main__":
    main()
