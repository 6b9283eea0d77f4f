"""The corpus table: documents, sentences and words per register, language and split of `documents.jsonl`.

Words are whitespace tokens; Chinese and Japanese are written without spaces, so for them the count is characters
(marked `chars` in the table).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from lcm.data.corpora.doc_sources import HELD_OUT, REGISTERS
from lcm.data.corpora.text import CJK


def corpus_counts(documents: Path) -> dict[tuple[str, str, str], list[int]]:
    """(register, lang, split) -> [documents, sentences, words]."""
    counts: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    with open(documents, encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            row = counts[(REGISTERS.get(doc["source"], doc["source"]), doc["lang"], doc["split"])]
            row[0] += 1
            row[1] += len(doc["sentences"])
            row[2] += sum(len(s) if doc["lang"] in CJK else len(s.split()) for s in doc["sentences"])
    return dict(counts)


def markdown_table(counts: dict[tuple[str, str, str], list[int]], by: str = "register") -> str:
    """One row per register (or language): documents / sentences / words in train, valid and test."""
    axis = 0 if by == "register" else 1
    rows: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))
    langs: dict[str, set] = defaultdict(set)
    for key, (docs, sents, words) in counts.items():
        cell = rows[key[axis]][key[2]]
        cell[0] += docs
        cell[1] += sents
        cell[2] += words
        langs[key[axis]].add(key[1 - axis])
    held = {REGISTERS[s] for s in HELD_OUT}
    head = f"| {by} | {'languages' if by == 'register' else 'registers'} | train docs / sentences | valid | test | words (all splits) |"
    lines = [head, "|---|---|---|---|---|---|"]
    total = [0, 0, 0]
    for name in sorted(rows, key=lambda n: -sum(c[1] for c in rows[n].values())):
        cells = rows[name]
        words = sum(c[2] for c in cells.values())
        for c in cells.values():
            total[0] += c[0]
            total[1] += c[1]
            total[2] += c[2]
        fmt = {s: f"{cells[s][0]:,} / {cells[s][1]:,}" if s in cells else "-" for s in ("train", "valid", "test")}
        label = f"{name} (held out)" if name in held else name
        unit = " chars" if by == "language" and name in CJK else ""
        lines.append(f"| {label} | {len(langs[name])} | {fmt['train']} | {fmt['valid']} | {fmt['test']} | {words:,}{unit} |")
    lines.append(f"| **all** | | | | | {total[0]:,} documents, {total[1]:,} sentences |")
    return "\n".join(lines)
