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


# Splitters are given windows of at most this many characters: pysbd's rules are superlinear in paragraph length
# (a hard-wrapped book is one paragraph), so a long paragraph is split window by window, each window restarting at
# the last sentences of the one before (a window's end may cut them), which keeps the time linear in the input.
WINDOW_CHARS = 4000
PROGRESS_CHARS = 2_000_000  # inputs this long show a progress bar on stderr


def _splitter(iso: str):
    sat = _sat()
    if sat is not None:
        return sat.split
    if iso in PYSBD_LANGS:
        return _pysbd(iso).segment
    return _regex_sentences


_PAIRS = (("\u201c", "\u201d"), ("\u00ab", "\u00bb"), ("(", ")"), ("[", "]"))  # pysbd protects text between these


def _open_quotes(text: str) -> tuple[int, ...]:
    """Quotations and brackets left open at the end of `text`: straight double quotes, then each pair's excess."""
    return (text.count('"'),) + tuple(text.count(a) - text.count(b) for a, b in _PAIRS)


def _balanced(carried: tuple[int, ...], text: str) -> bool:
    counts = [c + n for c, n in zip(carried, _open_quotes(text))]
    return counts[0] % 2 == 0 and all(c <= 0 for c in counts[1:])


def _sentence_ends(chunk: str, sentences: list[str]) -> list[int]:
    """Character offsets in `chunk` where each of `sentences` ends (stops at one the splitter rewrote)."""
    ends, cursor = [], 0
    for sentence in sentences:
        at = chunk.find(sentence.strip(), cursor)
        if at < 0:
            break
        cursor = at + len(sentence.strip())
        ends.append(cursor)
    return ends


def _windowed(paragraph: str, split):
    """Sentences of one whitespace-normalised paragraph, splitting at most about WINDOW_CHARS characters at a time.

    A window's last two sentences may be cut by, or judged from, its end: they are split again in the next window.
    pysbd pairs quotes and brackets across sentences, so windows end only where none is open (a window with no such
    place doubles, up to 4 times its size, then cuts at its last sentence end, or at a space if it has none).
    """
    start, carried, window = 0, _open_quotes(""), WINDOW_CHARS
    while start < len(paragraph):
        chunk = paragraph[start:start + window]
        found = [s for s in split(chunk) if s.strip()]
        if start + window >= len(paragraph):
            yield from found
            return
        ends = _sentence_ends(chunk, found[:-2])
        kept = next((k for k in range(len(ends), 0, -1) if _balanced(carried, chunk[:ends[k - 1]])), 0)
        if kept == 0 and ends and window < 4 * WINDOW_CHARS:
            window *= 2
            continue
        forced = kept == 0  # no quotation-free place: cut anyway, and count quotations afresh from here
        kept = kept or len(ends)
        if kept:
            offset = ends[kept - 1]
            yield from found[:kept]
        else:  # no sentence end in the window (a line with no punctuation): cut it at a space
            cut = chunk.rfind(" ", window // 2)
            offset = cut if cut > 0 else window
            yield chunk[:offset]
        carried = _open_quotes("") if forced else tuple(c + n for c, n in zip(carried, _open_quotes(chunk[:offset])))
        start, window = start + offset, WINDOW_CHARS
        while start < len(paragraph) and paragraph[start] == " ":
            start += 1


def segment(text: str, lang: str = "en", max_chars: int = 256, progress=None) -> list[str]:
    """Split `text` into sentences. Blank lines are hard boundaries; sentences are at most `max_chars` long.

    Time is linear in the input (long paragraphs are split in bounded windows). progress(done_chars, total_chars),
    if given, is called as paragraphs finish; without it, an input of PROGRESS_CHARS or more shows a bar on stderr.
    """
    iso = short_code(normalize_lang(lang))
    split = _splitter(iso)
    if progress is None and len(text) >= PROGRESS_CHARS:
        with _progress_bar(len(text)) as progress:
            return _segment(text, split, max_chars, progress)
    return _segment(text, split, max_chars, progress)


def _segment(text: str, split, max_chars: int, progress) -> list[str]:
    sentences, done = [], 0
    for paragraph in re.split(r"\n\s*\n", text):
        done += len(paragraph) + 2
        paragraph = re.sub(r"\s+", " ", paragraph).strip()
        if paragraph:
            for sentence in _windowed(paragraph, split):
                sentence = sentence.strip()
                if sentence:
                    sentences.extend(_split_long(sentence, max_chars))
            if progress:
                progress(min(done, len(text)), len(text))
    return sentences


class _progress_bar:
    """A transient rich bar on stderr, as a progress(done, total) callable; silent if another display is live."""

    def __init__(self, total: int):
        from rich.console import Console
        from rich.progress import Progress

        self.bar = Progress(console=Console(stderr=True), transient=True)
        self.task = self.bar.add_task("splitting sentences", total=total)

    def __enter__(self):
        from rich.errors import LiveError

        if not self.bar.console.is_terminal:
            self.bar = None  # drawn on a terminal only
            return self
        try:
            self.bar.start()
        except LiveError:
            self.bar = None
        return self

    def __call__(self, done: int, total: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=done)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
