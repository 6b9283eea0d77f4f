"""Documents: text files, folders and JSONL rows -> sentences, refusing empty, binary and non-UTF-8 input."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from encoders.errors import InputError

EOT_SENTENCE = "End of text."


@dataclass
class Document:
    doc_id: str
    lang: str
    sentences: list[str]
    concepts: "np.ndarray | None" = None  # (N, D) float32
    loss_start: "int | None" = None  # first sentence that is a training target (None: every sentence is)


def read_text_file(path: "str | Path") -> str:
    """Read a UTF-8 text file, refusing empty, binary and non-UTF-8 input with a clear message."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{str(path)!r} does not exist or is not a file")
    raw = path.read_bytes()
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff") or _looks_utf16(raw[:8192]):
        raise InputError(f"{str(path)!r} is UTF-16 text; convert it to UTF-8, e.g. "
                         f"`iconv -f UTF-16 -t UTF-8 {path.name} > {path.stem}.utf8{path.suffix}`")
    if b"\x00" in raw[:8192]:
        raise InputError(f"{str(path)!r} looks like a binary file; give a UTF-8 text or JSONL file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(f"{str(path)!r} is not valid UTF-8 (byte {err.start}); convert it, e.g. `iconv -f latin1 -t utf-8`") from None
    if not text.strip():
        raise InputError(f"{str(path)!r} is empty; give a file with at least one sentence")
    return text


def _looks_utf16(head: bytes) -> bool:
    """UTF-16 without a byte-order mark: every other byte of mostly-ASCII text is zero."""
    pairs = head[: len(head) // 2 * 2]
    if len(pairs) < 8:
        return False
    zeros_even, zeros_odd = pairs[0::2].count(0), pairs[1::2].count(0)
    return max(zeros_even, zeros_odd) > 0.4 * len(pairs) / 2 and min(zeros_even, zeros_odd) < 0.05 * len(pairs) / 2


def document_language(lang: str, text: str, detect=None, name: str = "") -> str:
    """The FLORES code of a document: `lang` as given, or detected from the text when it is `auto` (by
    detect(text, name) when given, e.g. to note a low-confidence guess)."""
    from encoders.languages import AUTO, detect_language, normalize_lang

    if lang != AUTO:
        return normalize_lang(lang)
    return detect(text, name) if detect else detect_language(text)[0]


def input_files(paths: list[str]) -> list[Path]:
    """The .txt/.jsonl files and recordings named or inside the folders named, refusing a path that does not exist."""
    from lcm.data.audio_input import is_audio

    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if not p.exists() and not is_audio(p):  # a missing recording is refused by the audio reader, in its words
            raise InputError(f"{str(p)!r} does not exist; give a .txt or .jsonl file, a recording or a folder of them")
        files.extend(sorted(f for f in p.rglob("*") if f.suffix in (".txt", ".jsonl") or is_audio(f))
                     if p.is_dir() else [p])
    if not files:
        raise InputError(f"no .txt, .jsonl or audio files found in {', '.join(map(str, paths))}")
    return files


def load_documents(paths: list[str], lang: str, text_field: str = "text", with_rows: bool = False,
                   strict: bool = False, detect=None) -> Iterator[Document]:
    """Documents from .txt files (one document each), directories of them, JSONL (`text` or `sentences` per line), or
    recordings (transcribed by Whisper: one document each, in the language heard unless `lang` names one).

    `lang` is a language code, or `auto` to detect each document's own; a JSONL row's `lang` column wins. With
    `with_rows`, yields (document, JSONL row) pairs ({} for .txt files and recordings) so callers can filter on other
    fields. With `strict`, a JSONL row with no sentences is an error instead of being skipped. `detect(text, name)`
    replaces the default language detection.
    """
    from encoders.languages import AUTO, normalize_lang
    from encoders.segment import segment
    from lcm.data.audio_input import audio_document, is_audio

    for path in input_files(paths):
        if is_audio(path):  # speech -> Whisper -> the segmenter's sentences, in the language heard
            doc_id, heard, sentences = audio_document(path, None if lang == AUTO else lang)
            doc = Document(doc_id, normalize_lang(heard), sentences)
            yield (doc, {}) if with_rows else doc
            continue
        text = read_text_file(path)
        if path.suffix == ".jsonl":
            for n, line in enumerate(text.splitlines()):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    raise InputError(f"{path}:{n + 1} is not valid JSON; each line must be one JSON object") from None
                if not isinstance(row, dict):
                    raise InputError(f"{path}:{n + 1} is not a JSON object; each line must be one object with a "
                                     f"{text_field!r} string or a 'sentences' list")
                loss_start = row.get("loss_start")
                if loss_start is not None and not (isinstance(row.get("sentences"), list) and isinstance(loss_start, int)
                                                   and 0 <= loss_start <= len(row["sentences"])):
                    raise InputError(f"{path}:{n + 1}: 'loss_start' must be an integer index into its 'sentences' list; "
                                     "write it with scripts/make_summary_data.py or drop it")
                if isinstance(row.get("sentences"), list):
                    sentences = [str(s) for s in row["sentences"] if str(s).strip()]
                    if loss_start is not None:  # count only the kept sentences before it
                        loss_start = sum(1 for s in row["sentences"][:loss_start] if str(s).strip())
                elif isinstance(row.get(text_field), str):
                    sentences = None
                else:
                    raise InputError(f"{path}:{n + 1} has neither a {text_field!r} string nor a 'sentences' list")
                text = row[text_field] if sentences is None else " ".join(sentences)
                if strict and not text.strip():
                    raise InputError(f"{path}:{n + 1} has an empty {text_field!r}; give it some text or remove the line")
                doc_lang = (document_language(row.get("lang") or lang, text, detect, f"{path.name}:{n + 1}")
                            if text.strip() else "eng_Latn")
                sentences = segment(text, doc_lang) if sentences is None else sentences
                if sentences:
                    doc = Document(str(row.get("doc_id", row.get("id", f"{path.stem}:{n}"))), doc_lang, sentences,
                                   loss_start=loss_start)
                    yield (doc, row) if with_rows else doc
        else:
            doc_lang = document_language(lang, text, detect, path.name)
            doc = Document(path.stem, doc_lang, segment(text, doc_lang))
            yield (doc, {}) if with_rows else doc
