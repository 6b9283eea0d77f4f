"""Tiny CPU tests of the residual VQ and the Quant-LCM-d / -c heads."""

import dataclasses

import pytest
import torch

from encoders.errors import InputError
from quantized_head import QuantizedHeadConfig, ResidualVQ, build_head
from quantized_head import kmeans, sampling

DIM = 16


@pytest.fixture(autouse=True)
def one_thread():
    """These tensors are tiny: one thread avoids thread contention on a shared CPU (restored afterwards)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def clustered(n: int, dim: int = DIM, seed: int = 0) -> torch.Tensor:
    """Points around a few centres at several scales, so each residual stage has structure to find."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, dim)
    for scale in (4.0, 1.0, 0.25):
        centres = torch.randn(6, dim, generator=g) * scale
        x += centres[torch.randint(6, (n,), generator=g)]
    return x + 0.02 * torch.randn(n, dim, generator=g)


def fitted_rvq(k: int = 4, v: int = 16, n: int = 600) -> tuple[ResidualVQ, torch.Tensor]:
    x = clustered(n)
    return ResidualVQ(DIM, k, v).fit(x, epochs=3, lloyd_iters=1, batch_size=128, seed=0), x


def test_reconstruction_error_falls_on_held_out_points():
    data = clustered(900)
    train_x, test_x = data[:600], data[600:]
    rvq = ResidualVQ(DIM, 5, 16).fit(train_x, epochs=3, lloyd_iters=1, batch_size=128, seed=0)
    errors = [(test_x - rvq.quantize(test_x, k)[0]).pow(2).sum(-1).mean().item() for k in range(0, 6)]
    assert all(b < a for a, b in zip(errors, errors[1:])), errors
    cosines = [torch.cosine_similarity(test_x, rvq.quantize(test_x, k)[0]).mean().item() for k in range(1, 6)]
    assert all(b > a for a, b in zip(cosines, cosines[1:])), cosines


# ---- residual VQ ---------------------------------------------------------------------------------------------
def test_decode_of_encode_equals_quantized_output():
    rvq, x = fitted_rvq()
    x_hat, codes = rvq.quantize(x)
    assert codes.shape == (x.shape[0], 4) and codes.dtype == torch.long
    assert int(codes.min()) >= 0 and int(codes.max()) < 16
    torch.testing.assert_close(rvq.decode(rvq.encode(x)), x_hat, atol=1e-5, rtol=0)
    torch.testing.assert_close(rvq.decode(codes[:, :2]), rvq.quantize(x, 2)[0], atol=1e-5, rtol=0)


def test_reconstruction_error_falls_as_codebooks_are_added():
    rvq, x = fitted_rvq(k=5)
    errors = [(x - rvq.quantize(x, k)[0]).pow(2).sum(-1).mean().item() for k in range(0, 6)]
    assert all(b < a for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < 0.05 * errors[0], errors
    assert rvq.residual_sq[0].item() == pytest.approx(errors[0], rel=1e-4)  # energy entering codebook 1 = ||x||^2


def test_nearest_matches_brute_force_and_kmeans_pp_picks_data_points():
    g = torch.Generator().manual_seed(1)
    x, c = torch.randn(300, 8, generator=g), torch.randn(20, 8, generator=g)
    codes, dist = kmeans.nearest(x, c)
    brute = torch.cdist(x, c).pow(2)
    assert torch.equal(codes, brute.argmin(-1))
    torch.testing.assert_close(dist, brute.min(-1).values, atol=1e-4, rtol=1e-4)
    seeds = kmeans.kmeans_pp_init(x, 10, g)
    assert (seeds[:, None] == x[None]).all(-1).any(-1).all()  # every seed is one of the points
    assert torch.unique(seeds, dim=0).shape[0] == 10


def test_save_load_round_trip(tmp_path):
    rvq, x = fitted_rvq()
    path = tmp_path / "sub" / "rvq.safetensors"
    rvq.save(path)
    back = ResidualVQ.load(path, dim=DIM)
    assert torch.equal(back.codebooks, rvq.codebooks) and bool(back.fitted)
    assert torch.equal(back.encode(x), rvq.encode(x))
    assert [p.name for p in path.parent.iterdir()] == ["rvq.safetensors"]  # no temp file left behind


def test_rvq_bad_inputs(tmp_path):
    rvq, x = fitted_rvq()
    with pytest.raises(InputError, match="codes must lie in"):
        rvq.decode(torch.tensor([[0, 1, 2, 16]]))
    with pytest.raises(InputError, match="codes must lie in"):
        rvq.decode(torch.tensor([[0, -1, 2, 3]]))
    with pytest.raises(InputError, match="number of codebooks"):
        rvq.decode(torch.zeros(1, 5, dtype=torch.long))
    with pytest.raises(InputError, match="8-d but the quantizer is for 16-d"):
        rvq.encode(torch.randn(3, 8))
    rvq.save(tmp_path / "q.safetensors")
    with pytest.raises(InputError, match="for 16-d concepts but the model/data use 32-d"):
        ResidualVQ.load(tmp_path / "q.safetensors", dim=32)
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(InputError, match="cannot read quantizer"):
        ResidualVQ.load(tmp_path / "junk.safetensors")
    with pytest.raises(InputError, match="not fitted"):
        ResidualVQ(DIM, 2, 16).encode(x)
    with pytest.raises(InputError, match="at least 16 concepts"):
        ResidualVQ(DIM, 2, 16).fit(x[:10])


# ---- heads ---------------------------------------------------------------------------------------------------
def tiny_cfg(**kw) -> QuantizedHeadConfig:
    base = dict(num_codebooks=3, codebook_size=16, hidden_dim=64, num_layers=2, kmeans_epochs=3,
                kmeans_batch_size=128, cond_dropout=0.1)
    return QuantizedHeadConfig(**{**base, **kw})


def toy_task(seed: int = 0):
    """8 distinct contexts (hidden states), each followed by one fixed target concept."""
    g = torch.Generator().manual_seed(seed)
    concepts = clustered(400, seed=seed)
    targets = concepts[:8]  # (8, D)
    hidden = torch.randn(8, 2, 24, generator=g)  # (B, T, d)
    mask = torch.tensor([[True, True]] * 4 + [[True, False]] * 4)  # rows 4..7 are right-padded
    target = torch.zeros(8, 2, DIM)
    last = mask.long().sum(1) - 1
    target[torch.arange(8), last] = targets
    loss_mask = torch.zeros(8, 2, dtype=torch.bool)
    loss_mask[torch.arange(8), last] = True
    return concepts, targets, hidden, mask, target, loss_mask


def train(head, hidden, target, loss_mask, steps: int = 300):
    opt = torch.optim.Adam(head.parameters(), lr=3e-3)
    head.train()
    for _ in range(steps):
        loss, metrics = head.loss(hidden, target, loss_mask)
        opt.zero_grad()
        loss.backward()
        opt.step()
    head.eval()
    return loss.item(), metrics


@pytest.mark.parametrize("variant", ["discrete", "continuous"])
def test_toy_head_overfits_and_greedy_decoding_recovers_target_codes(variant):
    torch.manual_seed(0)
    concepts, targets, hidden, mask, target, loss_mask = toy_task()
    head = build_head(tiny_cfg(variant=variant), d_model=24, concept_dim=DIM)
    head.prepare(concepts)
    first_loss, _ = head.loss(hidden, target, loss_mask)
    final_loss, metrics = train(head, hidden, target, loss_mask)
    assert final_loss < 0.05 * first_loss.item(), (first_loss.item(), final_loss)
    opts = {"top_k": 1} if variant == "discrete" else {"mode": "nearest"}
    pred = head.sample(hidden, mask, **opts)  # (8, D)
    assert pred.shape == (8, DIM)
    assert torch.equal(head.quantizer.encode(pred), head.quantizer.encode(targets))
    dist = torch.cdist(pred, targets)  # (8, 8): each prediction is nearest its own target
    assert torch.equal(dist.argmin(-1), torch.arange(8))


def test_top_k_1_is_deterministic_and_sampling_uses_the_generator():
    concepts, targets, hidden, mask, _, _ = toy_task()
    head = build_head(tiny_cfg(), d_model=24, concept_dim=DIM)
    head.prepare(concepts)
    head.eval()
    a = head.sample(hidden, mask, top_k=1, generator=torch.Generator().manual_seed(1))
    b = head.sample(hidden, mask, top_k=1, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b)
    s1 = head.sample(hidden, mask, temperature=1.0, generator=torch.Generator().manual_seed(3))
    s2 = head.sample(hidden, mask, temperature=1.0, generator=torch.Generator().manual_seed(3))
    assert torch.equal(s1, s2)
    many = torch.stack([head.sample(hidden, mask, temperature=2.0, generator=torch.Generator().manual_seed(i))
                        for i in range(5)])
    assert not all(torch.equal(many[0], m) for m in many[1:])  # an untrained head at T=2 does vary


def test_guidance_wraps_the_predictor():
    cond = lambda stage, partial: torch.tensor([[2.0, 0.0]])  # noqa: E731
    uncond = lambda stage, partial: torch.tensor([[1.0, 0.5]])  # noqa: E731
    assert sampling.cfg_fn(cond, uncond, 1.0) is cond
    torch.testing.assert_close(sampling.cfg_fn(cond, uncond, 3.0)(0, None), torch.tensor([[4.0, -1.0]]))
    logits = torch.tensor([[0.0, 5.0, 4.9, -1.0]])
    draws = {int(sampling.pick_unit(logits, top_k=2, generator=torch.Generator().manual_seed(i))) for i in range(40)}
    assert draws == {1, 2}  # top-k keeps exactly the k best units


def test_continuous_sample_mode_draws_from_nearest_units():
    concepts, _, hidden, mask, _, _ = toy_task()
    head = build_head(tiny_cfg(variant="continuous"), d_model=24, concept_dim=DIM)
    head.prepare(concepts)
    head.eval()
    near = head.sample(hidden, mask, mode="nearest")
    hot = head.sample(hidden, mask, mode="sample", beta=1e4, generator=torch.Generator().manual_seed(0))
    assert torch.equal(near, hot)  # beta -> infinity is the nearest unit
    a = head.sample(hidden, mask, mode="sample", beta=1.0, top_k=3, guidance_scale=1.5,
                    generator=torch.Generator().manual_seed(5))
    b = head.sample(hidden, mask, mode="sample", beta=1.0, top_k=3, guidance_scale=1.5,
                    generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and a.shape == (8, DIM)


def test_head_state_dict_round_trip_through_safetensors(tmp_path):
    from safetensors.torch import load_file, save_file

    concepts, _, hidden, mask, target, loss_mask = toy_task()
    cfg = tiny_cfg()
    head = build_head(cfg, d_model=24, concept_dim=DIM)
    head.prepare(concepts)
    train(head, hidden, target, loss_mask, steps=5)
    save_file(head.state_dict(), tmp_path / "head.safetensors")
    fresh = build_head(cfg, d_model=24, concept_dim=DIM)
    fresh.load_state_dict(load_file(tmp_path / "head.safetensors"))
    fresh.eval()
    assert bool(fresh.quantizer.fitted)
    fresh.prepare(concepts + 100.0)  # already fitted: must not refit
    assert torch.equal(fresh.quantizer.codebooks, head.quantizer.codebooks)
    assert torch.equal(fresh.sample(hidden, mask, top_k=1), head.sample(hidden, mask, top_k=1))


def test_prepare_can_load_a_prefitted_quantizer(tmp_path):
    rvq, _ = fitted_rvq(k=3, v=16)
    rvq.save(tmp_path / "q.safetensors")
    head = build_head(tiny_cfg(quantizer_path=str(tmp_path / "q.safetensors")), d_model=24, concept_dim=DIM)
    head.prepare(torch.zeros(0, DIM))
    assert torch.equal(head.quantizer.codebooks, rvq.codebooks)
    wrong = build_head(tiny_cfg(num_codebooks=2, quantizer_path=str(tmp_path / "q.safetensors")), 24, DIM)
    with pytest.raises(InputError, match="set quantized.num_codebooks"):
        wrong.prepare(torch.zeros(0, DIM))


def test_head_bad_inputs():
    concepts, _, hidden, mask, target, loss_mask = toy_task()
    head = build_head(tiny_cfg(), d_model=24, concept_dim=DIM)
    with pytest.raises(InputError, match="not fitted"):
        head.sample(hidden, mask)
    with pytest.raises(InputError, match=r"needs \(N, 16\) concepts"):
        head.prepare(torch.randn(100, 8))
    head.prepare(concepts)
    for bad in (0, -2, 1.5, True):
        with pytest.raises(InputError, match="top_k must be a positive integer"):
            head.sample(hidden, mask, top_k=bad)
    with pytest.raises(InputError, match=r"does not take \['beta'\]"):
        head.sample(hidden, mask, beta=2.0)
    with pytest.raises(InputError, match="does not take"):
        head.sample(hidden, mask, steps=10)
    with pytest.raises(InputError, match="temperature must be >= 0"):
        head.sample(hidden, mask, temperature=-1.0)
    with pytest.raises(InputError, match="at least one valid position"):
        head.sample(hidden, torch.zeros_like(mask))
    with pytest.raises(InputError, match="targets are 8-d"):
        head.loss(hidden, torch.zeros(8, 2, 8), loss_mask)
    cont = build_head(tiny_cfg(variant="continuous"), d_model=24, concept_dim=DIM)
    cont.prepare(concepts)
    with pytest.raises(InputError, match="mode must be"):
        cont.sample(hidden, mask, mode="argmax")
    with pytest.raises(InputError, match="beta"):
        cont.sample(hidden, mask, beta=0.0)
    with pytest.raises(InputError, match="temperature"):
        cont.sample(hidden, mask, temperature=0.5)
    with pytest.raises(InputError, match="variant must be"):
        build_head(tiny_cfg(variant="quant-x"), 24, DIM)


def test_config_fields_are_plain_recipe_types():
    for field in dataclasses.fields(QuantizedHeadConfig):
        assert field.type in (int, float, str, bool, "int", "float", "str", "bool"), field
