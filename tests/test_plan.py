"""Parallel plan diffusion (diffusion_head/plan.py), its CLI flags and its benchmark, on a tiny Two-Tower with random weights."""

import json
import os

import pytest
import torch

from diffusion_head.plan import PlanConfig, parallel_plan
from encoders.errors import InputError
from lcm.inference.generate import GenerationConfig, generate
from tests.conftest import load_script
from tests.test_cli import run_cli

ROOT = os.path.dirname(os.path.dirname(__file__))
OPTS = {"sampler": "dpmpp", "steps": 6, "guidance_scale": 2.0}


def _model(head: str = "two_tower"):
    """A tiny model whose every weight is random (the zero-initialised adaLN gates would make the denoiser output 0)."""
    from lcm.config import load_recipe
    from lcm.model.concept_model import build_model

    recipe = load_recipe(os.path.join(ROOT, "recipes", f"{head}_tiny.yaml"))
    model = build_model(recipe)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
    return model.eval(), recipe


def _gen(seed=0, n=4, **opts):
    return GenerationConfig(max_new=n, min_new=n, eot_threshold=0, seed=seed, head_options={**OPTS, **opts})


@pytest.mark.parametrize("tower", ["two_tower", "one_tower"])
def test_block_of_one_is_autoregressive_generation(tower):
    model, _ = _model(tower)
    prompt = torch.randn(5, 64)
    (ar,), _ = generate(model, [prompt], _gen())
    plan = parallel_plan(model, prompt, 4, PlanConfig(block=1, passes=1), OPTS)
    assert plan.shape == (4, 64)
    assert torch.allclose(plan, ar, atol=1e-4), (plan - ar).abs().max()
    joint = parallel_plan(model, prompt, 4, PlanConfig(block=4, passes=2), OPTS)
    assert joint.shape == (4, 64) and torch.isfinite(joint).all()


def test_joint_block_conditions_later_concepts_on_earlier_estimates(monkeypatch):
    model, _ = _model()
    prompt = torch.randn(5, 64)
    joint = parallel_plan(model, prompt, 4, PlanConfig(block=4, passes=1), OPTS)
    again = parallel_plan(model, prompt, 4, PlanConfig(block=4, passes=1), OPTS)
    assert torch.equal(joint, again) and torch.isfinite(joint).all()
    # The first concept of a block sees only the prompt, exactly as one-by-one generation does with the same noise.
    first = parallel_plan(model, prompt, 1, PlanConfig(block=1, passes=1), OPTS)
    assert torch.allclose(joint[0], first[0], atol=1e-4)
    # What the backbone reads for the block's first 3 positions: the median concept before step 1, then each step's
    # clean estimates; DPM-Solver's last step lands on its estimate, so the last read is the plan itself.
    seen, hidden = [], model.hidden
    monkeypatch.setattr(model, "hidden", lambda c, *a, **k: (seen.append(c[0].clone()), hidden(c, *a, **k))[1])
    again = parallel_plan(model, prompt, 4, PlanConfig(block=4, passes=1), OPTS)
    block_reads = seen[1:]  # seen[0] is the prompt
    assert len(block_reads) == 1 + OPTS["steps"] and all(r.shape == (3, 64) for r in block_reads)
    assert torch.allclose(block_reads[0], model.normalizer.center.expand(3, -1))
    assert torch.allclose(block_reads[-1], again[:3], atol=1e-4)
    assert not torch.allclose(block_reads[1], block_reads[-1], atol=1e-3)  # revised as the steps go


def test_refinement_passes_revise_the_block_and_seeds_matter():
    model, _ = _model()
    prompt = torch.randn(3, 64)
    one = parallel_plan(model, prompt, 6, PlanConfig(block=3, passes=1), OPTS)
    two = parallel_plan(model, prompt, 6, PlanConfig(block=3, passes=2, strength=0.5), OPTS)
    other_seed = parallel_plan(model, prompt, 6, PlanConfig(block=3, passes=2), OPTS, seed=1)
    ddim = parallel_plan(model, prompt, 6, PlanConfig(block=3, passes=2), {**OPTS, "sampler": "ddim"})
    assert one.shape == two.shape == (6, 64) and torch.isfinite(ddim).all()
    assert not torch.allclose(one, two, atol=1e-3) and not torch.allclose(two, other_seed, atol=1e-3)


def test_partial_restart_matches_the_noised_schedule():
    """A sampler started part-way at x_t = noised(x0) keeps x0 when the denoiser predicts x0 exactly."""
    from diffusion_head.samplers import get_sampler, start_timestep

    model, _ = _model()
    schedule = model.head.schedule
    x0 = torch.randn(3, 64)
    for sampler in ("ddim", "dpmpp"):
        t = start_timestep(schedule, sampler, 10, 5)
        x = schedule.add_noise(x0, torch.randn(3, 64), torch.tensor(t))
        out = get_sampler(sampler)(lambda x, t, c: x0, x, schedule, 10, cond=None, start=5)
        assert 0 < t < schedule.num_train_timesteps - 1 and torch.allclose(out, x0, atol=1e-4)


@pytest.mark.parametrize("bad", [dict(plan=PlanConfig(block=0)), dict(plan=PlanConfig(passes=0)),
                                 dict(plan=PlanConfig(strength=0.0)), dict(opts={"sampler": "euler"}), dict(n=0)])
def test_bad_plan_options_are_refused(bad):
    model, _ = _model()
    with pytest.raises(InputError):
        parallel_plan(model, torch.randn(3, 64), bad.get("n", 2), bad.get("plan", PlanConfig()),
                      {**OPTS, **bad.get("opts", {})})


def test_parallel_plan_needs_a_diffusion_model():
    model, _ = _model("base_lcm")
    with pytest.raises(InputError, match="--head diffusion"):
        parallel_plan(model, torch.randn(3, 64), 2, PlanConfig(), OPTS)


@pytest.fixture()
def saved_two_tower(tmp_path):
    from lcm.model.io import save_model

    model, recipe = _model()
    return save_model(model, recipe, tmp_path / "tt")


def test_story_cli_parallel(saved_two_tower, tmp_path, capsys):
    doc = tmp_path / "premise.txt"
    doc.write_text("The river was near the stone. The stone was near the lantern.", encoding="utf-8")
    hashing = ["--codec", "hashing", "--codec-opt", "dim=64", "--model", saved_two_tower, "--steps", "4"]
    assert run_cli("story", doc, "-n", "3", "--parallel", "2", "--passes", "2", *hashing) == 0
    out = capsys.readouterr().out
    assert out.startswith("Outline:") and "  3. " in out and "Story:" in out
    assert run_cli("story", doc, "-n", "3", "--passes", "3", *hashing) == 2  # --passes without --parallel
    assert "--parallel" in capsys.readouterr().err
    assert run_cli("story", doc, "--parallel", "2", "--codec", "hashing", "--codec-opt", "dim=64") == 2  # MSE default


def test_bench_plan_reports_every_method(saved_two_tower, tiny_shards, tmp_path):
    bench_plan = load_script("bench/bench_plan.py")
    out = tmp_path / "plan"
    report = bench_plan.main(["--data", str(tiny_shards), "--model", str(saved_two_tower), "--reference", "",
                              "--configs", "3:1,3:2", "--prompt", "2", "--horizon", "3", "--stride", "2",
                              "--steps", "3", "--out", str(out)])
    names = set(report["methods"])
    assert {"autoregressive", "parallel K=3 P=1", "parallel K=3 P=2", "baseline: repeat last concept"} <= names
    for r in report["methods"].values():
        assert 0 <= r["ca"] <= 1 and r["l2"] > 0 and len(r["l2_by_position"]) == 3
    assert json.loads((out / "plan.json").read_text())["settings"]["problems"] == report["settings"]["problems"] > 0
    assert (out / "plan.png").stat().st_size > 0 and "| autoregressive |" in (out / "plan.md").read_text()
