"""Text -> sentences, offline, for many languages (pysbd; a regex splitter for the rest; SaT when its model is present)."""

import os
import re
from functools import lru_cache

from encoders.errors import InputError
from encoders.languages import normalize_lang, short_code

# Languages pysbd has rules for (ISO 639-1).
PYSBD_LANGS = {"en", "hi", "mr", "zh", "es", "am", "ar", "hy", "bg", "ur", "ru", "pl", "fa", "nl", "da", "fr",
               "my", "el", "it", "ja", "de", "kk", "sk"}
# Sentence ends: Latin/Cyrillic punctuation (+ up to 2 closing quotes/brackets) followed by space, or CJK full-width
# punctuation (+ 1 closing quote, no space needed). Only the whitespace is consumed: re.split drops what it matches.
_FALLBACK_SPLIT = re.compile(r"(?:(?<=[.!?…])|(?<=[.!?…][\"'”’»)\]])|(?<=[.!?…][\"'”’»)\]]{2}))\s+(?=\S)"
                             r"|(?:(?<=[。！？])|(?<=[。！？][」』”’）]))(?![。！？」』”’）])")
_CLAUSE_SPLIT = re.compile(r"(?<=[,;:，；：])\s*")


@lru_cache(maxsize=32)
def _pysbd(lang: str):
    import pysbd

    return pysbd.Segmenter(language=lang, clean=False)


@lru_cache(maxsize=1)
def _sat():
    """A SaT (wtpsplit) model from a local path in $LCM_SAT_MODEL, or None. Models are never downloaded."""
    path = os.environ.get("LCM_SAT_MODEL")
    if not path:
        return None
    try:
        from wtpsplit import SaT
    except ImportError:
        raise InputError("LCM_SAT_MODEL is set but wtpsplit is not installed; run `pip install wtpsplit` or unset it") from None
    return SaT(path)


def _split_long(sentence: str, max_chars: int) -> list[str]:
    """Break a run-on sentence at sentence ends inside it, then at clause punctuation, then at spaces.

    pysbd keeps quoted speech whole ('He said, "Rejoice! The Lord is with you. Blessed are you!"'), so a long quotation
    comes back as one "sentence": its inner sentence ends are the natural cut before any clause-level split.
    """
    if len(sentence) <= max_chars:
        return [sentence]
    inner = _regex_sentences(sentence)
    if len(inner) > 1:
        return [piece for part in inner for piece in _split_long(part, max_chars)]
    pieces, current = [], ""
    for part in _CLAUSE_SPLIT.split(sentence):
        if current and len(current) + len(part) + 1 > max_chars:
            pieces.append(current.strip())
            current = ""
        current = f"{current} {part}" if current and not current.endswith((" ", "，", "；", "：")) else current + part
    if current.strip():
        pieces.append(current.strip())
    out = []
    for piece in pieces:  # no clause break was enough: hard-wrap
        while len(piece) > max_chars:
            cut = piece.rfind(" ", 0, max_chars)
            cut = cut if cut > max_chars // 2 else max_chars
            out.append(piece[:cut].strip())
            piece = piece[cut:].strip()
        if piece:
            out.append(piece)
    return out


def _regex_sentences(text: str) -> list[str]:
    """Sentences by punctuation alone (languages pysbd lacks, and cuts inside over-long pysbd sentences)."""
    return _merge_false_breaks([piece for piece in _FALLBACK_SPLIT.split(text) if piece.strip()])


def _merge_false_breaks(pieces: list[str]) -> list[str]:
    """Undo regex breaks after abbreviations ('Dr.') or ordinals ('1848. március'): the next piece starts lowercase."""
    merged: list[str] = []
    for piece in pieces:
        if merged and (piece[:1].islower() or re.fullmatch(r"\S{1,3}\.", merged[-1].split(" ")[-1]) and len(merged[-1]) <= 4):
            merged[-1] = f"{merged[-1]} {piece}"
        else:
            merged.append(piece)
    return merged


def segment(text: str, lang: str = "en", max_chars: int = 256) -> list[str]:
    """Split `text` into sentences. Blank lines are hard boundaries; sentences are at most `max_chars` long."""
    iso = short_code(normalize_lang(lang))
    sat = _sat()
    sentences = []
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = re.sub(r"\s+", " ", paragraph).strip()
        if not paragraph:
            continue
        if sat is not None:
            found = sat.split(paragraph)
        elif iso in PYSBD_LANGS:
            found = _pysbd(iso).segment(paragraph)
        else:
            found = _regex_sentences(paragraph)
        for sentence in found:
            sentence = sentence.strip()
            if sentence:
                sentences.extend(_split_long(sentence, max_chars))
    return sentences
