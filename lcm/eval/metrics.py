"""Evaluation metrics: the LCM paper's pre-training metrics (section 2.4 / Table 3) and summarization metrics.

Concept metrics take raw-space concepts. Text metrics take strings; CJK text is compared per character.
"""

import re

import torch
import torch.nn.functional as F

from encoders.errors import InputError


def l2(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-row Euclidean distance ||x_hat - x|| (paper: l2). (N, D), (N, D) -> (N,)"""
    return (pred - target).norm(dim=-1)


def contrastive_accuracy(pred: torch.Tensor, target: torch.Tensor, exclude: "torch.Tensor | None" = None) -> torch.Tensor:
    """Paper's CA: for each prediction, the fraction of other in-batch targets farther from it than its own target.

    pred, target (N, D). `exclude` (N, N) bool marks pairs not to compare against (the target itself is always
    excluded; pass the target's neighbours in the same document, as the paper does). Returns (N,) in [0, 1].
    """
    dist = torch.cdist(pred, target)  # (N, N): dist[i, j] = ||pred_i - target_j||
    own = dist.diagonal()[:, None]  # (N, 1)
    skip = torch.eye(len(pred), dtype=torch.bool, device=pred.device)
    if exclude is not None:
        skip = skip | exclude
    farther = (dist > own) & ~skip
    counted = (~skip).sum(1).clamp_min(1)
    return farther.sum(1) / counted


def neighbour_mask(doc_index: torch.Tensor, position: torch.Tensor, radius: int = 1) -> torch.Tensor:
    """(N, N) True where two targets are in the same document within `radius` positions (excluded from CA)."""
    same_doc = doc_index[:, None] == doc_index[None, :]
    return same_doc & ((position[:, None] - position[None, :]).abs() <= radius)


def paraphrasing_ratio(pred: torch.Tensor, target: torch.Tensor, contexts: list[torch.Tensor]) -> float:
    """Paper's PAR: max cosine of the predictions to their context, divided by the same for the ground truth.

    Computed as a ratio of means over the set: a per-row ratio explodes whenever the true sentence is nearly
    orthogonal to its whole context, which happens (we saw means in the hundreds on Bible text).
    """
    num = torch.stack([F.cosine_similarity(p[None], ctx, dim=-1).max() for p, ctx in zip(pred, contexts)])
    den = torch.stack([F.cosine_similarity(t[None], ctx, dim=-1).max() for t, ctx in zip(target, contexts)])
    return (num.mean() / den.mean().clamp_min(1e-6)).item()


def _tokens(text: str, cjk: bool) -> list[str]:
    return [c for c in text if not c.isspace()] if cjk else re.findall(r"\w+", text.lower())


def _ngrams(tokens: list[str], n: int) -> list[tuple]:
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def rep_n(text: str, n: int = 4, cjk: bool = False) -> float:
    """REP-n in percent: share of n-grams that repeat an earlier n-gram, 100 * (1 - unique/total) (Welleck et al. 2020)."""
    grams = _ngrams(_tokens(text, cjk), n)
    return 100.0 * (1 - len(set(grams)) / len(grams)) if grams else 0.0


def ovl_n(summary: str, source: str, n: int = 3, cjk: bool = False) -> float:
    """OVL-n: fraction of the summary's n-grams that also occur in the source (how extractive it is), in [0, 1]."""
    grams = _ngrams(_tokens(summary, cjk), n)
    if not grams:
        return 0.0
    source_grams = set(_ngrams(_tokens(source, cjk), n))
    return sum(g in source_grams for g in grams) / len(grams)


def rouge_l(prediction: str, reference: str, cjk: bool = False) -> float:
    """ROUGE-L F1 x 100 from `rouge-score` (summary-level, with stemming for Latin text; per character for CJK)."""
    from rouge_score import rouge_scorer

    if cjk:  # rouge-score's default tokenizer drops non-ASCII; score space-separated characters instead
        prediction, reference = " ".join(_tokens(prediction, True)), " ".join(_tokens(reference, True))
        scorer = rouge_scorer.RougeScorer(["rougeLsum"], use_stemmer=False, tokenizer=_WhitespaceTokenizer())
    else:
        scorer = rouge_scorer.RougeScorer(["rougeLsum"], use_stemmer=True)
    if not reference.strip():
        raise InputError("a reference summary is empty; every row needs a non-empty 'summary'")
    return 100.0 * scorer.score(reference, prediction)["rougeLsum"].fmeasure


class _WhitespaceTokenizer:
    def tokenize(self, text):
        return text.split()
