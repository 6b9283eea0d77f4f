"""Multilingual summarization (encode -> LCM -> decode), hierarchical for long inputs, with source alignment."""

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from encoders.errors import InputError
from lcm.inference.generate import GenerationConfig, generate

# The encoded separator concept between a document and its summary (recipes/*summarize*.yaml train on it).
SUMMARY_SEPARATOR = "In summary:"


@dataclass
class Summary:
    sentences: list[str]  # the summary, in the target language
    alignment: list[list[int]]  # for each summary sentence, the indices of the closest input sentences (best first)
    mode: str  # "abstractive" (decoded LCM output) or "extractive" (nearest input sentences, labelled so)
    stopped: str  # why generation stopped


def summary_length(n_input: int, sentences: "int | None", ratio: "float | None") -> int:
    """Number of summary sentences from --sentences or --ratio, refusing impossible requests."""
    if sentences is not None and ratio is not None:
        raise InputError("give --sentences or --ratio, not both")
    if sentences is not None:
        if sentences < 1:
            raise InputError(f"--sentences must be at least 1, got {sentences}")
        if sentences > n_input:
            raise InputError(f"asked for a {sentences}-sentence summary of a {n_input}-sentence input; a summary cannot "
                             f"be longer than its input: use --sentences {n_input} or less")
        return sentences
    ratio = 0.2 if ratio is None else ratio
    if not 0 < ratio < 1:
        raise InputError(f"--ratio must be between 0 and 1 (exclusive), got {ratio}")
    return max(1, round(n_input * ratio))


def align(summary: torch.Tensor, source: torch.Tensor, k: int = 2) -> list[list[int]]:
    """Indices of the k input concepts closest (cosine) to each summary concept."""
    sims = F.normalize(summary, dim=-1) @ F.normalize(source, dim=-1).T  # (S, N)
    return sims.topk(min(k, source.shape[0]), dim=-1).indices.tolist()


def extract(summary: torch.Tensor, source: torch.Tensor) -> list[int]:
    """For each summary concept in turn, the closest input sentence not already taken; returned in document order."""
    sims = F.normalize(summary, dim=-1) @ F.normalize(source, dim=-1).T  # (S, N)
    taken: list[int] = []
    for row in sims:
        if len(taken) == source.shape[0]:
            break
        row = row.clone()
        row[taken] = -float("inf")
        taken.append(int(row.argmax()))
    return sorted(taken)


# Batch sizes that keep a long document's peak memory flat (197k words: 586 MB, against 825 MB with all windows in
# one generate() call; tests/test_real_text.py) and give progress something to count.
ENCODE_BATCH = 256  # sentences per codec.encode call
WINDOW_BATCH = 8  # hierarchical windows per generate() call
DECODE_BATCH = 64  # summary concepts per codec.decode call


def _batched(items, size: int, stage: str, progress):
    """Yield slices of `items` of at most `size`; after each, report progress(stage, done, total)."""
    for start in range(0, len(items), size):
        yield items[start:start + size]
        if progress:
            progress(stage, min(start + size, len(items)), len(items))


def summarize(model, codec, sentences: list[str], src_lang: str, tgt_lang: str, n_out: int, *, extractive: bool = False,
              gen: "GenerationConfig | None" = None, progress=None) -> Summary:
    """Summarize one document. Long inputs are summarized window by window, then the window summaries are summarized.

    progress(stage, done, total), if given, is called as work completes: stage "encoding" (sentences), "windows" /
    "windows, pass 2" ... (hierarchical windows), "summary" (once generated), "decoding" (summary sentences).
    """
    if not sentences:
        raise InputError("the input has no sentences to summarize")
    concepts = torch.cat([codec.encode(batch, src_lang) for batch in
                          _batched(sentences, ENCODE_BATCH, "encoding", progress)])  # (N, D)
    separator = codec.encode([SUMMARY_SEPARATOR], "eng_Latn")  # (1, D)
    window = max(8, model.cfg.max_len - n_out - 2)
    gen = gen or GenerationConfig()
    context, level = concepts, 1
    while len(context) > window:  # hierarchical: each window shrinks to its share of the summary, then recurse
        chunks = [context[i:i + window] for i in range(0, len(context), window)]
        per_chunk = max(1, min(window // 4, -(-window // len(chunks))))
        window_gen = replace(gen, max_new=per_chunk, min_new=per_chunk)
        stage = "windows" if level == 1 else f"windows, pass {level}"
        outs = [o for batch in _batched(chunks, WINDOW_BATCH, stage, progress)
                for o in generate(model, [torch.cat([c, separator]) for c in batch], window_gen)[0]]
        context = torch.cat([o for o in outs if len(o)]) if any(len(o) for o in outs) else context[:window]
        level += 1
    (out,), (stopped,) = generate(model, [torch.cat([context, separator])],
                                  replace(gen, max_new=n_out, min_new=n_out))
    if progress:
        progress("summary", 1, 1)
    alignment = align(out, concepts)
    if extractive:
        texts = [sentences[i] for i in extract(out, concepts)]
    else:
        texts = [text for batch in _batched(out, DECODE_BATCH, "decoding", progress)
                 for text in codec.decode(batch, tgt_lang)]
    return Summary(texts, alignment, "extractive" if extractive else "abstractive", stopped)
