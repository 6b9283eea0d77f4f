"""Deterministic splits, atomic JSONL writing, de-duplication and the per-source metadata of a fetch."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterable

from encoders.shared.atomic import atomic_write_bytes

SPLITS = ("train", "valid", "test")


def split_of(key: str) -> str:
    """'train' / 'valid' / 'test' (about 96/2/2 %) from a SHA-256 of the key: stable across runs and machines."""
    bucket = int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16) % 100
    return "train" if bucket < 96 else "valid" if bucket < 98 else "test"


def stable_id(text: str, n: int = 12) -> str:
    """A short stable id for a string (a gettext msgid, say)."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:n]


def to_jsonl(rows: Iterable[dict]) -> bytes:
    """One compact JSON object per line, UTF-8, keys in insertion order."""
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")


def write_jsonl(path: Path, rows: Iterable[dict]) -> int:
    """Atomically write rows as JSONL; return the number of rows."""
    rows = list(rows)
    atomic_write_bytes(path, to_jsonl(rows))
    return len(rows)


def write_json(path: Path, obj: dict) -> None:
    atomic_write_bytes(path, (json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8"))


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def parallel_unit(source: str, key: str, texts: dict[str, str], split_key: str | None = None) -> dict:
    """A `parallel.jsonl` row; English first, then the other languages in sorted order."""
    ordered = {"en": texts["en"], **{lang: texts[lang] for lang in sorted(texts) if lang != "en"}}
    return {"source": source, "key": key, "split": split_of(split_key or key), "texts": ordered}


def dedupe_parallel(units: list[dict]) -> list[dict]:
    """Keep one unit per English text (the one with most languages, then the smallest key); sort by key.

    Repeated English sentences would otherwise land in train and test at once.
    """
    best: dict[str, dict] = {}
    for unit in sorted(units, key=lambda u: (-len(u["texts"]), u["key"])):
        best.setdefault(unit["texts"]["en"], unit)
    return sorted(best.values(), key=lambda u: u["key"])


def count_rows(rows: Iterable[dict], lang_field: str | None = None) -> dict:
    """Counts per source / language / split, as the manifest reports them."""
    out: dict = {}
    for row in rows:
        src = out.setdefault(row["source"], {"rows": 0, "split": {}, "lang": {}})
        src["rows"] += 1
        src["split"][row["split"]] = src["split"].get(row["split"], 0) + 1
        langs = row["texts"].keys() if lang_field is None else [row[lang_field]]
        for lang in langs:
            src["lang"][lang] = src["lang"].get(lang, 0) + 1
    return out
