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
    if b"\x00" in raw[:8192]:
        raise InputError(f"{str(path)!r} looks like a binary file; give a UTF-8 text or JSONL file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(f"{str(path)!r} is not valid UTF-8 (byte {err.start}); convert it, e.g. `iconv -f latin1 -t utf-8`") from None
    if not text.strip():
        raise InputError(f"{str(path)!r} is empty; give a file with at least one sentence")
    return text


def load_documents(paths: list[str], lang: str, text_field: str = "text", with_rows: bool = False) -> Iterator[Document]:
    """Documents from .txt files (one document each), directories of them, or JSONL (`text` or `sentences` per line).

    With `with_rows`, yields (document, JSONL row) pairs ({} for .txt files) so callers can filter on other fields.
    """
    from encoders.segment import segment
    from lcm.data.audio_input import audio_document, is_audio

    files: list[Path] = []
    for p in paths:
        p = Path(p)
        files.extend(sorted(f for f in p.rglob("*") if f.suffix in (".txt", ".jsonl") or is_audio(f))
                     if p.is_dir() else [p])
    if not files:
        raise InputError(f"no .txt, .jsonl or audio files found in {paths}")
    for path in files:
        if is_audio(path):  # speech -> Whisper -> the segmenter's sentences, in the language heard
            doc = Document(*audio_document(path, lang))
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
                doc_lang = row.get("lang") or lang
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
                    sentences = segment(row[text_field], doc_lang)
                else:
                    raise InputError(f"{path}:{n + 1} has neither a {text_field!r} string nor a 'sentences' list")
                if sentences:
                    doc = Document(str(row.get("doc_id", row.get("id", f"{path.stem}:{n}"))), doc_lang, sentences,
                                   loss_start=loss_start)
                    yield (doc, row) if with_rows else doc
        else:
            doc = Document(path.stem, lang, segment(text, lang))
            yield (doc, {}) if with_rows else doc
