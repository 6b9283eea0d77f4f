"""Data preparation at scale: JSONL documents -> segmented, encoded parquet shards, split across processes.

Run it plain or under `torchrun --nproc_per_node N -m lcm prepare ...`: document chunk k goes to rank k % world_size,
each chunk becomes one shard, finished shards are skipped (so a killed run resumes), and rank 0 writes a manifest
once every shard exists. The output does not depend on the number of processes.
"""

import hashlib
import json
from itertools import islice
from pathlib import Path

from encoders.errors import InputError
from encoders.shared.atomic import atomic_write_text


def iter_jsonl_documents(path: str, *, sources=(), splits=(), langs=()):
    """Documents from a JSONL file (`sentences` list or `text`), filtered by source/split/lang when given."""
    from lcm.data.documents import load_documents

    for doc, row in load_documents([path], "en", with_rows=True):
        if (sources and row.get("source") not in sources) or (splits and row.get("split") not in splits) or \
                (langs and row.get("lang") not in langs):
            continue
        yield doc


def prepare(inputs: str, out_dir: str, codec, *, docs_per_shard: int = 500, rank: int = 0, world_size: int = 1,
            filters: "dict | None" = None, progress=None) -> list[Path]:
    """Encode every document of `inputs` into out_dir/shard_XXXXX.parquet; returns the shards this rank wrote."""
    from encoders.languages import normalize_lang
    from lcm.data.documents import EOT_SENTENCE
    from lcm.data.shards import write_shard

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"codec": codec.name, "dim": codec.dim, "eot": codec.encode([EOT_SENTENCE], "eng_Latn")[0].tolist()}
    docs = iter_jsonl_documents(inputs, **(filters or {}))
    written, index = [], 0
    while True:
        chunk = list(islice(docs, docs_per_shard))
        if not chunk:
            break
        path = out / f"shard_{index:05d}.parquet"
        if index % world_size == rank and not path.exists():
            for doc in chunk:
                doc.lang = normalize_lang(doc.lang)
                doc.concepts = codec.encode(doc.sentences, doc.lang).numpy()
            write_shard(path, chunk, codec.dim, meta)
            written.append(path)
        if progress:
            progress(index, len(chunk))
        index += 1
    if index == 0:
        raise InputError(f"no documents matched in {inputs!r}; check the file and the --source/--split/--lang filters")
    return written


def write_manifest(out_dir: str) -> Path:
    """manifest.json: every shard with its document/sentence counts and sha256 (written atomically)."""
    import pyarrow.parquet as pq

    out = Path(out_dir)
    shards = []
    for path in sorted(out.glob("shard_*.parquet")):
        table = pq.read_table(path, columns=["sentences"])
        shards.append({"file": path.name, "documents": table.num_rows,
                       "sentences": sum(len(s) for s in table.column("sentences").to_pylist()),
                       "sha256": hashlib.sha256(path.read_bytes()).hexdigest()})
    manifest = {"shards": shards, "documents": sum(s["documents"] for s in shards),
                "sentences": sum(s["sentences"] for s in shards)}
    atomic_write_text(out / "manifest.json", json.dumps(manifest, indent=1))
    return out / "manifest.json"
