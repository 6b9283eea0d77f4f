"""`lcm encode`, `lcm decode`, `lcm prepare`: text -> concept shards -> text."""

import os
import shutil
from functools import partial
from pathlib import Path

from encoders.errors import InputError
from lcm.cli.common import add_command, check_writable, codec_args, load_codec_for, stderr_progress


def register(sub) -> None:
    """Add encode, decode and prepare to the `lcm` subparsers."""
    add = partial(add_command, sub)

    p = add("encode", "segment and encode text/JSONL documents into parquet concept shards")
    p.add_argument("inputs", nargs="+", help=".txt files (one document each), .jsonl files (text or sentences per line) or folders")
    p.add_argument("-o", "--out", required=True, help="output folder for shard_*.parquet")
    p.add_argument("--lang", default="auto", help="language of the input (en, fr, zh, fra_Latn, ...; default: auto, "
                                                  "detected per document); JSONL rows may set 'lang'")
    p.add_argument("--text-field", default="text", help="JSONL field holding the document text")
    p.add_argument("--docs-per-shard", type=int, default=1000, help="documents per parquet shard (default 1000)")
    p.add_argument("--overwrite", action="store_true", help="replace the shards of a non-empty output folder")
    codec_args(p)
    p.set_defaults(func=cmd_encode)

    p = add("decode", "decode concepts (parquet shards or a .npy matrix) back to text in any supported language")
    p.add_argument("input", help="shard file/folder/glob, or an (N, D) .npy file")
    p.add_argument("--lang", default="en", help="language to decode into")
    codec_args(p)
    p.set_defaults(func=cmd_decode)

    p = add("prepare", "encode a large JSONL corpus into shards: resumable, and split across processes under torchrun")
    p.add_argument("input", help="JSONL with one document per line ('sentences' list or 'text'; optional source/split/lang)")
    p.add_argument("-o", "--out", required=True, help="output folder for shard_*.parquet and manifest.json")
    p.add_argument("--docs-per-shard", type=int, default=500, help="documents per parquet shard (default 500)")
    p.add_argument("--overwrite", action="store_true",
                   help="start over in an output folder prepared from another input or codec (its shards are deleted)")
    p.add_argument("--source", action="append", help="keep only rows with this 'source' (repeatable)")
    p.add_argument("--split", action="append", help="keep only rows with this 'split' (repeatable)")
    p.add_argument("--doc-lang", action="append", help="keep only rows with this 'lang' (repeatable)")
    codec_args(p)
    p.set_defaults(func=cmd_prepare)


def cmd_encode(args) -> None:
    from encoders.languages import AUTO, normalize_lang
    from lcm.data.audio_input import prefetch_audio
    from lcm.data.documents import input_files

    if args.lang != AUTO:
        normalize_lang(args.lang)  # the codec checks it supports the language when it encodes
    if args.docs_per_shard < 1:
        raise InputError(f"--docs-per-shard must be at least 1, got {args.docs_per_shard}")
    input_files(args.inputs)  # inputs and output are checked before the codec loads (seconds, hundreds of MB)
    out = check_writable(args.out, "-o/--out", folder=True)
    if out.exists() and any(out.iterdir()) and not args.overwrite:
        raise InputError(f"output folder {str(out)!r} is not empty; its old shards would mix with the new ones: choose "
                         "another -o, or add --overwrite to replace them")
    prefetch_audio(args.inputs, None if args.lang == AUTO else args.lang)  # recordings are transcribed (or refused) before anything is written
    codec = load_codec_for(args)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")  # shards are written here, then swapped in whole
    try:
        shards, n_docs, n_sents = _encode_into(tmp, args, codec)
        _replace_folder(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"wrote {n_docs} documents, {n_sents} sentences ({codec.name}, {codec.dim}-d) to {shards} shard(s) in {out}")


def _encode_into(folder: Path, args, codec) -> "tuple[int, int, int]":
    """Encode every input document into shards in `folder`; (shards, documents, sentences)."""
    from lcm.data.documents import EOT_SENTENCE, load_documents
    from lcm.data.shards import write_shard

    folder.mkdir(parents=True)
    meta = {"codec": codec.name, "dim": codec.dim, "eot": codec.encode([EOT_SENTENCE], "eng_Latn")[0].tolist()}
    shard, docs, n_docs, n_sents = 0, [], 0, 0
    with stderr_progress(transient=True) as progress:
        task = progress.add_task("encoding", total=None)
        for doc in load_documents(args.inputs, args.lang, args.text_field):
            doc.concepts = codec.encode(doc.sentences, doc.lang).numpy()
            docs.append(doc)
            n_docs, n_sents = n_docs + 1, n_sents + len(doc.sentences)
            progress.update(task, advance=len(doc.sentences), description=f"encoding: {n_docs} docs")
            if len(docs) == args.docs_per_shard:
                write_shard(folder / f"shard_{shard:05d}.parquet", docs, codec.dim, meta)
                shard, docs = shard + 1, []
    if docs:
        write_shard(folder / f"shard_{shard:05d}.parquet", docs, codec.dim, meta)
        shard += 1
    if n_sents == 0:
        raise InputError("the input had no sentences to encode")
    return shard, n_docs, n_sents


def _replace_folder(new: Path, out: Path) -> None:
    """Put the finished folder `new` at `out`, moving an old `out` aside first and deleting it after."""
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    if out.exists():
        os.replace(out, old)
    os.replace(new, out)
    shutil.rmtree(old, ignore_errors=True)


def cmd_decode(args) -> None:
    import numpy as np
    import torch

    from lcm.data.shards import read_shard, shard_paths

    codec = load_codec_for(args)
    path = Path(args.input)
    if path.suffix == ".npy":
        try:
            arrays = [("concepts", np.load(path))]
        except (ValueError, OSError) as err:
            raise InputError(f"{str(path)!r} is not a readable .npy file ({err})") from None
    else:
        docs = [d for p in shard_paths(args.input) for d in read_shard(p)]
        if hasattr(codec, "add_to_bank"):  # a retrieval codec decodes to the nearest sentence it knows: the shards' own
            for d in docs:
                codec.add_to_bank(d.sentences, torch.from_numpy(d.concepts.copy()))
        arrays = [(d.doc_id, d.concepts) for d in docs]
    for doc_id, concepts in arrays:
        texts = codec.decode(torch.tensor(np.asarray(concepts), dtype=torch.float32), args.lang)
        print(f"# {doc_id}\n" + "\n".join(texts))


def cmd_prepare(args) -> None:
    from lcm.data.documents import input_files
    from lcm.data.prepare import prepare, write_manifest

    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    if args.docs_per_shard < 1:
        raise InputError(f"--docs-per-shard must be at least 1, got {args.docs_per_shard}")
    input_files([args.input])
    check_writable(args.out, "-o/--out", folder=True)
    codec = load_codec_for(args)
    filters = {"sources": tuple(args.source or ()), "splits": tuple(args.split or ()), "langs": tuple(args.doc_lang or ())}
    with stderr_progress(disable=rank != 0) as progress:
        task = progress.add_task(f"preparing (rank {rank}/{world})", total=None)
        written = prepare(args.input, args.out, codec, docs_per_shard=args.docs_per_shard, rank=rank, world_size=world,
                          filters=filters, progress=lambda i, n: progress.update(task, advance=n),
                          overwrite=args.overwrite and rank == 0)
    if world > 1:  # every rank must finish before the manifest is written
        import torch.distributed as dist

        dist.init_process_group("gloo")
        dist.barrier()
        dist.destroy_process_group()
    if rank == 0:
        print(f"rank 0 wrote {len(written)} shard(s); manifest: {write_manifest(args.out)}")
