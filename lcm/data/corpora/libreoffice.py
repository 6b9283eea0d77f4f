"""LibreOffice help (MPL-2.0): the same paragraph id in every language's HTML page gives id-aligned paragraphs.

Recipe: `<p|h1-6 id="...">` per page, joined on (page path relative to the language
folder, id); untranslated paragraphs (equal to English) drop out; paragraphs split into 1:1 sentences.
"""

from __future__ import annotations

import re
from typing import Iterable

from lcm.data.corpora.store import dedupe_parallel, parallel_unit
from lcm.data.corpora.text import TextConfig, align_sentences, clean, is_sentence_like

# ISO 639-1 key -> (Debian package suffix, folder under usr/share/libreoffice/help/)
LANGS = {
    "en": ("en-us", "en-US"), "de": ("de", "de"), "fr": ("fr", "fr"), "es": ("es", "es"), "zh": ("zh-cn", "zh-CN"),
    "it": ("it", "it"), "pt": ("pt", "pt"), "ru": ("ru", "ru"), "ja": ("ja", "ja"), "hu": ("hu", "hu"),
}
HELP_ROOT = "usr/share/libreoffice/help/"
_PARA = re.compile(r'<(p|h[1-6])\b[^>]*\bid="([^"]+)"[^>]*>(.*?)</\1>', re.S)
# Code listings and "Related topics" boxes are not prose.
_SKIP_BLOCK = re.compile(r"<(pre|script|style)\b.*?</\1>", re.S)
_MAC_OPEN = 'class="MAC">'
_SPAN_TAG = re.compile(r"<(/?)span\b[^>]*>")


def package_name(lang: str) -> str:
    return f"libreoffice-help-{LANGS[lang][0]}"


def drop_mac_variants(html_text: str) -> str:
    """Remove the hidden macOS variant of `switchinline` spans (`Command+T`), keeping the default one (`F11`)."""
    out, pos = [], 0
    while (start := html_text.find(_MAC_OPEN, pos)) >= 0:
        start = html_text.rfind("<span", 0, start)
        out.append(html_text[pos:start])
        depth, i = 0, start
        for m in _SPAN_TAG.finditer(html_text, start):
            depth += -1 if m.group(1) else 1
            i = m.end()
            if depth == 0:
                break
        pos = i
    out.append(html_text[pos:])
    return "".join(out)


def paragraphs_of_page(html_text: str) -> dict[str, str]:
    """id -> cleaned text for every `<p id>` / `<hN id>` of one help page (first occurrence of an id wins)."""
    html_text = drop_mac_variants(_SKIP_BLOCK.sub(" ", html_text))
    out: dict[str, str] = {}
    for _tag, pid, body in _PARA.findall(html_text):
        text = clean(body)
        if text:
            out.setdefault(pid, text)
    return out


def paragraphs_of_tree(files: Iterable[tuple[str, bytes]], folder: str) -> dict[tuple[str, str], str]:
    """(page path below the language folder, id) -> text, from `(path, content)` pairs of one language."""
    prefix = f"{HELP_ROOT}{folder}/"
    out: dict[tuple[str, str], str] = {}
    for path, content in files:
        if not path.startswith(prefix) or not path.endswith(".html"):
            continue
        page = path[len(prefix):]
        for pid, text in paragraphs_of_page(content.decode("utf-8", "replace")).items():
            out[(page, pid)] = text
    return out


def align(paragraphs: dict[str, dict[tuple[str, str], str]], cfg: TextConfig) -> list[dict]:
    """`paragraphs[lang][(page, id)] = text` -> de-duplicated sentence-level `parallel.jsonl` units."""
    english = paragraphs["en"]
    units = []
    for (page, pid), en_text in sorted(english.items()):
        if not is_sentence_like(en_text, "en", cfg):
            continue
        texts = {"en": en_text}
        for lang, table in paragraphs.items():
            other = table.get((page, pid))
            if lang != "en" and other and other != en_text:
                texts[lang] = other
        if len(texts) == 1:
            continue
        para_key = f"{page}#{pid}"
        for i, sentence_texts in enumerate(align_sentences(texts, cfg)):
            units.append(parallel_unit("libreoffice", f"libreoffice/{para_key}#{i}", sentence_texts, f"libreoffice/{para_key}"))
    return dedupe_parallel(units)
