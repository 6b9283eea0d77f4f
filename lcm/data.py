"""Concept datasets: documents -> sentences -> concepts in parquet shards, and a streaming batch loader.

Shard schema: one row per document with `doc_id`, `lang`, `sentences` (list<string>) and `concepts`
(list<fixed_size_list<float32, D>>). Schema metadata records the codec, D and the codec's end-of-text concept.
Prompt/target shards (e.g. document -> separator -> summary, from scripts/make_summary_data.py) add an int32 column
`loss_start`: the index of the first sentence the model is trained to predict; the ones before it are context only.
"""

import glob
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

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

    files: list[Path] = []
    for p in paths:
        p = Path(p)
        files.extend(sorted(f for f in p.rglob("*") if f.suffix in (".txt", ".jsonl")) if p.is_dir() else [p])
    if not files:
        raise InputError(f"no .txt or .jsonl files found in {paths}")
    for path in files:
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


def _schema(dim: int, metadata: dict, loss_start: bool = False):
    import pyarrow as pa

    fields = [("doc_id", pa.string()), ("lang", pa.string()), ("sentences", pa.list_(pa.string())),
              ("concepts", pa.list_(pa.list_(pa.float32(), dim)))] + ([("loss_start", pa.int32())] if loss_start else [])
    return pa.schema(fields, metadata={k: json.dumps(v) for k, v in metadata.items()})


def write_shard(path: "str | Path", docs: list[Document], dim: int, metadata: dict) -> None:
    """Write documents to one parquet shard atomically (temp file + rename); `loss_start` only if a document has one."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    flat = [np.asarray(d.concepts, dtype=np.float32) for d in docs]
    concepts = pa.ListArray.from_arrays(
        np.cumsum([0] + [len(c) for c in flat]).astype(np.int32),
        pa.FixedSizeListArray.from_arrays(pa.array(np.concatenate(flat).reshape(-1)), dim))
    columns = [pa.array([d.doc_id for d in docs]), pa.array([d.lang for d in docs]),
               pa.array([d.sentences for d in docs], pa.list_(pa.string())), concepts]
    with_start = any(d.loss_start is not None for d in docs)
    if with_start:
        columns.append(pa.array([d.loss_start or 0 for d in docs], pa.int32()))
    table = pa.Table.from_arrays(columns, schema=_schema(dim, metadata, with_start))
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def shard_paths(spec: str) -> list[Path]:
    """A shard file, a directory of shards, or a glob -> sorted list of parquet files."""
    spec = os.path.expanduser(spec)
    p = Path(spec)
    files = sorted(p.glob("*.parquet")) if p.is_dir() else sorted(Path(f) for f in glob.glob(spec))
    if not files:
        raise InputError(f"no parquet shards found at {spec!r}; create them with `lcm encode`")
    return files


def shard_metadata(path: Path) -> dict:
    import pyarrow.parquet as pq

    try:
        raw = pq.read_schema(path).metadata or {}
    except Exception as err:  # pyarrow raises several types for truncated/corrupt files
        raise InputError(f"shard {str(path)!r} is corrupt or truncated ({type(err).__name__}); re-create it with `lcm encode`") from None
    return {k.decode(): json.loads(v) for k, v in raw.items()}


def read_shard(path: Path) -> Iterator[Document]:
    """Documents of one shard, with concepts as (N, D) float32 arrays; refuses corrupt files and non-finite concepts."""
    import pyarrow.parquet as pq

    dim = shard_metadata(path)["dim"]
    try:
        table = pq.read_table(path)
    except Exception as err:
        raise InputError(f"shard {str(path)!r} is corrupt or truncated ({type(err).__name__}); re-create it with `lcm encode`") from None
    concepts = table.column("concepts").combine_chunks()
    flat = np.array(concepts.values.values.to_numpy(), dtype=np.float32).reshape(-1, dim)  # (total sentences, D), writable
    offsets = concepts.offsets.to_numpy()
    columns = [table.column(c).to_pylist() for c in ("doc_id", "lang", "sentences")]
    starts = table.column("loss_start").to_pylist() if "loss_start" in table.column_names else [None] * table.num_rows
    for i, (doc_id, lang, sentences, loss_start) in enumerate(zip(*columns, starts)):
        doc_concepts = flat[offsets[i]:offsets[i + 1]]
        if not np.isfinite(doc_concepts).all():
            raise InputError(f"shard {str(path)!r} document {doc_id!r} has NaN/Inf concepts; re-encode it")
        yield Document(doc_id, lang, sentences, doc_concepts, loss_start)


def dataset_info(spec: str) -> dict:
    """Codec name, dim and end-of-text concept shared by all shards at `spec` (they must agree)."""
    infos = [shard_metadata(p) for p in shard_paths(spec)]
    for info in infos[1:]:
        if (info["codec"], info["dim"]) != (infos[0]["codec"], infos[0]["dim"]):
            raise InputError(f"shards at {spec!r} mix codecs {infos[0]['codec']}/{infos[0]['dim']} and {info['codec']}/{info['dim']}")
    return infos[0]


def sample_concepts(spec: str, n: int, seed: int = 0) -> torch.Tensor:
    """Up to n concepts drawn uniformly from the shards, for fitting the normalizer and head."""
    rows = np.concatenate([d.concepts for p in shard_paths(spec) for d in read_shard(p)])
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(rows), size=min(n, len(rows)), replace=False)
    return torch.from_numpy(rows[pick])


def batches(spec: str, concepts_per_batch: int, max_len: int, *, eot: "np.ndarray | None", shuffle: bool,
            seed: int, epoch: int, rank: int = 0, world_size: int = 1, split: str = "shards",
            targets: bool = False) -> Iterator[tuple[torch.Tensor, ...]]:
    """Stream padded batches (concepts (B, T, D), valid (B, T)) from shards, packing documents by a concept budget.

    Documents longer than max_len are cut into windows. With world_size > 1, split="shards": rank r reads only shards
    r::world_size (its batches are its own); split="rows": every rank reads every shard, packs the same global batches as
    one process would, and keeps rows r::world_size of each (a slice may be empty: (0, 2, D)).
    The order depends only on (seed, epoch), so a resumed run can skip to where it stopped.
    With `targets`, batches are (concepts, valid, targets): targets (B, T) marks the positions the loss predicts, i.e.
    those at or after a document's `loss_start` (every valid one in shards without it), and windows holding no target
    are skipped; without it, `loss_start` is ignored and the batches are exactly those of plain shards.
    """
    if split not in ("shards", "rows"):
        raise InputError(f"unknown data split {split!r}; use shards or rows")
    rng = random.Random(f"{seed}:{epoch}")
    paths = shard_paths(spec)
    if shuffle:
        rng.shuffle(paths)
    if split == "shards":
        paths, rank, world_size = paths[rank::world_size], 0, 1
    batch: list[tuple[np.ndarray, int]] = []
    for path in paths:  # one shard in memory at a time: documents are shuffled within a shard, shards across epochs
        windows = []  # (concepts of the window, index of its first target)
        for doc in read_shard(path):
            seq = doc.concepts if eot is None else np.concatenate([doc.concepts, eot[None]])
            first = (doc.loss_start or 0) if targets else 0
            for start in range(0, max(len(seq) - 1, 1), max_len - 1):  # windows overlap by one concept
                window = seq[start:start + max_len]
                if len(window) >= 2 and start + len(window) - 1 >= first:  # it predicts at least one target
                    windows.append((window, max(0, first - start)))
        if shuffle:
            rng.shuffle(windows)
        for window in windows:
            longest = max([len(window[0])] + [len(s) for s, _ in batch])
            if batch and (len(batch) + 1) * longest > concepts_per_batch:
                yield _pad(batch[rank::world_size], window[0].shape[1], targets)
                batch = []
            batch.append(window)
    if batch:
        yield _pad(batch[rank::world_size], batch[0][0].shape[1], targets)


def _pad(windows: list[tuple[np.ndarray, int]], dim: int, targets: bool = False) -> tuple[torch.Tensor, ...]:
    """Right-pad (T_i, D) concepts -> concepts (B, T, D), valid (B, T) [, targets (B, T)]; none -> (0, 2, D)."""
    T, D = max([len(s) for s, _ in windows] or [2]), dim
    concepts = torch.zeros(len(windows), T, D)
    valid = torch.zeros(len(windows), T, dtype=torch.bool)
    for i, (s, _) in enumerate(windows):
        concepts[i, :len(s)] = torch.from_numpy(s)
        valid[i, :len(s)] = True
    if not targets:
        return concepts, valid
    first = torch.tensor([start for _, start in windows], dtype=torch.long).reshape(-1, 1)  # (B, 1)
    return concepts, valid, valid & (torch.arange(T)[None, :] >= first)  # (B, T)
