"""Tiny CPU tests of the diffusion head: schedules, samplers, guidance, the head protocol, a Two-Tower toy overfit."""

import dataclasses

import pytest
import torch
from torch import nn

from diffusion_head import DiffusionHeadConfig, build_head
from diffusion_head.guidance import cfg_denoiser, eps_scaled_denoiser
from diffusion_head.samplers import get_sampler, sample_ddim
from diffusion_head.schedule import ZERO_SNR_ALPHA_BAR, NoiseSchedule
from encoders.errors import InputError

@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny matmuls: extra threads only fight over shared cores (measured 10-40x slower with 2 on a busy box)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


TINY = DiffusionHeadConfig(d_model=32, n_layers=2, n_heads=4, timestep_dim=32, max_seq_len=16)


def _tiny_head(hidden_dim=32, concept_dim=8, **overrides):
    torch.manual_seed(0)
    head = build_head(dataclasses.replace(TINY, **overrides), hidden_dim, concept_dim)
    # adaLN-Zero makes a fresh denoiser ignore its inputs; give it random weights so invariants are non-trivial.
    with torch.no_grad():
        for p in head.parameters():
            if p.abs().sum() == 0:
                p.normal_(0, 0.2)
    return head.eval()


# ---------------------------------------------------------------- schedules
@pytest.mark.parametrize("name,diffusers_name", [("cosine", "squaredcos_cap_v2"), ("quadratic", "scaled_linear"),
                                                 ("linear", "linear")])
def test_schedules_match_diffusers_builtins(name, diffusers_name):
    from diffusers import DDIMScheduler

    ours = NoiseSchedule(name, 100, zero_terminal_snr=False, beta_start=1e-3, beta_end=0.012)
    ref = DDIMScheduler(num_train_timesteps=100, beta_schedule=diffusers_name, beta_start=1e-3, beta_end=0.012)
    torch.testing.assert_close(ours.alphas_cumprod, ref.alphas_cumprod, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", ["cosine", "quadratic", "sigmoid"])
@pytest.mark.parametrize("sampler", ["ddim", "dpmpp", "euler"])
def test_every_scheduler_reads_the_same_alphas(name, sampler):
    schedule = NoiseSchedule(name, 100, zero_terminal_snr=True, sigmoid_gamma=1.5, sigmoid_delta=-1.0)
    assert torch.equal(schedule.scheduler(sampler).alphas_cumprod, schedule.alphas_cumprod)
    assert schedule.alphas_cumprod[-1].item() == pytest.approx(ZERO_SNR_ALPHA_BAR, rel=1e-3)
    assert (schedule.alphas_cumprod.diff() < 0).all() and schedule.alphas_cumprod[0] > 0.99


def test_sigmoid_gamma_delta_shape_the_schedule():
    mid = lambda **kw: NoiseSchedule("sigmoid", 100, zero_terminal_snr=False, **kw).alphas_cumprod[50].item()  # noqa
    # alpha_bar(1/2) = sigmoid(delta): a larger delta keeps more signal at mid-schedule (LCM paper eq. 14).
    assert mid(sigmoid_gamma=1.5, sigmoid_delta=0.0) == pytest.approx(0.5, abs=0.02)
    assert mid(sigmoid_gamma=1.5, sigmoid_delta=-2.0) < mid(sigmoid_gamma=1.5, sigmoid_delta=0.0)


@pytest.mark.parametrize("prediction_type", ["sample", "epsilon", "v_prediction"])
def test_add_noise_then_perfect_ddim_steps_reconstruct_x0(prediction_type):
    schedule = NoiseSchedule("cosine", 100, prediction_type=prediction_type)
    x0, noise = torch.randn(4, 8), torch.randn(4, 8)
    scheduler = schedule.scheduler("ddim")
    scheduler.set_timesteps(4)  # trailing: 99, 74, 49, 24
    x = schedule.add_noise(x0, noise, torch.full((4,), int(scheduler.timesteps[0])))
    for i, t in enumerate(scheduler.timesteps):
        perfect = schedule.target(x0, noise, torch.full((4,), int(t)))
        out = scheduler.step(perfect, t, x)
        torch.testing.assert_close(out.pred_original_sample, x0, atol=2e-3, rtol=0)
        x = out.prev_sample
        if i + 1 < len(scheduler.timesteps):  # deterministic DDIM stays on the forward trajectory of x0 and noise
            t_next = torch.full((4,), int(scheduler.timesteps[i + 1]))
            torch.testing.assert_close(x, schedule.add_noise(x0, noise, t_next), atol=2e-3, rtol=0)
    torch.testing.assert_close(x, x0, atol=2e-3, rtol=0)


@pytest.mark.parametrize("prediction_type", ["sample", "epsilon", "v_prediction"])
@pytest.mark.parametrize("sampler", ["ddim", "dpmpp", "euler"])
@pytest.mark.parametrize("steps", [2, 7, 100])
def test_every_sampler_returns_x0_under_an_oracle_denoiser(sampler, prediction_type, steps):
    schedule = NoiseSchedule("cosine", 100, prediction_type=prediction_type)
    x0 = torch.randn(3, 8)

    def oracle(x, t, cond):  # the exact prediction for a data set of one point, x0, in this parameterisation
        a = schedule.alpha_bar(t, x)
        return schedule.from_epsilon((x - a.sqrt() * x0) / (1 - a).sqrt(), x, t) if prediction_type != "sample" else x0

    out = get_sampler(sampler)(oracle, torch.randn(3, 8), schedule, steps, cond=None)
    torch.testing.assert_close(out, x0, atol=1e-3, rtol=0)


# ---------------------------------------------------------------- samplers and guidance through the head
def _inputs(B=3, T=5, hidden_dim=32):
    g = torch.Generator().manual_seed(1)
    hidden = torch.randn(B, T, hidden_dim, generator=g)
    mask = torch.ones(B, T, dtype=torch.bool)
    mask[1, 3:] = False
    return hidden, mask


@pytest.mark.parametrize("tower", ["two_tower", "one_tower"])
@pytest.mark.parametrize("sampler,eta", [("ddim", 0.0), ("ddim", 1.0), ("dpmpp", 0.0), ("euler", 0.0)])
def test_samplers_are_deterministic_under_a_fixed_generator(tower, sampler, eta):
    head, (hidden, mask) = _tiny_head(tower=tower), _inputs()
    run = lambda seed: head.sample(hidden, mask, generator=torch.Generator().manual_seed(seed),  # noqa: E731
                                   sampler=sampler, steps=6, eta=eta)
    a, b, c = run(0), run(0), run(1)
    assert a.shape == (3, 8) and torch.isfinite(a).all()
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


@pytest.mark.parametrize("tower", ["two_tower", "one_tower"])
def test_guidance_scale_one_equals_unguided(tower):
    head, (hidden, mask) = _tiny_head(tower=tower), _inputs()
    d = head.denoiser
    context = d.context(hidden)
    query_pos = (mask.sum(1) - 1)[:, None]
    visible = d.visible(query_pos, context.shape[1])
    cond, uncond = (context, visible, query_pos), (context, d.null_visible(visible), query_pos)

    def denoise(x, t, c):
        return d(x[:, None], torch.full((x.shape[0], 1), float(t)), *c)[:, 0]

    noise = torch.randn(3, 8, generator=torch.Generator().manual_seed(0))
    plain = sample_ddim(denoise, noise, head.schedule, 8, cond=cond)
    same = sample_ddim(cfg_denoiser(denoise, head.schedule, uncond, guidance_scale=1.0, guidance_rescale=0.7),
                       noise, head.schedule, 8, cond=cond)
    torch.testing.assert_close(same, plain, atol=1e-4, rtol=1e-4)
    guided = sample_ddim(cfg_denoiser(denoise, head.schedule, uncond, guidance_scale=3.0), noise, head.schedule, 8,
                         cond=cond)
    assert not torch.allclose(guided, plain, atol=1e-3)  # the unconditional branch really differs


@pytest.mark.parametrize("prediction_type", ["sample", "epsilon", "v_prediction"])
def test_guidance_in_epsilon_space_is_the_usual_affine_combination(prediction_type):
    schedule = NoiseSchedule("cosine", 100, prediction_type=prediction_type)
    x = torch.randn(4, 8)
    table = {"c": torch.randn(4, 8), "u": torch.randn(4, 8)}
    cond, uncond = torch.zeros(4, dtype=torch.long), torch.ones(4, dtype=torch.long)

    def denoise(x2, t, labels):  # labels (B',): 0 -> the conditional prediction, 1 -> the unconditional one
        return torch.stack([table["c"], table["u"]])[labels, torch.arange(len(labels)) % 4]

    guided = cfg_denoiser(denoise, schedule, uncond, guidance_scale=3.0)
    for t in (torch.tensor(60), torch.tensor(99)):
        out = guided(x, t, cond)
        if t == 99:  # pure-noise step: guidance skipped (alpha_bar ~ 0), the conditional prediction passes through
            torch.testing.assert_close(out, table["c"])
        else:  # any prediction type is affine in epsilon at fixed x_t, so the combination commutes with conversion
            torch.testing.assert_close(out, table["u"] + 3.0 * (table["c"] - table["u"]), atol=1e-4, rtol=1e-4)
    rescaled = cfg_denoiser(denoise, schedule, uncond, guidance_scale=3.0, guidance_rescale=1.0)(x, torch.tensor(60), cond)
    eps_c, eps_r = schedule.to_epsilon(table["c"], x, 60), schedule.to_epsilon(rescaled, x, 60)
    torch.testing.assert_close(eps_r.std(-1), eps_c.std(-1))  # full rescale restores the conditional std


@pytest.mark.parametrize("prediction_type", ["sample", "epsilon", "v_prediction"])
def test_eps_scaling_divides_the_implied_noise(prediction_type):
    schedule = NoiseSchedule("cosine", 100, prediction_type=prediction_type)
    x, pred = torch.randn(4, 8), torch.randn(4, 8)
    scaled = eps_scaled_denoiser(lambda x, t, c: pred, schedule, eps_scale=1.25)
    out = scaled(x, torch.tensor(60), None)
    torch.testing.assert_close(schedule.to_epsilon(out, x, 60), schedule.to_epsilon(pred, x, 60) / 1.25)
    torch.testing.assert_close(scaled(x, torch.tensor(99), None), pred)  # pure-noise step passes through


def test_state_dict_round_trips_through_safetensors(tmp_path):
    from safetensors.torch import load_file, save_file

    head, (hidden, mask) = _tiny_head(tower="two_tower", context_vector="learned"), _inputs()
    save_file(head.state_dict(), tmp_path / "head.safetensors")
    fresh = build_head(dataclasses.replace(TINY, context_vector="learned"), 32, 8).eval()
    fresh.load_state_dict(load_file(tmp_path / "head.safetensors"))
    run = lambda h: h.sample(hidden, mask, generator=torch.Generator().manual_seed(0), steps=5)  # noqa: E731
    torch.testing.assert_close(run(fresh), run(head))


@pytest.mark.parametrize("tower", ["two_tower", "one_tower"])
def test_prediction_sees_only_the_shifted_causal_context(tower):
    head = _tiny_head(tower=tower)
    hidden, _ = _inputs(B=2, T=6)
    target, mask = torch.randn(2, 6, 8), torch.ones(2, 6, dtype=torch.bool)
    d = head.denoiser
    x_t, t = torch.randn(2, 6, 8), torch.randint(0, 100, (2, 6))
    pos = torch.arange(6).expand(2, 6)

    def predict(h):
        ctx = d.context(h)
        return d(x_t, t, ctx, d.visible(pos, ctx.shape[1]), pos)

    changed = hidden.clone()
    changed[:, 4:] += 1.0  # the future of positions 0..3
    before, after = predict(hidden), predict(changed)
    torch.testing.assert_close(after[:, :4], before[:, :4])
    assert not torch.allclose(after[:, 4:], before[:, 4:])
    # the loss ignores masked targets
    mask[0, 2:] = False
    changed_target = target.clone()
    changed_target[0, 2:] += 5.0
    assert head.loss(hidden, target, mask)[0].item() == pytest.approx(head.loss(hidden, changed_target, mask)[0].item())


# ---------------------------------------------------------------- a toy overfit
class TinyContextualizer(nn.Module):
    """A stand-in for the LCM's causal backbone: Linear + one causal transformer layer."""

    def __init__(self, concept_dim, d_model, ffn_mult=2):
        super().__init__()
        self.prenet = nn.Linear(concept_dim, d_model)
        self.layer = nn.TransformerEncoderLayer(d_model, 4, ffn_mult * d_model, dropout=0.0, batch_first=True)

    def forward(self, x):
        causal = nn.Transformer.generate_square_subsequent_mask(x.shape[1])
        return self.layer(self.prenet(x), src_mask=causal, is_causal=True)  # (B, T, d)


def overfit_toy(config: DiffusionHeadConfig, N: int = 8, T: int = 4, D: int = 8, d: int = 32,
                ffn_mult: int = 2) -> torch.Tensor:
    """Train a tiny contextualizer + head on N random sequences for 400 steps; (N, N) distances from each sampled
    last concept to every true last concept."""
    torch.manual_seed(0)
    seqs = torch.randn(N, T + 1, D)
    context_in, target = seqs[:, :-1], seqs[:, 1:]  # (N, T, D)
    mask = torch.ones(N, T, dtype=torch.bool)
    contextualizer = TinyContextualizer(D, d, ffn_mult)
    head = build_head(config, d, D)
    opt = torch.optim.Adam([*contextualizer.parameters(), *head.parameters()], lr=3e-3)
    head.train()
    for _ in range(400):
        loss, _ = head.loss(contextualizer(context_in), target, mask)
        opt.zero_grad()
        loss.backward()
        opt.step()
    head.eval()
    contextualizer.eval()
    with torch.no_grad():
        pred = head.sample(contextualizer(context_in), mask, generator=torch.Generator().manual_seed(0),
                           sampler="dpmpp", steps=10)  # paper guidance/sigma_init/eps defaults
    return torch.cdist(pred, target[:, -1])  # (N, N): prediction i vs every true last target j


@pytest.mark.parametrize("tower,prediction_type", [("two_tower", "sample"), ("two_tower", "v_prediction"),
                                                   ("one_tower", "sample")])
def test_toy_model_overfits_next_concepts(tower, prediction_type):
    dist = overfit_toy(dataclasses.replace(TINY, tower=tower, prediction_type=prediction_type))
    assert (dist.argmin(1) == torch.arange(len(dist))).all(), dist


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("opts", [dict(steps=0), dict(steps=-3), dict(steps=2.5), dict(steps=101),
                                  dict(guidance_scale=-1.0), dict(guidance_rescale=1.5), dict(sampler="heun"),
                                  dict(sigma_init=0.0), dict(eps_scale=0.0), dict(sampler="dpmpp", eta=0.5),
                                  dict(temperature=1.0)])
def test_bad_decoding_options_raise_input_error(opts):
    head, (hidden, mask) = _tiny_head(), _inputs()
    with pytest.raises(InputError):
        head.sample(hidden, mask, **opts)


@pytest.mark.parametrize("overrides", [dict(schedule="exponential"), dict(prediction_type="score"),
                                       dict(tower="three_tower"), dict(context_vector="random")])
def test_bad_config_raises_input_error(overrides):
    with pytest.raises(InputError):
        build_head(dataclasses.replace(TINY, **overrides), 16, 8)


def test_empty_context_row_raises_input_error():
    head, (hidden, mask) = _tiny_head(), _inputs()
    mask[0] = False
    with pytest.raises(InputError, match="at least one valid"):
        head.sample(hidden, mask)
