"""`lcm bench` on tiny models with the hashing codec, its token-level baseline, phase memory, `lcm plot loss`, and
bench/bench_distributed.py's FLOP count, 100m preset and MFU arithmetic."""

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from encoders.errors import InputError
from lcm.bench.config import BenchConfig
from lcm.bench.measure import PhaseMeter
from lcm.bench.phases import bench_context
from lcm.bench.run import add_bench_arguments, run_bench
from lcm.bench.token_model import TokenTransformer
from lcm.training.plots import add_plot_arguments, read_loss_log, run_plot
from tests.conftest import load_script

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ROOT = Path(__file__).resolve().parent.parent


def bench_args(*argv):
    parser = argparse.ArgumentParser()
    add_bench_arguments(parser)
    return parser.parse_args(list(argv))


def numbers(tree, path=""):
    """Every (path, number) leaf of a nested dict/list, booleans excluded."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from numbers(value, f"{path}.{key}")
    elif isinstance(tree, (list, tuple)):
        for i, value in enumerate(tree):
            yield from numbers(value, f"{path}[{i}]")
    elif isinstance(tree, (int, float)) and not isinstance(tree, bool):
        yield path, tree


def test_quick_bench_on_tiny_models(tmp_path, capsys):
    out = tmp_path / "bench"
    report = run_bench(bench_args("--quick", "--codec", "hashing", "--models", "tiny", "--token-lengths", "40,160",
                                  "--summarize-sizes", "12,36", "--diffusion-steps", "2,3", "--threads", "1",
                                  "--out", str(out)))
    assert json.loads((out / "bench.json").read_text()) == json.loads(json.dumps(report))
    codec, phases = report["codec"], report["phases"]
    assert (codec["encode_sentences"], codec["decode_sentences"]) == (48, 4)  # the quick preset's sample sizes
    timed = codec["encode_sentences"] / codec["encode_sentences_per_s"] + codec["decode_sentences"] / codec["decode_sentences_per_s"]
    assert timed + codec["first_encode_s"] + codec["first_decode_s"] <= phases["codec"]["seconds"]  # parts of the phase
    assert set(report["generation"]) == {"mse", "diffusion_2", "diffusion_3", "quantized"}
    assert report["generation"]["mse"]["vs_mse"] == 1.0
    kv = report["kv_cache"]
    assert kv["speedup"] == pytest.approx(kv["uncached_ms_per_concept"] / kv["cached_ms_per_concept"])
    assert kv["outputs_equal"] is True and kv["concepts"] == 48
    assert set(report["context"]["by_tokens"]) == {"40", "160"}
    for n_tokens, row in report["context"]["by_tokens"].items():
        assert row["token_over_lcm"] == pytest.approx(row["token_forward_s"] / row["lcm_forward_s"])
        assert row["sentences"] == math.ceil(int(n_tokens) / 25)
        assert "token_over_lcm_with_encoding" in row
    rows = report["summarize"]["by_sentences"]
    assert set(rows) == {"12", "36"} and rows["36"]["growth_vs_12"]["size_ratio"] == 3
    for row in rows.values():
        assert row["summary_sentences"] == 5
        assert row["encode_s"] + row["decode_s"] <= row["total_s"]
    expected_phases = {"codec", "load_models", "generation", "kv_cache", "context_40_tokens", "context_160_tokens",
                       "summarize_12_sentences", "summarize_36_sentences"}
    assert set(report["phases"]) == expected_phases
    leaves = dict(numbers({k: report[k] for k in ("codec", "generation", "kv_cache", "context", "summarize", "phases")}))
    growth = {p: v for p, v in leaves.items() if p.endswith("peak_over_start_mb")}  # may be 0 for a short phase
    assert len(growth) == len(expected_phases) and all(v >= 0 for v in growth.values())
    non_positive = {p: v for p, v in leaves.items() if p not in growth and not (math.isfinite(v) and v > 0)}
    assert not non_positive, non_positive
    assert len(report["plots"]) == 4
    for name in ("generation.png", "context.png", "summarize.png", "memory.png"):
        data = (out / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5000
    printed = capsys.readouterr().out
    for fragment in ("encode", "x MSE", "faster with the cache", "cheaper", "sentences ->", "peak RSS"):
        assert fragment in printed


def test_token_baseline_layer_equals_lcm_block():
    """The baseline runs the LCM's own Block weights; its flash-causal path must equal Block.forward with a mask."""
    from lcm.config import ModelConfig
    from lcm.model.backbone import attention_mask

    torch.manual_seed(0)
    cfg = ModelConfig(concept_dim=16, d_model=32, n_layers=2, n_heads=4, dropout=0.0)
    model = TokenTransformer(cfg, vocab_size=50, chunk=7)
    x = torch.randn(2, 11, 32)  # (B, T, d)
    positions = torch.arange(11)[None].expand(2, 11)  # (B, T)
    with torch.no_grad():
        expected, _ = model.blocks[0](x, positions, attention_mask(torch.ones(2, 11, dtype=torch.bool), 11))
        got = model.block(model.blocks[0], x, positions)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    tokens = torch.randint(0, 50, (1, 20))
    assert math.isfinite(model(tokens)) and math.isfinite(model(tokens, n_blocks=0))


def test_context_extrapolates_only_past_full_depth_limit():
    from encoders.shared.recipes import from_dict
    from lcm.config import RecipeConfig
    from lcm.model.concept_model import build_model

    model = build_model(from_dict(RecipeConfig, {"model": {"concept_dim": 16, "d_model": 32, "n_layers": 3,
                                                           "n_heads": 4, "dropout": 0.0}})).eval()
    cfg = BenchConfig(token_lengths=(30, 90), full_depth_up_to=50, vocab_size=64, repeats=1)
    rows = bench_context(model, cfg, None, PhaseMeter(log=lambda msg: None))["by_tokens"]
    assert (rows["30"]["token_layers_timed"], rows["90"]["token_layers_timed"]) == (3, 1)
    assert rows["90"]["sentences"] == 4 and "lcm_with_encoding_s" not in rows["90"]
    for n_tokens, row in rows.items():
        assert row["token_over_lcm"] == pytest.approx(row["token_forward_s"] / row["lcm_forward_s"])
        assert row["sentences"] == -(-int(n_tokens) // cfg.tokens_per_sentence)


def test_phase_meter_peak_is_per_phase():
    meter = PhaseMeter(log=lambda msg: None)
    with meter.phase("big"):
        big = torch.ones(40_000_000)  # 160 MB, touched
        big += 1
        del big
    with meter.phase("small"):
        torch.ones(10)
    big, small = meter.phases["big"], meter.phases["small"]
    assert big["peak_rss_mb"] >= big["start_rss_mb"] + 120
    if big["peak_is_per_phase"]:  # Linux with /proc/self/clear_refs: the second phase does not inherit the peak
        assert small["peak_rss_mb"] < big["peak_rss_mb"] - 100


def test_bench_refuses_bad_arguments(tmp_path):
    with pytest.raises(SystemExit):
        bench_args("--token-lengths", "1000,lots")
    with pytest.raises(InputError, match="summarize-sizes"):  # a summary must be shorter than its input
        run_bench(bench_args("--codec", "hashing", "--summarize-sizes", "4,100", "--out", str(tmp_path / "b")))
    with pytest.raises(InputError, match="threads"):
        run_bench(bench_args("--threads", "-1", "--out", str(tmp_path / "b")))
    with pytest.raises(InputError, match="--codec"):  # 64-d hashing concepts cannot feed 512-d models
        run_bench(bench_args("--quick", "--codec", "hashing", "--models", "shipped", "--out", str(tmp_path / "b")))


def write_log(run, rows, torn_tail=True):
    run.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r) + "\n" for r in rows) + ('{"step": 99, "lo' if torn_tail else "")
    (run / "loss_log.jsonl").write_text(text)


def test_loss_plot_from_synthetic_log(tmp_path, capsys):
    rows = [{"step": s, "loss": 3.0 * 0.97 ** s + 0.1, "lr": 1e-3 * min(1, s / 10), "grad_norm": 1.0 / s, "epoch": 0}
            for s in range(1, 61)]
    write_log(tmp_path / "run_a", rows)
    write_log(tmp_path / "run_b", [dict(r, loss=r["loss"] * 1.2) for r in rows], torn_tail=False)
    (tmp_path / "run_a" / "model").mkdir()
    (tmp_path / "run_a" / "model" / "config.json").write_text(json.dumps(
        {"format": 1, "codec": "hashing", "concept_dim": 16, "model": {"head": "mse"},
         "provenance": {"trained_steps": 60, "figures": {"valid_loss": 0.3}}}))
    parsed, meta = read_loss_log(tmp_path / "run_a")
    assert [r["step"] for r in parsed] == list(range(1, 61)) and meta["skipped_lines"] == 1 and meta["valid_loss"] == 0.3
    parser = argparse.ArgumentParser()
    add_plot_arguments(parser)
    out = tmp_path / "plots" / "loss.png"
    run_plot(parser.parse_args(["loss", str(tmp_path / "run_a"), str(tmp_path / "run_b"), "-o", str(out),
                                "--smooth", "0.8"]))
    assert out.read_bytes().startswith(PNG_MAGIC) and out.stat().st_size > 5000
    assert not list(out.parent.glob(".*tmp*")), "temporary files left behind"
    assert "plot written" in capsys.readouterr().out
    with pytest.raises(InputError, match="lcm train"):
        run_plot(parser.parse_args(["loss", str(tmp_path / "missing"), "-o", str(out)]))
    with pytest.raises(InputError, match=".png"):
        run_plot(parser.parse_args(["loss", str(tmp_path / "run_a"), "-o", str(tmp_path / "loss.pdf")]))
    with pytest.raises(InputError, match="smooth"):
        run_plot(parser.parse_args(["loss", str(tmp_path / "run_a"), "-o", str(out), "--smooth", "1.5"]))


# bench/bench_distributed.py: FLOP count, the 100m preset, and MFU arithmetic on a tiny CPU run

def bench_distributed():
    return load_script("bench/bench_distributed.py")


def test_training_flops_by_hand_and_against_torch_flop_counter():
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    from encoders.shared.recipes import from_dict
    from lcm.config import RecipeConfig
    from lcm.model.concept_model import build_model

    bd = bench_distributed()
    batch_flops, matmul_params, training_flops_per_position = bd.batch_flops, bd.matmul_params, bd.training_flops_per_position
    D, d, L = 16, 32, 2
    model = build_model(from_dict(RecipeConfig, {"model": {"concept_dim": D, "d_model": d, "n_layers": L, "n_heads": 4,
                                                           "dropout": 0.0}}))
    hidden = 88  # SwiGLU: int(4 * 32 * 2/3 + 7) // 8 * 8
    n_params = L * (3 * d * d + d * d + d * 2 * hidden + hidden * d) + D * d + d * D  # qkv, out, gate_up, down; pre/postnet
    assert n_params == 26112 and matmul_params(model) == n_params
    assert training_flops_per_position(26112, 2, 32, 10) == 6 * 26112 + 12 * 2 * 32 * 10 == 164352
    valid = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.bool)  # 4 and 2 input positions; padding free
    assert batch_flops(valid, 26112, 2, 32) == 4 * (6 * 26112 + 768 * 4) + 2 * (6 * 26112 + 768 * 2)
    B, T = 3, 11  # unpadded: torch's counter (attention as plain matmuls) must agree with the formula
    concepts, valid = torch.randn(B, T, D), torch.ones(B, T, dtype=torch.bool)
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        loss, _ = model(concepts, valid)
        loss.backward()
    n = B * (T - 1)
    prenet_input_grad = 2 * D * d * n  # in 6N, but never computed: the PreNet's input needs no gradient
    assert counter.get_total_flops() == batch_flops(valid, n_params, L, d) - prenet_input_grad


def test_100m_preset_builds_on_meta_device(tmp_path):
    from dataclasses import replace

    from lcm.config import load_recipe
    from lcm.data.batches import batches
    from lcm.model.concept_model import build_model

    bd = bench_distributed()
    RECIPE, matmul_params, recipe_overrides, training_flops_per_position = \
        bd.RECIPE, bd.matmul_params, bd.recipe_overrides, bd.training_flops_per_position
    shape = bd.base_100m()
    recipe = load_recipe(RECIPE, recipe_overrides(shape, tmp_path, 10, "cuda", "bf16", 1))
    assert (recipe.model.d_model, recipe.model.n_layers, recipe.model.concept_dim) == (768, 12, 1024)
    assert recipe.train.precision == "bf16" and recipe.data.concepts_per_batch == 16384 == 128 * recipe.model.max_len
    with torch.device("meta"):
        model = build_model(recipe)
    assert all(p.is_meta for p in model.parameters())
    total = model.num_parameters()
    assert 80e6 <= total <= 130e6 and total - matmul_params(model) < 0.001 * total  # norms and biases only
    # Its data: documents of 127 concepts + end-of-text = windows of exactly max_len, 128 to a batch, no padding.
    small = replace(shape, d_model=32, n_layers=1, n_heads=4, concept_dim=16, n_docs=256)
    bd.write_random_shards(tmp_path / "shards", small.concept_dim, small.n_docs, 4, doc_len=small.doc_len)
    recipe = load_recipe(RECIPE, recipe_overrides(small, tmp_path / "shards", 10, "cpu", "fp32", 1))
    with torch.device("meta"):
        n_matmul = matmul_params(build_model(recipe))
    expected = 127 / 128 * training_flops_per_position(n_matmul, 1, 32, 127)  # 127 input positions per 128 concepts
    assert bd.epoch_flops_per_concept(recipe, n_matmul) == pytest.approx(expected, rel=1e-12)
    eot = np.zeros(16, dtype=np.float32)
    shapes = {tuple(v.shape) for _, v in batches(recipe.data.train, 16384, 128, eot=eot, shuffle=True, seed=0, epoch=0)}
    assert shapes == {(128, 128)}  # 256 documents -> 2 full batches of 128 windows x 128 concepts


def test_peak_table_and_mfu_arithmetic():
    peak_for, throughput_metrics = bench_distributed().peak_for, bench_distributed().throughput_metrics

    assert peak_for("NVIDIA H100 80GB HBM3") == 989.0 and peak_for("NVIDIA H200") == 989.0
    assert peak_for("NVIDIA H100 PCIe") == 756.0 and peak_for("Tesla T4") is None
    m = throughput_metrics(2e5, 5e8, 989.0, 25)
    assert m["achieved_tflops"] == pytest.approx(100.0) and m["mfu"] == pytest.approx(100.0 / 989)  # 2e5 x 5e8 = 1e14
    assert m["tokens_equiv_per_s"] == 5e6 and throughput_metrics(2e5, 5e8, None, 25)["mfu"] is None


@pytest.mark.slow
def test_distributed_bench_reports_mfu_on_a_tiny_cpu_run(tmp_path, capsys):
    main = bench_distributed().main

    out = tmp_path / "bench.json"
    report = main(["--device", "cpu", "--configs", "1x1,step,loader", "--steps", "5", "--warmup", "2",
                   "--peak-tflops", "0.05", "--json", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))
    assert report["peak_tflops"] == 0.05 and report["params_total"] == 428928 and report["device"] == "cpu"
    trainer, step, loader = report["results"]
    assert trainer["name"] == "1 proc x 1 thread" and trainer["flops_per_concept"] == report["flops_per_concept"]
    assert step["flops_per_concept"] == pytest.approx(report["flops_per_concept"], rel=0.1)  # one batch vs the epoch
    assert loader["concepts_per_s"] > trainer["concepts_per_s"] and loader["final_loss"] is None  # a part of each step
    for row in (trainer, step):
        assert math.isfinite(row["final_loss"])
    budget = report["model"]["batch"] * report["grad_accum"]  # concepts one optimizer step may carry
    per_step = {row["name"]: row["concepts_per_s"] * row["ms_per_step"] / 1e3 for row in report["results"]}
    assert per_step[step["name"]] == pytest.approx(step["batch_concepts"])  # the same batch at every step
    assert all(0 < n <= budget for n in per_step.values()), (per_step, budget)
    for row in report["results"]:
        assert row["achieved_tflops"] == pytest.approx(row["concepts_per_s"] * row["flops_per_concept"] / 1e12)
        assert row["mfu"] == pytest.approx(row["achieved_tflops"] / 0.05)
        assert row["tokens_equiv_per_s"] == pytest.approx(25 * row["concepts_per_s"])
    printed = capsys.readouterr().out
    assert "428,928 parameters" in printed and f"{100 * trainer['mfu']:.1f}%" in printed


def test_distributed_bench_refuses_bad_arguments(tmp_path):
    main = bench_distributed().main

    json_out = ["--json", str(tmp_path / "b.json")]
    with pytest.raises(InputError, match="peak-tflops"):
        main(["--device", "cpu", "--peak-tflops", "0", *json_out])
    with pytest.raises(InputError, match="1x1"):
        main(["--device", "cpu", "--configs", "1x1,8gpus", *json_out])
    with pytest.raises(InputError, match="warm"):
        main(["--device", "cpu", "--steps", "3", "--warmup", "3", *json_out])
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="--device cpu"):
            main(["--device", "cuda", *json_out])
    assert not (tmp_path / "b.json").exists()
