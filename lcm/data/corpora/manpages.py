"""Manual pages as documents: the prose paragraphs of each page, from the roff source, in eight languages.

Debian 12 packages: `manpages` 6.03 (English), `manpages-{de,fr,es,ru,it}` 4.18.1 (the manpages-l10n
translations, GPL-3+ per file), `manpages-ja` 0.5.0 (JM Project: each page under its original page's licence) and
`manpages-zh` 1.6.4 (Simplified Chinese pages only). A page is a document; paragraphs that do not end like a
sentence (synopses, option lists, headings) are left out, and so is no-fill text (`.nf` ... `.fi`: code, tables).
"""

from __future__ import annotations

import gzip
import re

from lcm.data.corpora import manuals

# ISO 639-1 -> (Debian package, folder below usr/share/man/)
PACKAGES = {
    "en": ("manpages", ""), "de": ("manpages-de", "de"), "fr": ("manpages-fr", "fr"), "es": ("manpages-es", "es"),
    "ru": ("manpages-ru", "ru"), "it": ("manpages-it", "it"), "ja": ("manpages-ja", "ja"), "zh": ("manpages-zh", "zh_CN"),
}
LICENCE = "GPL-3+ (manpages-l10n translations); manpages, manpages-ja, manpages-zh: each page under its original page's free licence"
_BREAK = re.compile(r"^\.(SH|SS|PP|P|LP|TP|IP|HP|TQ|Sh|Ss|Pp|It|Bl|El|Bd|Ed|br|sp|RS|RE|TH|Dd|Dt|Os|in|ti|ne|bp)\b")
_TEXT_MACRO = re.compile(r"^\.(B|I|BR|RB|BI|IB|IR|RI|SM|SB|Nm|Ar|Fl|Cm|Pa|Xr|Em|Sy|Li|Dq|Sq|Ql)\s+(.*)$")
_ESCAPES = [
    (re.compile(r"\\f(\(..|\[[^\]]*\]|.)"), ""), (re.compile(r"\\\((aq|cq)"), "'"), (re.compile(r"\\\((lq|rq|dq)"), '"'),
    (re.compile(r"\\\((em|en)"), "—"), (re.compile(r"\\\(bu"), "•"), (re.compile(r"\\\*\(..|\\\*\[[^\]]*\]|\\\*."), ""),
    (re.compile(r"\\[-]"), "-"), (re.compile(r"\\[ ~0]"), " "), (re.compile(r"\\e"), "\\\\"),
    (re.compile(r"\\[&,/|^)%:]"), ""), (re.compile(r"\\s[-+]?\d"), ""), (re.compile(r"\\\(..|\\\[[^\]]*\]"), ""),
]
_SENTENCE_END = re.compile(r"[.!?。！？]['\")）」]*$")


def unescape(line: str) -> str:
    for pattern, repl in _ESCAPES:
        line = pattern.sub(repl, line)
    return line.replace('"', "") if line.startswith(" ") else line


def roff_paragraphs(source: str) -> list[str]:
    """Filled-text paragraphs of a roff page, escapes resolved, in order."""
    paragraphs, block, nofill, ignore, tag_next = [], [], False, False, False
    for raw in source.splitlines():
        line = raw.rstrip()
        if ignore:
            ignore = line != ".."
            continue
        if line.startswith((".ig", "'ig")):
            ignore = True
            continue
        if line.startswith(('.\\"', "'\\\"", '\\"')) or line in (".", "'"):
            continue
        if line.startswith(".nf") or line.startswith(".EX"):
            nofill = True
        elif line.startswith(".fi") or line.startswith(".EE"):
            nofill = False
            continue
        if nofill:
            continue
        text_macro = _TEXT_MACRO.match(line)
        if not line.strip() or _BREAK.match(line) or (line.startswith((".", "'")) and not text_macro):
            if block:
                paragraphs.append(" ".join(block))
                block = []
            tag_next = tag_next or line.startswith(".TP")
            continue
        if tag_next:  # the line after .TP is the item's tag (an option name), not prose
            tag_next = False
            continue
        block.append(unescape(text_macro.group(2).replace('"', "") if text_macro else line).strip())
    if block:
        paragraphs.append(" ".join(block))
    return [" ".join(p.split()) for p in paragraphs]


def page_paragraphs(content: bytes) -> list[str]:
    """Prose paragraphs of one (gzipped) man page: those that end like a sentence."""
    try:
        text = gzip.decompress(content).decode("utf-8", "replace")
    except OSError:
        return []
    return [p for p in roff_paragraphs(text) if _SENTENCE_END.search(p)]


def page_key(path: str, folder: str) -> str | None:
    """`usr/share/man/de/man1/ls.1.gz` -> `man1/ls.1`; None for other files (and for other languages' folders)."""
    prefix = f"usr/share/man/{folder + '/' if folder else ''}"
    rest = path[len(prefix):] if path.startswith(prefix) else ""
    m = re.fullmatch(r"(man\d\w*/[^/]+)\.gz", rest)
    return m.group(1) if m else None


def documents(pages: dict[str, dict[str, list[str]]]) -> list[dict]:
    """`pages[lang][page] = paragraphs` -> document rows (a page's translations share a split)."""
    return manuals.documents("manpages", pages)
