"""The applications: multilingual summarization and story planning, built on encode -> LCM -> decode."""

import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from encoders.errors import InputError
from lcm.generate import GenerationConfig, generate

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
        window_gen = GenerationConfig(**{**gen.__dict__, "max_new": per_chunk, "min_new": per_chunk})
        stage = "windows" if level == 1 else f"windows, pass {level}"
        outs = [o for batch in _batched(chunks, WINDOW_BATCH, stage, progress)
                for o in generate(model, [torch.cat([c, separator]) for c in batch], window_gen)[0]]
        context = torch.cat([o for o in outs if len(o)]) if any(len(o) for o in outs) else context[:window]
        level += 1
    (out,), (stopped,) = generate(model, [torch.cat([context, separator])],
                                  GenerationConfig(**{**gen.__dict__, "max_new": n_out, "min_new": n_out}))
    if progress:
        progress("summary", 1, 1)
    alignment = align(out, concepts)
    if extractive:
        texts = [sentences[idx[0]] for idx in alignment]
    else:
        texts = [text for batch in _batched(out, DECODE_BATCH, "decoding", progress)
                 for text in codec.decode(batch, tgt_lang)]
    return Summary(texts, alignment, "extractive" if extractive else "abstractive", stopped)


def plan_story(model, codec, sentences: list[str], src_lang: str, n_new: int, gen: GenerationConfig, parallel=None):
    """Plan n_new next concepts after the given opening; returns (opening concepts, planned concepts).

    `parallel` (a lcm.plan.PlanConfig) denoises blocks of concepts jointly instead of one after another.
    """
    if n_new < 1:
        raise InputError(f"-n/--sentences must be at least 1, got {n_new}")
    prompt = codec.encode(sentences, src_lang)
    if parallel is not None:
        from lcm.plan import parallel_plan

        return prompt, parallel_plan(model, prompt, n_new, parallel, gen)
    (plan,), _ = generate(model, [prompt], GenerationConfig(**{**gen.__dict__, "max_new": n_new, "min_new": n_new}))
    return prompt, plan


def interpolate(a: torch.Tensor, b: torch.Tensor, steps: int) -> torch.Tensor:
    """Spherical interpolation between two concepts, endpoints included: (steps, D)."""
    if steps < 2:
        raise InputError(f"interpolation needs at least 2 steps, got {steps}")
    a_n, b_n = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    omega = torch.arccos((a_n * b_n).sum().clamp(-1 + 1e-6, 1 - 1e-6))
    t = torch.linspace(0, 1, steps)[:, None]
    direction = (torch.sin((1 - t) * omega) * a_n + torch.sin(t * omega) * b_n) / torch.sin(omega)
    norms = (1 - t) * a.norm() + t * b.norm()
    return direction * norms


def plot_trajectory(real: torch.Tensor, generated: torch.Tensor, path: str, title: str = "concept trajectory") -> None:
    """PCA of the opening (real) and planned (generated) concepts, connected in order, written to a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    allc = torch.cat([real, generated]).float()
    centered = allc - allc.mean(0)
    _, _, v = torch.linalg.svd(centered, full_matrices=False)
    xy = (centered @ v[:2].T).numpy()  # (N, 2)
    n = len(real)
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.plot(xy[:n, 0], xy[:n, 1], "o-", color="tab:blue", label="input")
    ax.plot(xy[n - 1:, 0], xy[n - 1:, 1], "s--", color="tab:orange", label="planned")
    for i, (x, y) in enumerate(xy):
        ax.annotate(str(i + 1), (x, y), fontsize=7)
    ax.set(title=title, xlabel="PC 1", ylabel="PC 2")
    ax.legend()
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)


@torch.no_grad()
def infill(model, before: torch.Tensor, after: torch.Tensor, n_gap: int, gen: GenerationConfig,
           candidates: int = 8) -> torch.Tensor:
    """Fill a gap of n_gap concepts between `before` (B, D) and `after` (A, D) raw concepts.

    An autoregressive LCM cannot see the future, so candidates for the gap (the model's own continuations, plus
    continuations pulled towards the first concept after the gap) are scored by how well the model, reading
    before + candidate, predicts what comes after; the best-scoring candidate wins.
    """
    if n_gap < 1 or len(before) == 0 or len(after) == 0:
        raise InputError("infilling needs at least one sentence before the gap, one after it, and a gap of at least 1")
    pool = []
    for seed in range(candidates):
        (cont,), _ = generate(model, [before], GenerationConfig(**{**gen.__dict__, "max_new": n_gap, "min_new": n_gap,
                                                                    "eot_threshold": 0, "seed": (gen.seed or 0) + seed}))
        pool.append(cont)
        for pull in (0.25, 0.5):  # the same continuation, bent towards the sentence that follows the gap
            pool.append(torch.stack([interpolate(c, after[0], 5)[int(pull * 4)] for c in cont]))
    target = after[: max(1, min(len(after), 3))]  # (A', D)
    scores = []
    for cand in pool:
        context = torch.cat([before, cand])
        (pred,), _ = generate(model, [context], GenerationConfig(**{**gen.__dict__, "max_new": len(target),
                                                                     "min_new": len(target), "eot_threshold": 0}))
        scores.append((pred[: len(target)] - target).norm(dim=-1).mean().item())
    return pool[int(torch.tensor(scores).argmin())]
