"""Parity with Meta's large_concept_model release: preset sizes, Meta's DDIM spacing and epsilon scaling, the
learnable null key, unit refinement noise, the exact conversion of the shipped Two-Tower, renamed recipe keys and the
normalizer's quantile clipping."""

import dataclasses
import os

import pytest
import torch

from diffusion_head import DiffusionHeadConfig, build_head
from diffusion_head.samplers import ddim_step, ddim_timesteps, sample_ddim
from diffusion_head.schedule import NoiseSchedule
from encoders.errors import InputError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TWO_TOWER = os.path.join(ROOT, "lcm", "pretrained", "two_tower")


@pytest.mark.parametrize("name,meta_count", [("base_lcm_1_6b", 1_647_635_456), ("two_tower_1_6b", 1_635_101_696),
                                             ("two_tower_7b", 6_930_781_696)])
def test_paper_presets_have_metas_parameter_counts(name, meta_count):
    """Meta's counts are those its archs print for these architectures; built on the meta device (no memory)."""
    from lcm.model.concept_model import build_model
    from lcm.model.presets import PRESETS

    with torch.device("meta"):
        n = build_model(PRESETS[name]()).num_parameters()
    assert abs(n - meta_count) / meta_count < 0.01, (n, meta_count)


def test_swiglu_rounding_matches_fairseq2():
    from diffusion_head.ffn import ffn_hidden

    assert ffn_hidden(2048, 4.0, 256) == 5632 and ffn_hidden(4096, 4.0, 256) == 11008
    assert ffn_hidden(256, 4.0, 8) == 688 and ffn_hidden(256, 4.0, 1) == 682  # the shipped backbone / denoiser


def test_meta_spacing_of_40_steps_is_50_steps_99_97_to_1():
    # Assumed construction (from the review of Meta's scheduler): step = T // n = 2 for T=100, n=40; timesteps =
    # integer arange(T, 0, -step) - 1; each step goes to t - step.
    pairs = ddim_timesteps(100, 40, "meta")
    assert [t for t, _ in pairs] == list(range(99, 0, -2)) and len(pairs) == 50
    assert all(prev == t - 2 for t, prev in pairs) and pairs[-1] == (1, -1)
    trailing = [t for t, _ in ddim_timesteps(100, 40, "trailing")]
    assert trailing[:4] == [99, 97, 94, 91] and len(trailing) == 40  # diffusers' trailing spacing, the default


def test_meta_spacing_drives_the_ddim_loop():
    schedule, seen = NoiseSchedule(), []
    sample_ddim(lambda x, t, c: seen.append(t) or torch.zeros_like(x), torch.randn(2, 4), schedule, 40, cond=None,
                spacing="meta")
    assert seen == list(range(99, 0, -2))


def test_eps_scaled_ddim_step_is_metas_formula():
    """DDIM eq. 12 (Song et al. 2021) with eps divided by lambda in the direction term only:
    x_prev = sqrt(a_prev) x0 + sqrt(1 - a_prev - sigma^2) eps / lambda + sigma z."""
    schedule = NoiseSchedule()
    g = torch.Generator().manual_seed(0)
    x, x0_pred, z = (torch.randn(3, 8, generator=g) for _ in range(3))
    t, prev, lam, eta = 61, 59, 1.00045, 0.5
    a, a_prev = schedule.alphas_cumprod[t].double(), schedule.alphas_cumprod[prev].double()
    eps = (x.double() - a.sqrt() * x0_pred.double()) / (1 - a).sqrt()
    sigma = eta * ((1 - a_prev) / (1 - a)).sqrt() * (1 - a / a_prev).sqrt()
    expected = a_prev.sqrt() * x0_pred.double() + (1 - a_prev - sigma**2).sqrt() * eps / lam + sigma * z.double()
    got = ddim_step(x0_pred, eps.float(), schedule.alphas_cumprod[t], schedule.alphas_cumprod[prev], eta=eta,
                    eps_scale=lam, noise=z)
    torch.testing.assert_close(got.double(), expected, rtol=1e-5, atol=1e-5)
    unscaled = ddim_step(x0_pred, eps.float(), schedule.alphas_cumprod[t], schedule.alphas_cumprod[prev], eta=eta, noise=z)
    assert not torch.allclose(got, unscaled)  # the scaling is applied, and x0 enters unchanged:
    direction = (1 - a_prev - sigma**2).sqrt() * eps
    torch.testing.assert_close((unscaled - got).double(), direction * (1 - 1 / lam), rtol=1e-3, atol=1e-7)


def test_eps_scaling_applies_at_the_first_step_too():
    """Meta scales at every step, the pure-noise one included (the old x0 route skipped it)."""
    schedule, x = NoiseSchedule(), torch.randn(2, 8)

    def first_step(lam):
        states = []
        sample_ddim(lambda x, t, c: torch.zeros_like(x), x, schedule, 2, cond=None, eps_scale=lam,
                    callback=lambda i, t, x: states.append(x))
        return states[0]  # after the step from t = 99 (alpha_bar ~ 0) to t = 49

    torch.testing.assert_close(first_step(1.5), first_step(1.0) / 1.5)  # x0 = 0: only the direction term is left


TINY = DiffusionHeadConfig(d_model=32, n_layers=2, n_heads=4, timestep_dim=32)


def random_head(**overrides):
    torch.manual_seed(0)
    head = build_head(dataclasses.replace(TINY, **overrides), 32, 8)
    with torch.no_grad():  # adaLN-Zero would hide everything: random weights make the checks non-trivial
        for p in head.parameters():
            if p.abs().sum() == 0:
                p.normal_(0, 0.2)
    return head.eval()


def _unconditional(head, hidden, x_t, t):
    den = head.denoiser
    context = den.context(hidden)  # (B, K, d)
    qpos = torch.arange(hidden.shape[1]).expand(hidden.shape[0], -1)
    return den(x_t, t, context, den.null_visible(den.visible(qpos, context.shape[1])), qpos)


def test_null_key_is_learnable_through_the_kv_bias():
    head = random_head()
    g = torch.Generator().manual_seed(1)
    hidden, x_t, t = torch.randn(2, 4, 32, generator=g), torch.randn(2, 4, 8, generator=g), torch.randint(0, 100, (2, 4))
    with torch.no_grad():
        before = _unconditional(head, hidden, x_t, t)
        for layer in head.denoiser.layers:
            layer.cross.kv.bias.add_(torch.randn_like(layer.cross.kv.bias))
        after = _unconditional(head, hidden, x_t, t)
    assert not torch.allclose(before, after)
    no_bias = random_head(kv_bias=False)  # without a bias the null key and value are exactly zero
    assert all(layer.cross.kv.bias is None for layer in no_bias.denoiser.layers)


def test_refinement_passes_re_noise_with_unit_noise(monkeypatch):
    from diffusion_head.plan import PlanConfig, parallel_plan
    from lcm.config import RecipeConfig, ModelConfig
    from lcm.model.concept_model import build_model

    recipe = RecipeConfig(model=ModelConfig(concept_dim=64, d_model=32, n_layers=1, n_heads=4, head="diffusion"),
                          diffusion=dataclasses.replace(TINY, d_model=32))
    model = build_model(recipe).eval()
    seen = []
    original = model.head.schedule.add_noise
    monkeypatch.setattr(model.head.schedule, "add_noise", lambda x0, noise, t: seen.append(noise) or original(x0, noise, t))
    parallel_plan(model, torch.randn(3, 64), 8, PlanConfig(block=8, passes=2), {"sigma_init": 0.6, "steps": 4})
    assert len(seen) == 1 and seen[0].numel() == 8 * 64
    assert 0.9 < float(seen[0].std()) < 1.1  # unit variance (sigma_init 0.6 would give ~0.6)


# ---------------------------------------------------------------- the shipped Two-Tower, converted exactly
def test_converted_two_tower_gives_the_old_outputs():
    """tests/data/two_tower_golden.pt holds what the shipped model computed before its conversion (denoiser outputs
    with and without context, DPM-Solver++ and DDIM samples, eps_scale 1); the converted model must match them."""
    from lcm.model.io import load_model

    g = torch.load(os.path.join(ROOT, "tests", "data", "two_tower_golden.pt"))
    model, _, _ = load_model(TWO_TOWER)
    den = model.head.denoiser
    with torch.no_grad():
        hidden, _ = model.hidden(g["concepts"], g["valid"])
        context, qpos = den.context(hidden), torch.arange(5).expand(2, 5)
        visible = den.visible(qpos, context.shape[1])
        out = den(g["x_t"], g["t"], context, visible, qpos)
        out_null = den(g["x_t"], g["t"], context, den.null_visible(visible), qpos)
        run = lambda **o: model.head.sample(hidden, g["valid"], generator=torch.Generator().manual_seed(7),  # noqa
                                            guidance_scale=3.0, eps_scale=1.0, **o)
        dpmpp, ddim = run(sampler="dpmpp", steps=10), run(sampler="ddim", steps=40)
    for new, old in ((out, "out"), (out_null, "out_null"), (dpmpp, "sample_dpmpp"), (ddim, "sample_ddim")):
        assert (new - g[old]).abs().max() <= 1e-6, old


def test_legacy_layout_loads_into_the_same_function():
    """A state dict in the pre-Meta layout (6 d AdaLN, no self-attention, no kv bias, ffn.out) loads and computes
    what the converted one does."""
    from lcm.model.concept_model import build_model
    from lcm.model.io import load_model

    model, recipe, _ = load_model(TWO_TOWER)
    legacy = {}
    for key, value in model.state_dict().items():
        if ".self_attn." in key or key.endswith("kv.bias"):
            continue
        if key.endswith("ada.proj.weight") or key.endswith("ada.proj.bias"):
            assert value[: value.shape[0] // 3].abs().max() == 0  # the self-attention's chunk is zero
            value = value[value.shape[0] // 3:]
        legacy[key.replace(".ffn.down.", ".ffn.out.") if "head.denoiser" in key else key] = value
    fresh = build_model(recipe).eval()
    fresh.load_state_dict(legacy)
    x = torch.randn(1, 4, 512) * 0.05
    valid = torch.ones(1, 4, dtype=torch.bool)
    with torch.no_grad():
        a = model.head.sample(model.hidden(x, valid)[0], valid, generator=torch.Generator().manual_seed(0), steps=5)
        b = fresh.head.sample(fresh.hidden(x, valid)[0], valid, generator=torch.Generator().manual_seed(0), steps=5)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


# ---------------------------------------------------------------- recipes and the normalizer
def test_old_condition_dropout_key_names_the_new_one():
    from lcm.config import load_recipe

    with pytest.raises(InputError, match="diffusion.cond_dropout"):
        load_recipe(os.path.join(ROOT, "recipes", "two_tower_tiny.yaml"), ["diffusion.cfg_dropout=0.1"])


def test_normalizer_quantile_clip_in_normalize_and_denormalize():
    from lcm.model.normalizer import Normalizer

    x = torch.randn(2000, 4)
    norm = Normalizer(4, "gaussian_robust", quantile_clip=0.01)
    norm.fit(x)
    low, high = torch.quantile(x, torch.tensor([0.01, 0.99]), dim=0)
    far = torch.full((1, 4), 50.0)
    torch.testing.assert_close(norm.normalize(far), ((high - norm.center) / norm.scale)[None])
    torch.testing.assert_close(norm.denormalize(torch.full((1, 4), -50.0)), low[None])
    plain = Normalizer(4, "gaussian_robust")
    plain.fit(x)
    assert "clip_low" not in plain.state_dict()  # off by default: the shipped models' files are unchanged
    assert torch.equal(plain.normalize(x[:5]), norm.normalize(x[:5]).where(x[:5].abs() < 2, plain.normalize(x[:5])))
