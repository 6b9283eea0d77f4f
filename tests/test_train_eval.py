"""train.eval_every: periodic validation losses in the loss log, without changing what is trained."""

import json
import os
from dataclasses import replace

import pytest
import torch

from lcm.config import load_recipe
from lcm.model.export_config import read_model_config
from lcm.model.io import load_model
from lcm.training.loop import train

ROOT = os.path.dirname(os.path.dirname(__file__))


def test_periodic_validation_is_logged_and_leaves_training_unchanged(tiny_shards, tmp_path):
    base = load_recipe(os.path.join(ROOT, "recipes", "two_tower_tiny.yaml"),  # diffusion: training draws random noise
                       [f"data.train={tiny_shards}", f"data.valid={tiny_shards}", "train.steps=4", "train.log_every=3"])
    runs = {}
    for every in (0, 2):
        recipe = replace(base, train=replace(base.train, eval_every=every, out_dir=str(tmp_path / f"every{every}")))
        runs[every] = train(recipe, show_progress=False)
    rows = [json.loads(line) for line in (tmp_path / "every2" / "loss_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 3, 4] and ["valid_loss" in r for r in rows] == [True, False, True]
    assert not any("valid_loss" in json.loads(line) for line in (tmp_path / "every0" / "loss_log.jsonl").read_text().splitlines())
    _, meta = read_model_config(runs[2])
    assert rows[-1]["valid_loss"] == pytest.approx(meta["provenance"]["figures"]["valid_loss"], rel=1e-5)  # the final model, evaluated twice
    assert rows[0]["valid_loss"] != pytest.approx(rows[-1]["valid_loss"])
    a, b = (load_model(runs[k])[0].state_dict() for k in (0, 2))
    assert all(torch.equal(a[k], b[k]) for k in a)  # the evaluation's seeding did not touch the training RNG
