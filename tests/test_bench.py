"""`lcm bench` on tiny models with the hashing codec, its token-level baseline, phase memory, and `lcm plot loss`."""

import argparse
import json
import math

import pytest
import torch

from encoders.errors import InputError
from lcm.bench import BenchConfig, PhaseMeter, TokenTransformer, add_bench_arguments, bench_context, run_bench
from lcm.plots import add_plot_arguments, read_loss_log, run_plot

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


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
    codec = report["codec"]
    assert codec["encode_sentences_per_s"] > 0 and codec["decode_sentences_per_s"] > 0
    assert set(report["generation"]) == {"mse", "diffusion_2", "diffusion_3", "quantized"}
    assert report["generation"]["mse"]["vs_mse"] == 1.0
    kv = report["kv_cache"]
    assert kv["speedup"] > 0 and kv["outputs_equal"] is True
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
    from lcm.model import attention_mask

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
    from lcm.checkpoint import build_model
    from lcm.config import RecipeConfig, from_dict

    model = build_model(from_dict(RecipeConfig, {"model": {"concept_dim": 16, "d_model": 32, "n_layers": 3,
                                                           "n_heads": 4, "dropout": 0.0}})).eval()
    cfg = BenchConfig(token_lengths=(30, 90), full_depth_up_to=50, vocab_size=64, repeats=1)
    rows = bench_context(model, cfg, None, PhaseMeter(log=lambda msg: None))["by_tokens"]
    assert (rows["30"]["token_layers_timed"], rows["90"]["token_layers_timed"]) == (3, 1)
    assert rows["90"]["sentences"] == 4 and "lcm_with_encoding_s" not in rows["90"]
    assert all(r["token_forward_s"] > 0 and r["lcm_forward_s"] > 0 for r in rows.values())


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
    (tmp_path / "run_a" / "model" / "config.json").write_text(json.dumps({"valid_loss": 0.3, "trained_steps": 60}))
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
