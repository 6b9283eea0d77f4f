"""Endless Sky (GPL-3+) `conversation` blocks as English story documents.

The data files are indentation-structured; a conversation's narration is in backquotes. The player's `choice`
options are left out (they are menu items, not narration); sentences holding `<placeholders>` are dropped.
"""

from __future__ import annotations

import re

from lcm.data.corpora.store import split_of
from lcm.data.corpora.text import clean, has_placeholder, split_sentences

PACKAGE = "endless-sky-data"
DATA_DIR = "usr/share/games/endless-sky/data/"
MIN_DOC_SENTENCES = 5
_QUOTED = re.compile(r"^`(.*)`$")
_NAMED = re.compile(r'^(mission|conversation|event|person)\s+"?([^"]+)"?')
_ANGLE = re.compile(r"<[^<>]*>")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip("\t"))


def conversations(text: str, file_id: str) -> list[tuple[str, list[str]]]:
    """`(name, narration paragraphs)` for each `conversation` block in one data file, in file order."""
    out: list[tuple[str, list[str]]] = []
    lines = [ln.rstrip("\r\n") for ln in text.splitlines()]
    top_name, i = "", 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if _indent(line) == 0 and (m := _NAMED.match(stripped)):
            top_name = m.group(2).strip()
        if stripped == "conversation" or stripped.startswith("conversation "):
            base, paragraphs, parents = _indent(line), [], []
            i += 1
            while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > base):
                body = lines[i]
                if body.strip() and not body.strip().startswith("#"):
                    depth = _indent(body)
                    parents = [(d, word) for d, word in parents if d < depth]
                    q = _QUOTED.match(body.strip())
                    if q and not any(word == "choice" for _d, word in parents):
                        paragraphs.append(q.group(1))
                    elif not q:
                        parents.append((depth, body.strip().split()[0]))
                i += 1
            name = top_name if stripped == "conversation" else _NAMED.match(stripped).group(2).strip()
            out.append((f"{file_id}/{name}", paragraphs))
            continue
        i += 1
    return out


def narration_sentences(paragraphs: list[str]) -> list[str]:
    """Clean and split the narration; drop sentences with `<origin>`-style placeholders."""
    sentences = []
    for raw in paragraphs:
        for sentence in split_sentences(raw.strip(), "en"):
            if not _ANGLE.search(sentence) and not has_placeholder(sentence):
                if cleaned := clean(sentence):
                    sentences.append(cleaned)
    return sentences


def documents(files: list[tuple[str, bytes]]) -> list[dict]:
    """One English document per conversation with at least MIN_DOC_SENTENCES sentences."""
    docs, seen = [], {}
    for path, content in sorted(files):
        file_id = path.removeprefix(DATA_DIR).removesuffix(".txt").replace(" ", "_")
        for name, paragraphs in conversations(content.decode("utf-8", "replace"), file_id):
            sentences = narration_sentences(paragraphs)
            if len(sentences) < MIN_DOC_SENTENCES:
                continue
            n = seen[name] = seen.get(name, -1) + 1
            doc_id = f"endless_sky/{name}#{n}"
            docs.append({"source": "endless_sky", "doc_id": doc_id, "lang": "en", "split": split_of(doc_id), "sentences": sentences})
    return docs
