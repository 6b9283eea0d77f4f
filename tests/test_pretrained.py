"""The shipped models and the exported-model format: config.json holds the architecture and free-form provenance (no
machine paths), old exported models (format 0: a dump of the whole training recipe) still load, and every shipped
model gives the outputs it gave before its config.json was rewritten (tests/data/pretrained_outputs.json)."""

import json
import re
import shutil
from pathlib import Path

import pytest
import torch

from encoders.errors import InputError
from lcm.inference.generate import GenerationConfig, generate
from lcm.model.export_config import FORMAT, read_model_config
from lcm.model.io import load_model, save_model

ROOT = Path(__file__).resolve().parent.parent
PRETRAINED = ROOT / "lcm" / "pretrained"
DATA = Path(__file__).resolve().parent / "data"
GOLDEN = json.loads((DATA / "pretrained_outputs.json").read_text())["models"]
OPTIONS = {"base_lcm": {}, "base_lcm_sum": {}, "two_tower": {"sampler": "dpmpp", "steps": 4}, "quant_lcm": {"top_k": 3}}
ABSOLUTE_PATH = re.compile(r"(^|[\s'\"`(=,:;])(/|~/)[\w.]")  # /data/x or ~/x anywhere in a string (not http://)
SHIPPED_CONFIGS = sorted(PRETRAINED.glob("*/config.json")) + [ROOT / "encoders/embedded/weights/config.json"]


def outputs(model, options: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """(3 generated concepts, backbone hidden states) for a fixed 5-concept prompt, seeded."""
    prompt = torch.nn.functional.normalize(torch.randn(5, 512, generator=torch.Generator().manual_seed(0)), dim=-1)
    (new,), _ = generate(model, [prompt], GenerationConfig(max_new=3, min_new=3, eot_threshold=0, seed=0,
                                                           head_options=options))
    hidden, _ = model.hidden(prompt[None], torch.ones(1, 5, dtype=torch.bool))
    return new, hidden


def strings(tree):
    if isinstance(tree, dict):
        for value in tree.values():
            yield from strings(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from strings(value)
    elif isinstance(tree, str):
        yield tree


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_shipped_model_gives_the_outputs_it_gave_before(name):
    import hashlib

    golden = GOLDEN[name]
    weights = PRETRAINED / name / "model.safetensors"
    if hashlib.sha256(weights.read_bytes()).hexdigest() != golden["weights_sha256"]:
        pytest.fail(f"{weights} changed: check its outputs by hand, then record them in {DATA / 'pretrained_outputs.json'}")
    model, recipe, meta = load_model(PRETRAINED / name)
    assert meta["format"] == FORMAT and recipe.model.concept_dim == 512 and meta["codec"] == "embedded"
    new, hidden = outputs(model, OPTIONS[name])
    torch.testing.assert_close(new[:, :8], torch.tensor(golden["generated_first_values"]), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(new.sum(1), torch.tensor(golden["generated_row_sums"]), atol=1e-4, rtol=1e-5)
    assert hidden.sum().item() == pytest.approx(golden["hidden_sum"], rel=1e-5)


def test_an_old_format0_model_loads_and_matches_the_shipped_one(tmp_path):
    """tests/data/format0_base_lcm.json is base_lcm's config.json as it was (the whole training recipe)."""
    old = tmp_path / "base_lcm_format0"
    old.mkdir()
    shutil.copy(DATA / "format0_base_lcm.json", old / "config.json")
    (old / "model.safetensors").symlink_to(PRETRAINED / "base_lcm" / "model.safetensors")
    legacy, legacy_recipe, legacy_meta = load_model(old)
    shipped, recipe, _ = load_model(PRETRAINED / "base_lcm")
    assert legacy_meta["format"] == 0 and legacy_meta["provenance"]["trained_steps"] == 1000
    assert legacy_meta["provenance"]["figures"]["valid_loss"] == pytest.approx(396.4078)
    assert legacy_recipe.model == recipe.model and legacy_recipe.normalizer.method == recipe.normalizer.method
    for (key, a), b in zip(legacy.state_dict().items(), shipped.state_dict().values()):
        assert torch.equal(a, b), key
    for a, b in zip(outputs(legacy, {}), outputs(shipped, {})):
        assert torch.equal(a, b)


@pytest.mark.parametrize("path", SHIPPED_CONFIGS, ids=lambda p: p.parent.name)
def test_shipped_configs_hold_no_machine_paths(path):
    meta = json.loads(path.read_text())
    bad = [s for s in strings(meta) if ABSOLUTE_PATH.search(s)]
    assert not bad, f"{path} holds machine paths: {bad}"
    if path.parent.parent == PRETRAINED:
        assert meta["format"] == FORMAT and "recipe" not in meta and isinstance(meta["provenance"], dict)


def test_export_records_architecture_and_provenance_but_no_paths(tiny_recipe, tmp_path):
    from lcm.model.concept_model import build_model

    tiny_recipe.data.credit = "synthetic sentences, public domain"
    tiny_recipe.train.init_from = str(tmp_path / "some" / "pretrained")
    out = save_model(build_model(tiny_recipe), tiny_recipe, tmp_path / "model", {"trained_steps": 3})
    meta = json.loads((out / "config.json").read_text())
    assert sorted(meta) == ["codec", "concept_dim", "format", "model", "normalizer", "provenance"]  # no head section
    assert "dropout" not in meta["model"] and meta["model"]["max_len"] == tiny_recipe.model.max_len
    assert meta["provenance"]["data"] == {"train": "shards", "credit": "synthetic sentences, public domain"}
    assert meta["provenance"]["fine_tuned_from"] == "pretrained" and meta["provenance"]["trained_steps"] == 3
    assert str(tmp_path) not in json.dumps(meta)
    recipe, _ = read_model_config(out)
    assert recipe.model.d_model == tiny_recipe.model.d_model and recipe.codec == "hashing"


def test_loading_reads_the_architecture_strictly_and_the_provenance_not_at_all(tiny_recipe, tmp_path):
    from lcm.model.concept_model import build_model

    out = save_model(build_model(tiny_recipe), tiny_recipe, tmp_path / "model")
    config = out / "config.json"
    meta = json.loads(config.read_text())
    config.write_text(json.dumps({**meta, "provenance": {"anything": ["goes", {"here": 1}]}}))
    assert read_model_config(out)[1]["provenance"] == {"anything": ["goes", {"here": 1}]}
    config.write_text(json.dumps({**meta, "model": {**meta["model"], "n_layerz": 3}}))
    with pytest.raises(InputError, match="n_layerz.*newer version"):
        read_model_config(out)
    config.write_text(json.dumps({**meta, "format": 2}))
    with pytest.raises(InputError, match="format 2.*upgrade lcm-toolkit"):
        read_model_config(out)


def test_older_two_tower_configs_are_upgraded_to_the_shipped_architecture(tmp_path):
    """A Two-Tower config.json written before the denoiser followed Meta's layout reads as the shipped one: format 1
    without the fields added since (they take the values those models were built with), and format 0 with the renamed
    key cfg_dropout; the shipped (converted) weights load into both."""
    shipped, _ = read_model_config(PRETRAINED / "two_tower")
    meta = json.loads((PRETRAINED / "two_tower" / "config.json").read_text())
    added = ("ffn_multiple_of", "self_attention", "kv_bias", "context_projection", "final_adaln", "adaln_latest_state",
             "cross_recency_bias", "timestep_spacing")
    model = {k: v for k, v in meta["model"].items() if k != "ffn_multiple_of"}
    diffusion = {k: v for k, v in meta["diffusion"].items() if k not in added}
    format1 = {**meta, "model": model, "diffusion": diffusion}
    format0 = {"format": "lcm-toolkit/1", "codec": "embedded", "concept_dim": 512, "trained_steps": 2500,
               "recipe": {"codec": "embedded", "model": {**model, "concept_dim": 512, "dropout": 0.1},
                          "normalizer": meta["normalizer"], "diffusion": {**diffusion, "cfg_dropout": 0.15},
                          "train": {"steps": 1500}}}
    for name, old in (("format1", format1), ("format0", format0)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps(old))
        (folder / "model.safetensors").symlink_to(PRETRAINED / "two_tower" / "model.safetensors")
        _, recipe, _ = load_model(folder)
        assert recipe.model == shipped.model and recipe.diffusion == shipped.diffusion, name
