"""Decoding algorithms for the concept decoder: pure functions over (model, concepts, language ids), KV-cached."""

import torch


@torch.no_grad()
def greedy_decode(model, concepts, lang_ids, *, max_len: int, eos_id: int, use_cache: bool = True,
                  no_repeat_ngram: int = 0) -> list[list[int]]:
    """Greedy decoding (argmax each step); returns the token ids of each row, <eos> excluded.

    With the KV cache, finished rows leave the batch (their cache rows are dropped), so a batch costs what its
    longest sentence costs only for that one row. no_repeat_ngram=n forbids any n-gram from occurring twice in a
    row's output (the "no_repeat_ngram_size" rule of Paulus et al. 2017), which stops degenerate loops.
    """
    if not use_cache:
        return _greedy_uncached(model, concepts, lang_ids, max_len=max_len, eos_id=eos_id)
    B = concepts.shape[0]
    out: list[list[int]] = [[] for _ in range(B)]
    active = torch.arange(B, device=concepts.device)  # (b,) rows still writing
    cache = model.new_cache()
    prefix_len = model.cfg.n_prefix + 1
    logits = model(concepts, lang_ids, None, cache=cache, start=0)  # (B, k+1, V)
    for t in range(max_len):
        scores = logits[:, -1]  # (b, V)
        if no_repeat_ngram:
            scores = ban_repeats(scores, [out[row] for row in active.tolist()], no_repeat_ngram)
        next_tok = scores.argmax(-1)  # (b,)
        for row, tok in zip(active.tolist(), next_tok.tolist()):
            out[row].append(tok)
        keep = next_tok != eos_id
        if not bool(keep.any()) or t == max_len - 1:
            break
        if not bool(keep.all()):
            active, next_tok = active[keep], next_tok[keep]
            cache = [(k[keep], v[keep]) for k, v in cache]
        logits = model(None, None, next_tok[:, None], cache=cache, start=prefix_len + t)  # (b, 1, V)
    return [_strip(row, eos_id) for row in out]


def ban_repeats(scores, histories: list[list[int]], n: int):
    """Set to -inf the score of every token that would repeat an n-gram already in that row's history."""
    scores = scores.clone()
    for i, hist in enumerate(histories):
        if len(hist) < n - 1:
            continue
        tail = tuple(hist[len(hist) - n + 1:]) if n > 1 else ()
        banned = [hist[j + n - 1] for j in range(len(hist) - n + 1) if tuple(hist[j:j + n - 1]) == tail]
        if banned:
            scores[i, banned] = float("-inf")
    return scores


def _greedy_uncached(model, concepts, lang_ids, *, max_len: int, eos_id: int) -> list[list[int]]:
    """Reference greedy decoding that re-reads the whole sequence each step (for tests)."""
    B = concepts.shape[0]
    out = torch.zeros(B, 0, dtype=torch.long, device=concepts.device)  # (B, t)
    done = torch.zeros(B, dtype=torch.bool, device=concepts.device)
    for _ in range(max_len):
        next_tok = model(concepts, lang_ids, out)[:, -1].argmax(-1)  # (B,)
        next_tok = torch.where(done, torch.full_like(next_tok, eos_id), next_tok)
        out = torch.cat([out, next_tok[:, None]], dim=1)
        done |= next_tok == eos_id
        if bool(done.all()):
            break
    return [_strip(row, eos_id) for row in out.tolist()]


@torch.no_grad()
def beam_search(model, concepts, lang_ids, *, beam: int, max_len: int, eos_id: int, length_penalty: float = 1.0
                ) -> list[list[tuple[list[int], float]]]:
    """Beam search (Sutskever et al. 2014) with length normalisation score / len**length_penalty (Wu et al. 2016).

    Returns, for each row, its `beam` hypotheses as (token ids without <eos>, normalised log-probability), best first.
    """
    B, K = concepts.shape[0], beam
    device = concepts.device
    prefix_len = model.cfg.n_prefix + 1
    cache = model.new_cache()
    logp = model(concepts, lang_ids, None, cache=cache, start=0)[:, -1].float().log_softmax(-1)  # (B, V)
    V = logp.shape[-1]
    scores, first = logp.topk(K, dim=-1)  # (B, K)
    rows = torch.arange(B, device=device).repeat_interleave(K)  # (B*K,) which input each beam belongs to
    cache = [(k[rows], v[rows]) for k, v in cache]
    tokens = first.reshape(B * K, 1)  # (B*K, t)
    scores = scores.reshape(B * K)
    done = tokens[:, 0] == eos_id  # (B*K,)
    lengths = torch.ones(B * K, device=device)
    for t in range(1, max_len):
        if bool(done.all()):
            break
        step = model(None, None, tokens[:, -1:], cache=cache, start=prefix_len + t - 1)[:, -1]
        logp = step.float().log_softmax(-1)  # (B*K, V)
        # A finished beam may only repeat <eos>, at no cost, so it keeps its score and length.
        frozen = torch.full_like(logp, float("-inf"))
        frozen[:, eos_id] = 0.0
        logp = torch.where(done[:, None], frozen, logp)
        cand = (scores[:, None] + logp).view(B, K * V)  # (B, K*V)
        scores, flat = cand.topk(K, dim=-1)  # (B, K)
        parent = (flat // V + torch.arange(B, device=device)[:, None] * K).reshape(-1)  # (B*K,)
        new_tok = (flat % V).reshape(-1, 1)
        scores = scores.reshape(-1)
        tokens = torch.cat([tokens[parent], new_tok], dim=1)
        lengths = lengths[parent] + (~done[parent]).float()
        done = done[parent] | (new_tok[:, 0] == eos_id)
        cache = [(k[parent], v[parent]) for k, v in cache]
    normed = (scores / lengths.pow(length_penalty)).view(B, K)
    order = normed.argsort(dim=-1, descending=True)
    tok_rows = tokens.view(B, K, -1).tolist()
    return [[(_strip(tok_rows[b][j], eos_id), float(normed[b, j])) for j in order[b].tolist()] for b in range(B)]


def _strip(ids: list[int], eos_id: int) -> list[int]:
    return ids[: ids.index(eos_id)] if eos_id in ids else ids
