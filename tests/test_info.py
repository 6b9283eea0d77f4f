"""`lcm info` on a preset, a recipe and a shipped model, as text and JSON, and its error line."""

import json
import os

import pytest

from lcm.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _info(capsys, *args):
    code = main(["info", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_info_preset_counts_parts_and_flops(capsys):
    code, out, _ = _info(capsys, "two_tower_1_6b", "--json")
    info = json.loads(out)
    assert code == 0 and info["kind"] == "preset" and info["codec"] == "sonar" and info["concept_dim"] == 1024
    p = info["parameters"]
    assert p["total"] == p["contextualizer"] + p["denoiser"] + p["head"]  # the normalizer holds statistics only
    assert abs(p["total"] - 1_635_101_696) / 1_635_101_696 < 0.01
    assert info["architecture"]["diffusion"]["n_layers"] == 13
    # 6 N + 12 L d T with N = Linear weights and L d summed over the contextualizer and the denoiser
    assert 6 * p["total"] < info["flops_per_concept"] < 6 * p["total"] + 12 * 18 * 2048 * 128 + 1


def test_info_recipe_text(capsys):
    code, out, _ = _info(capsys, os.path.join(ROOT, "recipes", "two_tower_paper.yaml"))
    assert code == 0 and "(recipe)" in out and "timestep_spacing meta" in out and "contextualizer" in out
    assert "1,645,071,360" in out


def test_info_shipped_model_shows_its_provenance(capsys):
    code, out, _ = _info(capsys, "two_tower")
    assert code == 0 and "(model)" in out and "embedded, 512-d" in out and "trained_steps  2500" in out
    code, out, _ = _info(capsys, "base_lcm", "--json")
    info = json.loads(out)
    assert info["kind"] == "model" and info["parameters"]["denoiser"] == 0 and info["provenance"]["trained_steps"] == 2300


@pytest.mark.parametrize("bad", ["no_such_thing", "two_tower_3b"])
def test_info_bad_argument_is_one_error_line(capsys, bad):
    code, out, err = _info(capsys, bad)
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("error: ") and "preset" in err


def test_info_help_has_examples(capsys):
    with pytest.raises(SystemExit):
        main(["info", "--help"])
    assert "lcm info two_tower_1_6b" in capsys.readouterr().out
