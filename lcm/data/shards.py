"""Parquet concept shards: one row per document, written atomically, read back with their codec metadata.

Shard schema: one row per document with `doc_id`, `lang`, `sentences` (list<string>) and `concepts`
(list<fixed_size_list<float32, D>>). Schema metadata records the codec, D and the codec's end-of-text concept.
Prompt/target shards (e.g. document -> separator -> summary, from scripts/make_summary_data.py) add an int32 column
`loss_start`: the index of the first sentence the model is trained to predict; the ones before it are context only.
"""

import glob
import json
import os
from pathlib import Path
from typing import Iterator

import numpy as np

from encoders.errors import InputError
from encoders.shared.atomic import atomic_path
from lcm.data.documents import Document


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
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


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
