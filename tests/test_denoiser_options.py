"""The "denoiser that reads its context" options (off by default = Meta's behaviour): each changes the computation,
and a tiny Two-Tower with each still overfits one batch."""

import dataclasses

import pytest
import torch

from diffusion_head import build_head
from encoders.errors import InputError
from tests.test_diffusion_head import overfit_toy
from tests.test_meta_parity import TINY, random_head


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _run(head, hidden, x_t, t):
    den = head.denoiser
    context = den.context(hidden)  # (B, K, d)
    qpos = torch.arange(hidden.shape[1]).expand(hidden.shape[0], -1)  # (B, T)
    return den(x_t, t, context, den.visible(qpos, context.shape[1]), qpos)  # (B, T, D)


def _inputs():
    g = torch.Generator().manual_seed(1)
    return torch.randn(2, 5, 32, generator=g), torch.randn(2, 5, 8, generator=g), torch.randint(0, 100, (2, 5), generator=g)


def test_latest_state_enters_the_adaln_conditioning():
    hidden, x_t, t = _inputs()
    on = random_head(adaln_latest_state=True)
    assert on.denoiser.latest_proj is not None and random_head().denoiser.latest_proj is None
    with torch.no_grad():
        base = _run(on, hidden, x_t, t)
        zeroed = on.denoiser.latest_proj.weight.clone()
        on.denoiser.latest_proj.weight.zero_()  # the same network without the latest-state path
        without = _run(on, hidden, x_t, t)
        on.denoiser.latest_proj.weight.copy_(zeroed)
        # the latest state is key q+1 = hidden[q]: changing only hidden[:, -1] changes only the last query's c
        changed = hidden.clone()
        changed[:, -1] += 1.0
        moved = _run(on, changed, x_t, t)
    assert not torch.allclose(base, without)
    assert not torch.allclose(base[:, -1], moved[:, -1])


def test_latest_state_is_hidden_under_condition_dropout():
    den = random_head(adaln_latest_state=True).denoiser
    context = torch.randn(1, 4, 32)
    qpos = torch.arange(3)[None]
    visible = den.visible(qpos, 4)
    torch.testing.assert_close(den.latest_state(context, visible, qpos), context[:, 1:4])
    assert den.latest_state(context, den.null_visible(visible), qpos).abs().max() == 0


def test_recency_slope_changes_cross_attention():
    hidden, x_t, t = _inputs()
    head = random_head(cross_recency_bias=True)
    slopes = head.denoiser.recency_slope
    assert slopes.shape == (4,) and slopes.requires_grad
    bias = head.denoiser.recency_bias(torch.tensor([[2]]), 5)  # query predicting x[3] sees keys 0..3
    assert bias[0, 0, 0].tolist() == [0.0, -2 * slopes[0].item(), -slopes[0].item(), 0.0, 0.0]
    with torch.no_grad():
        base = _run(head, hidden, x_t, t)
        slopes.mul_(4.0)
        steeper = _run(head, hidden, x_t, t)
    assert not torch.allclose(base[:, 1:], steeper[:, 1:])  # position 0 sees one context key: no distance to weigh
    torch.testing.assert_close(base[:, 0], steeper[:, 0])


def test_logit_normal_timesteps_skew_towards_high_noise():
    uniform, skewed = random_head(), random_head(timestep_sampling="logit_normal", timestep_logit_mean=1.0)
    g = torch.Generator().manual_seed(0)
    tu = uniform.sample_timesteps((20000,), "cpu", g).float()
    ts = skewed.sample_timesteps((20000,), "cpu", g).float()
    assert abs(tu.mean() - 49.5) < 1.5 and 0 <= ts.min() and ts.max() <= 99
    # t/T = sigmoid(1 + N(0, 1)): median sigmoid(1) = 0.73 -> t ~ 73; P(t >= 50) = P(N > -1) = 0.84
    assert abs(ts.median() - 73) <= 2 and abs((ts >= 50).float().mean() - 0.841) < 0.02


def test_one_tower_refuses_two_tower_options():
    with pytest.raises(InputError, match="Two-Tower"):
        build_head(dataclasses.replace(TINY, tower="one_tower", cross_recency_bias=True), 32, 8)


@pytest.mark.parametrize("option", [dict(adaln_latest_state=True), dict(cross_recency_bias=True),
                                    dict(timestep_sampling="logit_normal")], ids=lambda o: next(iter(o)))
def test_tiny_two_tower_with_each_option_overfits_one_batch(option):
    dist = overfit_toy(dataclasses.replace(TINY, **option), ffn_mult=4)
    assert (dist.argmin(1) == torch.arange(len(dist))).all(), dist
