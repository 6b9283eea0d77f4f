"""Text cleaning, the sentence-like filter, sentence splitting and the 1:1 sentence alignment of paragraphs."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

# ISO 639-1 languages whose text has no spaces between words.
CJK = frozenset({"zh", "ja"})

_BLOCK_TAG = re.compile(r"</?(?:br|p|div|li|ul|ol|td|th|tr|table|h[1-6]|dd|dt|dl|pre|section|header|footer)\b[^<>]{0,400}>", re.I)
_TAG = re.compile(r"<[^<>]{0,400}>")
_SPACE = re.compile(r"\s+")
# printf/python/brace/Wesnoth-variable/Endless-Sky placeholders: a string holding one is a template, not a sentence.
_PLACEHOLDER = re.compile(
    r"%[A-Z]{4,}|%(?:\d+\$)?[-+ #0]*\d*(?:\.\d+)?[sdifuxXeEgGc%]|%\(\w+\)[sd]|\{[A-Za-z_][\w.]*\}|\$[A-Za-z_][\w.|]*"
    r"|<(?:first|last|ship|planet|system|destination|origin|npc|payment|fine|date|day|cargo|tons|commodity|passengers|bunks|stopovers|waypoints|name|model)[^>]*>"
)
_LATIN_END = re.compile(r"""[.!?:]["'”’»)\]]*$""")
_CJK_END = re.compile(r"[.!?:。！？：…][」』”’\")）]*$")
# A sentence ends at . ! ? (plus closing quotes/brackets) followed by whitespace, or at a CJK full stop.
_SPLIT_LATIN = re.compile(r"""(?<=[.!?…])(["'”’»)\]]*)\s+(?=\S)""")
_SPLIT_CJK = re.compile(r"(?<=[。！？])([」』”’\"）]*)\s*(?=\S)")
# Tokens after which a full stop does not end a sentence (abbreviations in the 10 languages we extract).
_ABBREV = frozenset(
    "e.g i.e etc vs cf approx no nr mr mrs ms dr st fig ca bzw z.b d.h u.a usw ggf evtl vgl s.o s.u inkl p.ex "
    "cf.ex env etc.p ex sr sra dra pág p.e art núm vol ad es.cit т.е т.д т.п и.т.д см стр рис гл".split()
)


@dataclass
class TextConfig:
    """What counts as a usable unit of text."""

    min_words: int = 6
    """A paragraph (English side) is sentence-like with at least this many whitespace words..."""
    end_punctuation: bool = True
    """...and, when True, ends in . ! ? or : (optionally followed by a closing quote or bracket)."""
    min_chars: int = 3
    """Shortest unit kept, in characters."""
    max_chars: int = 300
    """Longest unit kept, in characters (parallel units)."""
    length_ratio: tuple[float, float] = (0.4, 2.5)
    """Bounds on len(translation) / len(English) for a sentence pair; outside them the 1:1 split cut elsewhere."""
    cjk_length_ratio: tuple[float, float] = (0.12, 2.0)
    """The same bounds for Chinese and Japanese (about 1/3 of the English length in characters)."""


def clean(text: str) -> str:
    """Strip HTML/Wesnoth markup and entities, collapse whitespace."""
    text = _TAG.sub("", _BLOCK_TAG.sub(" ", text))
    text = html.unescape(text)
    text = text.replace("\u00a0", " ").replace("\u200b", "").replace("\u00ad", "")
    return _SPACE.sub(" ", text).strip()


def has_placeholder(text: str) -> bool:
    """True for templates such as `%s`, `{VARIABLE}`, `$unit.name` or `<first>` that are not real sentences."""
    return _PLACEHOLDER.search(text) is not None


def is_sentence_like(text: str, lang: str, cfg: TextConfig) -> bool:
    """At least `min_words` words and final punctuation (this project's definition); CJK checks punctuation only."""
    if not text or has_placeholder(text):
        return False
    letters = sum(ch.isalpha() for ch in text)
    if letters < 0.5 * len(text.replace(" ", "")):
        return False
    if lang in CJK:
        return not cfg.end_punctuation or _CJK_END.search(text) is not None
    if len(text.split()) < cfg.min_words:
        return False
    return not cfg.end_punctuation or _LATIN_END.search(text) is not None


def split_sentences(text: str, lang: str) -> list[str]:
    """Split on `.!?` + space (Latin/Cyrillic) or `。！？` (CJK), not after a few known abbreviations."""
    if lang in CJK:
        pieces = _split_keep(text, _SPLIT_CJK)
        # Japanese/Chinese help text also uses ASCII '. ' between sentences.
        return [s for piece in pieces for s in _split_keep(piece, _SPLIT_LATIN)]
    return _split_keep(text, _SPLIT_LATIN)


def _split_keep(text: str, pattern: re.Pattern) -> list[str]:
    """Cut `text` at the pattern's matches, keeping closing quotes with the sentence before them."""
    sentences, start = [], 0
    for m in pattern.finditer(text):
        head = text[start : m.start()]
        last_word = head.rsplit(None, 1)[-1] if head.strip() else ""
        stem = last_word.rstrip(".!?…").lower().lstrip("(\"'«“")
        if last_word.endswith(".") and (stem in _ABBREV or (len(stem) == 1 and stem.isalpha()) or stem.isdigit()):
            continue  # 'e.g. ', 'z. B. ', 'Fig. 3', '1. ' do not end a sentence
        sentences.append((head + m.group(1)).strip())
        start = m.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return [s for s in sentences if s]


def fits(text: str, cfg: TextConfig) -> bool:
    """Length bounds of a parallel unit."""
    return cfg.min_chars <= len(text) <= cfg.max_chars


def align_sentences(
    texts: dict[str, str], cfg: TextConfig, pivot: str = "en"
) -> list[dict[str, str]]:
    """Split aligned paragraphs into sentences; a language joins sentence i only where its split is 1:1 with the pivot's.

    `texts` maps language -> paragraph (pivot included). Returns one `{lang: sentence}` per pivot sentence that
    still has at least one translation; translations equal to the pivot sentence, outside the length bounds or with
    an implausible length ratio to it drop out.
    """
    pivot_sents = split_sentences(texts[pivot], pivot)
    per_lang = {
        lang: sents
        for lang, text in texts.items()
        if lang != pivot and len(sents := split_sentences(text, lang)) == len(pivot_sents)
    }
    units = []
    for i, src in enumerate(pivot_sents):
        if not fits(src, cfg) or has_placeholder(src):
            continue
        unit = {pivot: src}
        for lang, sents in per_lang.items():
            tgt = sents[i]
            low, high = cfg.cjk_length_ratio if lang in CJK else cfg.length_ratio
            if tgt != src and fits(tgt, cfg) and not has_placeholder(tgt) and low <= len(tgt) / len(src) <= high:
                unit[lang] = tgt
        if len(unit) > 1:
            units.append(unit)
    return units
