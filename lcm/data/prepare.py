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
            filters: "dict | None" = None, progress=None, overwrite: bool = False) -> list[Path]:
    """Encode every document of `inputs` into out_dir/shard_XXXXX.parquet; returns the shards this rank wrote.

    Finished shards are kept only when the folder was prepared from the same input, codec and layout (check_folder);
    `overwrite` deletes shards of another origin first."""
    from encoders.languages import normalize_lang
    from lcm.data.documents import EOT_SENTENCE
    from lcm.data.shards import write_shard

    out = Path(out_dir)
    check_folder(out_dir, inputs, codec, docs_per_shard, filters or {}, overwrite)
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


IDENTITY = "prepare.json"  # in the output folder: what its shards were made from


def input_identity(inputs: str, codec, docs_per_shard: int, filters: dict) -> dict:
    """What decides the shards' content: the input file (path, size, sha256 of its first MiB), codec and layout."""
    path = Path(inputs).resolve()
    with open(path, "rb") as f:
        head = hashlib.sha256(f.read(1 << 20)).hexdigest()
    return {"input": str(path), "size": path.stat().st_size, "sha256_first_mib": head, "codec": codec.name,
            "dim": codec.dim, "docs_per_shard": docs_per_shard, "filters": {k: list(v) for k, v in sorted(filters.items()) if v}}


def check_folder(out_dir: str, inputs: str, codec, docs_per_shard: int, filters: dict, overwrite: bool = False) -> None:
    """Resume only shards made from the same input, codec and layout: refuse a folder prepared from anything else
    (or holding shards of unknown origin) unless `overwrite`, which deletes them. Records the identity if new."""
    out = Path(out_dir)
    wanted = input_identity(inputs, codec, docs_per_shard, filters)
    record = out / IDENTITY
    shards = sorted(out.glob("shard_*.parquet")) if out.is_dir() else []
    found = json.loads(record.read_text()) if record.is_file() else None
    if overwrite:
        for path in shards + [out / "manifest.json"]:
            path.unlink(missing_ok=True)
    elif shards and found != wanted:
        differs = "shards of unknown origin" if found is None else "shards from " + ", ".join(
            f"{k}={found.get(k)!r}" for k in wanted if found.get(k) != wanted[k])
        raise InputError(f"{out_dir!r} holds {differs}, not from this input and codec; resuming would mix them: choose "
                         "another -o, or add --overwrite to delete them and start over")
    if found != wanted or overwrite:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(record, json.dumps(wanted, indent=1))


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
