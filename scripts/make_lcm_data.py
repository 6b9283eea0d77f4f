"""Split the corpora's documents.jsonl into train/valid/test JSONL for LCM training (used by recipes/*_embedded.yaml).

Keeps en/fr/de/es/zh documents and one English Bible translation (WEB; KJV and BBE would triple the same chapters).
Usage: python scripts/make_lcm_data.py [--corpora ~/.cache/lcm-toolkit/corpora] [--out ~/.cache/lcm-toolkit/lcm-data]
"""

import argparse
import json
import os
from pathlib import Path

KEEP_LANGS = {"en", "fr", "de", "es", "zh"}
DROP_BIBLE_TRANSLATIONS = {"k", "3"}  # KJV 1611 and BBE 1949 duplicate the WEB chapters in English


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cache = Path(os.environ.get("LCM_CACHE", Path.home() / ".cache" / "lcm-toolkit"))
    parser.add_argument("--corpora", default=str(cache / "corpora"))
    parser.add_argument("--out", default=str(cache / "lcm-data"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    files = {split: open(out / f"docs_{split}.jsonl.tmp", "w", encoding="utf-8") for split in ("train", "valid", "test")}
    counts = {split: 0 for split in files}
    with open(Path(args.corpora) / "documents.jsonl", encoding="utf-8") as source:
        for line in source:
            doc = json.loads(line)
            if doc["lang"] not in KEEP_LANGS:
                continue
            if doc["source"] == "bible" and doc["doc_id"].rsplit("/", 1)[1] in DROP_BIBLE_TRANSLATIONS:
                continue
            files[doc["split"]].write(line)
            counts[doc["split"]] += 1
    for split, f in files.items():
        f.close()
        os.replace(out / f"docs_{split}.jsonl.tmp", out / f"docs_{split}.jsonl")
    print(f"documents per split: {counts} -> {out}")


if __name__ == "__main__":
    main()
