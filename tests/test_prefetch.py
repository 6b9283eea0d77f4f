"""The background batch prefetcher: same items in the same order, runs ahead, passes errors on, stops on close."""

import threading

import pytest
import torch

from lcm.data.prefetch import Prefetcher


def test_same_items_in_the_same_order():
    items = [(torch.full((2, 3), float(i)), torch.ones(2, dtype=torch.bool)) for i in range(7)]
    got = list(Prefetcher(iter(items), depth=2))
    assert len(got) == 7 and all(torch.equal(a[0], b[0]) for a, b in zip(got, items))


def test_runs_ahead_of_the_consumer_by_its_depth():
    produced, gate = [], threading.Event()

    def source():
        for i in range(100):
            produced.append(i)
            if len(produced) == 4:
                gate.set()
            yield (torch.tensor([i]),)

    p = Prefetcher(source(), depth=3)
    assert gate.wait(timeout=30)  # 3 queued + 1 waiting to be queued, before anything was consumed
    assert next(p)[0].item() == 0
    p.close()
    assert len(produced) < 100  # stopped early instead of reading the whole source


def test_an_error_in_the_source_reaches_the_consumer():
    def source():
        yield (torch.zeros(1),)
        raise ValueError("shard 3 is corrupt")

    p = Prefetcher(source(), depth=2)
    next(p)
    with pytest.raises(ValueError, match="shard 3 is corrupt"):
        next(p)


def test_training_with_and_without_prefetch_gives_the_same_weights(tiny_recipe, tmp_path):
    from dataclasses import replace

    from lcm.model.io import load_model
    from lcm.training.loop import train

    weights = []
    for depth in (0, 2):
        recipe = replace(tiny_recipe, data=replace(tiny_recipe.data, prefetch=depth),
                         train=replace(tiny_recipe.train, steps=6, out_dir=str(tmp_path / f"run{depth}")))
        model, _, _ = load_model(train(recipe, show_progress=False))
        weights.append(model.state_dict())
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
