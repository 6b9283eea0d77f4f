"""Documents from translated manuals: one document per page or chapter, its prose paragraphs split into sentences.

Every manual keeps the same file layout in each language, so a document's split key is the source plus its file path
without the language: the translations of one page always land in the same split. A paragraph of a translation that
equals the English paragraph of the same page was left untranslated and is dropped.

Sources (Debian 12 packages):
- `debian-handbook` 11.20220922, Publican HTML `<div class="para">` (GPL-2+ or CC-BY-SA-3.0);
- `debian-reference-<ll>` 2.100, DocBook HTML `<p>` (GPL-2+);
- `debian-faq`, `debian-faq-<ll>` 11.1, DocBook HTML `<p>` (verbatim copying and modified versions allowed);
- `gnome-user-docs` 43.0-2, Mallard `<p>` in `.page` files (CC-BY-SA-3.0);
- `python3.11-doc` 3.11.2, reStructuredText sources of the Python documentation, English only (PSF licence);
- `libreoffice-help-<ll>` 7.4.7, help pages, `<p id>`/`<hN id>` paragraphs (MPL-2.0).
"""

from __future__ import annotations

import re
from typing import Iterable

from lcm.data.corpora.store import split_of
from lcm.data.corpora.text import CJK, clean, has_placeholder, split_sentences

MIN_SENTENCES = 3  # a shorter page is a stub or an index, not a document
_SKIP_BLOCK = re.compile(r"<(pre|script|style|code class=\"programlisting\"|table)\b.*?</\1>", re.S)
_HANDBOOK_PARA = re.compile(r'<div class="para">(.*?)</div>', re.S)
_HTML_P = re.compile(r"<p\b[^>]*>(.*?)</p>", re.S)
_DOCBOOK_PARA = re.compile(r"<para\b[^>]*>(.*?)</para>", re.S)
_PLAIN_P = re.compile(r"<p>(.*?)</p>", re.S)  # KDE handbooks: classed <p> hold credits and notices
_MALLARD_P = re.compile(r"<p\b[^>]*>(.*?)</p>", re.S)
_MALLARD_SKIP = re.compile(r"<(info|code|screen|credit|license|media)\b.*?</\1>", re.S)


def iso_code(tag: str) -> str | None:
    """`de-DE`, `pt_BR`, `zh-CN`, `C` -> ISO 639-1 (`de`, `pt`, `zh`, `en`); None for variants we leave out."""
    tag = tag.replace("_", "-")
    if tag in ("C", "en-US", "en"):
        return "en"
    if tag.lower() in ("zh-cn", "zh-hans"):
        return "zh"
    if tag.lower().startswith("zh") or "@" in tag or tag == "pt":  # traditional Chinese; sr@latin; pt_BR is kept
        return None
    code = tag.split("-")[0].lower()
    return code if len(code) == 2 else None


def is_prose(text: str, lang: str) -> bool:
    """A paragraph worth keeping: mostly letters, no template placeholder, long enough to hold a sentence."""
    if not text or has_placeholder(text):
        return False
    letters = sum(ch.isalpha() for ch in text)
    if letters < 0.6 * len(text.replace(" ", "")):
        return False
    return len(text) >= 12 if lang in CJK else len(text.split()) >= 4


def html_paragraphs(html_text: str, pattern: re.Pattern) -> list[str]:
    """Cleaned paragraphs of one page, in order; code listings and tables removed first."""
    html_text = _SKIP_BLOCK.sub(" ", html_text)
    return [clean(body) for body in pattern.findall(html_text)]


def mallard_paragraphs(xml_text: str) -> list[str]:
    """Cleaned `<p>` paragraphs of a Mallard page, without its `<info>` block (credits, licence)."""
    return [clean(body) for body in _MALLARD_P.findall(_MALLARD_SKIP.sub(" ", xml_text))]


_RST_ROLE = re.compile(r":[\w:.-]+:`~?!?([^`<]*?)(?:\s*<[^`>]*>)?`")
_RST_LINK = re.compile(r"`([^`<]+?)\s*<[^`>]*>`_+")
_RST_MARK = re.compile(r"``|\*\*|(?<!\w)\*(?=\w)|(?<=\w)\*(?!\w)|`_*|\|")
_RST_HEADING = re.compile(r"^([=\-~^\"'`#*+.]){3,}\s*$")


def rst_paragraphs(rst_text: str) -> list[str]:
    """Prose paragraphs of a reStructuredText file: directives, literal blocks, tables and headings removed."""
    paragraphs, block, skip_indented = [], [], False
    lines = rst_text.splitlines() + [""]
    for i, line in enumerate(lines):
        indented = line[:1] in (" ", "\t")
        if skip_indented and (indented or not line.strip()):
            continue
        skip_indented = False
        if not line.strip():
            if block:
                paragraphs.append(" ".join(block))
                block = []
            continue
        stripped = line.strip()
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if stripped.startswith(".. ") or indented or stripped.startswith(("+", "|", ">>>", "=")) or _RST_HEADING.match(nxt) or _RST_HEADING.match(line):
            if block:
                paragraphs.append(" ".join(block))
                block = []
            skip_indented = stripped.startswith(".. ") or stripped.endswith("::")
            continue
        block.append(stripped)
        if stripped.endswith("::"):
            paragraphs.append(" ".join(block)[:-1])
            block, skip_indented = [], True
    out = []
    for text in paragraphs:
        text = _RST_LINK.sub(r"\1", _RST_ROLE.sub(r"\1", text))
        out.append(clean(_RST_MARK.sub("", text)))
    return out


def document(source: str, page: str, lang: str, paragraphs: Iterable[str], split: str | None = None) -> dict | None:
    """A document row from a page's paragraphs, or None when fewer than MIN_SENTENCES sentences remain."""
    sentences = [s for p in paragraphs if is_prose(p, lang) for s in split_sentences(p, lang)]
    if len(sentences) < MIN_SENTENCES:
        return None
    key = f"{source}/{page}"
    return {"source": source, "doc_id": f"{key}/{lang}", "lang": lang, "split": split or split_of(key), "sentences": sentences}


def documents(source: str, pages: dict[str, dict[str, list[str]]], split: str | None = None) -> list[dict]:
    """`pages[lang][page] = paragraphs` -> document rows; untranslated paragraphs (equal to English) dropped."""
    english = pages.get("en", {})
    docs = []
    for lang in sorted(pages):
        for page, paragraphs in sorted(pages[lang].items()):
            if lang != "en":
                seen = set(english.get(page, ()))
                paragraphs = [p for p in paragraphs if p not in seen]
            doc = document(source, page, lang, paragraphs, split)
            if doc is not None:
                docs.append(doc)
    return docs
