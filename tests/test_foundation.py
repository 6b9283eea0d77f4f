"""Core invariants: recipes, normalizer, model, training, generation."""

import glob
import json
import os

import pytest
import torch

from encoders.errors import InputError
from encoders.shared.recipes import from_dict
from lcm.config import RecipeConfig, load_recipe
from lcm.inference.generate import GenerationConfig, generate
from lcm.model.concept_model import build_model
from lcm.model.io import load_model
from lcm.model.normalizer import Normalizer
from lcm.training.loop import train

ROOT = os.path.dirname(os.path.dirname(__file__))


CODEC_DIMS = {"embedded": 512, "sonar": 1024, "hashing": 64}  # hashing: the dim the tiny recipes' tests encode with


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(ROOT, "recipes", "*.yaml"))), ids=os.path.basename)
def test_every_shipped_recipe_builds_what_it_describes(path):
    if os.path.basename(path).startswith("codec_"):  # codec recipes map onto the embedded codec's own dataclasses
        from encoders.embedded.config import USE_LANGS, load_recipe as load_codec_recipe
        from encoders.embedded.model import ConceptDecoder

        recipe = load_codec_recipe(path)
        assert set(recipe.data.langs) <= set(USE_LANGS)  # the encoder reads every language the decoder learns
        assert recipe.train.max_minutes > 0 or recipe.train.max_steps > 0  # something ends the run
        with torch.device("meta"):  # the model section builds (shapes only)
            assert ConceptDecoder(recipe.model).cfg.concept_dim == CODEC_DIMS["embedded"]
        return
    from diffusion_head.head import DiffusionHead
    from lcm.model.heads import MSEHead
    from quantized_head.heads import QuantizedHead

    recipe = load_recipe(path)
    with torch.device("meta"):  # every section (the head's too) is consistent enough to build the network
        model = build_model(recipe)
    assert recipe.model.concept_dim == CODEC_DIMS[recipe.codec], "model.concept_dim must be the codec's dimension"
    assert isinstance(model.head, {"mse": MSEHead, "diffusion": DiffusionHead, "quantized": QuantizedHead}[recipe.model.head])
    assert recipe.train.steps > recipe.train.warmup_steps


def test_recipe_unknown_key_and_overrides(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  d_modle: 64\n")
    with pytest.raises(InputError, match="d_modle.*valid keys"):
        load_recipe(bad)
    good = load_recipe(os.path.join(ROOT, "recipes", "base_lcm_tiny.yaml"), ["model.d_model=32", "train.betas=0.8,0.9"])
    assert good.model.d_model == 32 and good.train.betas == (0.8, 0.9)
    with pytest.raises(InputError, match="cannot use"):
        from_dict(RecipeConfig, {"train": {"steps": "many"}})


def test_normalizer_matches_median_and_iqr():
    x = torch.arange(1.0, 102.0)[:, None].repeat(1, 3)  # 1..101: median 51, q25 26, q75 76
    norm = Normalizer(3, "gaussian_robust")
    norm.fit(x)
    assert torch.allclose(norm.center, torch.full((3,), 51.0))
    assert torch.allclose(norm.scale, torch.full((3,), 50 * 0.7413))
    y = torch.randn(5, 3)
    assert torch.allclose(norm.denormalize(norm.normalize(y)), y, atol=1e-5)
    clipped = Normalizer(3, "robust", clip=1.0)
    clipped.fit(x)
    assert clipped.normalize(torch.full((1, 3), 1000.0)).max() == 1.0


def _random_model(d=64, layers=2):
    recipe = from_dict(RecipeConfig, {"codec": "hashing", "model": {"concept_dim": d, "d_model": 32, "n_layers": layers,
                                                                     "n_heads": 4, "dropout": 0.0}})
    torch.manual_seed(0)
    model = build_model(recipe).eval()
    model.normalizer.fit(torch.randn(500, d))
    return model


def test_kv_cached_generation_equals_uncached_on_ragged_batch():
    model = _random_model()
    prompts = [torch.randn(n, 64) for n in (3, 7, 1)]
    cached, _ = generate(model, prompts, GenerationConfig(max_new=12, eot_threshold=0, use_cache=True))
    uncached, _ = generate(model, prompts, GenerationConfig(max_new=12, eot_threshold=0, use_cache=False))
    for a, b in zip(cached, uncached):
        assert a.shape == (12, 64)
        assert torch.allclose(a, b, atol=1e-4)


def test_batched_generation_equals_one_prompt_at_a_time():
    model = _random_model()
    prompts = [torch.randn(n, 64) for n in (2, 5)]
    batched, _ = generate(model, prompts, GenerationConfig(max_new=4, eot_threshold=0))
    for prompt, out in zip(prompts, batched):
        (single,), _ = generate(model, [prompt], GenerationConfig(max_new=4, eot_threshold=0))
        assert torch.allclose(single, out, atol=1e-4)


def test_generation_stops_at_end_of_text_and_repetition():
    model = _random_model()
    prompt = [torch.randn(3, 64)]
    (first,), _ = generate(model, prompt, GenerationConfig(max_new=1, eot_threshold=0))
    model.eot_concept.copy_(first[0])  # the model's first output *is* end-of-text: stop right away
    (out,), (reason,) = generate(model, prompt, GenerationConfig(max_new=5, min_new=0))
    assert reason == "end_of_text" and len(out) == 0
    with torch.no_grad():  # a model that always says the same thing: the second output repeats the first
        model.head.postnet.weight.zero_()
        model.head.postnet.bias.normal_()
    (out,), (reason,) = generate(model, prompt, GenerationConfig(max_new=5, eot_threshold=0, repeat_threshold=0.9))
    assert reason == "repetition" and len(out) == 1


def test_generation_rejects_bad_prompts():
    model = _random_model()
    with pytest.raises(InputError, match="NaN"):
        generate(model, [torch.full((2, 64), float("nan"))], GenerationConfig())
    with pytest.raises(InputError, match="expects"):
        generate(model, [torch.randn(2, 32)], GenerationConfig())


def test_toy_base_lcm_overfits(tiny_recipe):
    tiny_recipe.train.steps = 150
    out = train(tiny_recipe, show_progress=False)
    log = [json.loads(line) for line in open(os.path.join(tiny_recipe.train.out_dir, "loss_log.jsonl"))]
    model, recipe, meta = load_model(out)
    # Baseline: always predicting the mean normalized concept. The model must do far better on its training data.
    from lcm.data.batches import sample_concepts

    targets = model.normalizer.normalize(sample_concepts(tiny_recipe.data.train, 10_000))
    baseline = (targets - targets.mean(0)).pow(2).sum(-1).mean().item()
    assert log[-1]["loss"] < 0.3 * baseline, (log[-1]["loss"], baseline)
    assert log[0]["loss"] > 3 * log[-1]["loss"], (log[0], log[-1])
    assert meta["provenance"]["trained_steps"] == 150 and recipe.model.head == "mse"
    assert model.normalizer.fitted and model.eot_concept.abs().sum() > 0


def test_training_resumes_and_continues_the_log(tiny_recipe):
    import subprocess
    import sys

    tiny_recipe.train.steps = 20
    train(tiny_recipe, show_progress=False)
    # What a writer killed mid-checkpoint leaves (its pid is gone), and a folder of a writer still running (pid 1).
    ckpt_root = os.path.join(tiny_recipe.train.out_dir, "checkpoints")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    leftovers = {pid: os.path.join(ckpt_root, f".step_00000025.tmp-{pid}") for pid in (int(dead.stdout), 1)}
    for path in leftovers.values():
        os.makedirs(path)
    tiny_recipe.train.steps = 40
    train(tiny_recipe, show_progress=False)
    steps = [json.loads(line)["step"] for line in open(os.path.join(tiny_recipe.train.out_dir, "loss_log.jsonl"))]
    assert steps == list(range(5, 45, 5))  # no duplicates, no gap
    assert not os.path.exists(leftovers[int(dead.stdout)]) and os.path.exists(leftovers[1])
    os.rmdir(leftovers[1])
    ckpts = sorted(os.listdir(ckpt_root))
    assert ckpts[-1] == "step_00000040" and len(ckpts) <= tiny_recipe.train.keep_checkpoints
