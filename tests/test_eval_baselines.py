"""`lcm eval` scores two trivial predictors beside the model, on exactly the same predictions."""

import numpy as np
import torch

from lcm.data.documents import Document
from lcm.eval.evaluate import BASELINES, evaluate
from lcm.eval.metrics import l2


class _Echo:
    """A stand-in model whose prediction for position t+1 is the concept at t: it must score as 'repeat previous'."""

    class cfg:
        max_len = 64

    class normalizer:
        @staticmethod
        def denormalize(x):
            return x

    def hidden(self, concepts, valid):
        return concepts, None  # (1, T-1, D): the prefix's last concept is the hidden state

    class head:
        @staticmethod
        def sample(batch, mask, generator=None):
            last = mask.sum(1) - 1  # (T-1,) index of each prefix's last position
            return batch[torch.arange(len(batch)), last]  # (T-1, D)


def _docs(n=6, T=9, D=16, seed=0):
    rng = np.random.default_rng(seed)
    return [Document(f"d{i}", "eng_Latn", ["s"] * T, rng.normal(size=(T, D)).astype(np.float32)) for i in range(n)]


def test_baselines_are_reported_and_score_what_they_claim():
    docs = _docs()
    report = evaluate(_Echo(), docs)["eng_Latn"]
    assert set(report["baselines"]) == set(BASELINES)
    assert report["l2"] == report["baselines"]["previous"]["l2"] and report["ca"] == report["baselines"]["previous"]["ca"]
    x = torch.from_numpy(np.stack([d.concepts for d in docs]))  # (N, T, D)
    mean = torch.cumsum(x[:, :-1], 1) / torch.arange(1, x.shape[1])[None, :, None]  # (N, T-1, D) prompt means
    expected = l2(mean.reshape(-1, x.shape[2]), x[:, 1:].reshape(-1, x.shape[2])).mean().item()
    assert abs(report["baselines"]["prompt_mean"]["l2"] - expected) < 1e-6
    assert report["baselines"]["prompt_mean"]["l2"] != report["baselines"]["previous"]["l2"]
