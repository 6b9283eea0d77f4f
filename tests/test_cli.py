"""The CLI end to end on a tiny fixture, and one clear error (exit 2, nothing half-written) for each bad input."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from lcm.cli import main
from tests.conftest import make_documents

ROOT = os.path.dirname(os.path.dirname(__file__))
TINY = os.path.join(ROOT, "recipes", "base_lcm_tiny.yaml")


def run_cli(*args) -> int:
    return main([str(a) for a in args])


@pytest.fixture()
def docs_dir(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    for i, doc in enumerate(make_documents()):
        (folder / f"doc{i}.txt").write_text(" ".join(doc), encoding="utf-8")
    return folder


@pytest.fixture()
def trained(tmp_path, docs_dir):
    shards = tmp_path / "shards"
    assert run_cli("encode", docs_dir, "-o", shards, "--codec", "hashing", "--codec-opt", "dim=64") == 0
    assert run_cli("train", TINY, f"data.train={shards}", f"train.out_dir={tmp_path / 'run'}", "train.steps=30", "--quiet") == 0
    return tmp_path / "run" / "model", shards


def test_encode_train_generate_decode(trained, tmp_path, capsys):
    model, shards = trained
    assert sorted(p.name for p in shards.iterdir()) == ["shard_00000.parquet"]
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("The river was near the stone. The stone was near the lantern.", encoding="utf-8")
    capsys.readouterr()
    assert run_cli("generate", prompt, "--model", model, "-n", "2", "--json", "--codec", "hashing", "--codec-opt", "dim=64") == 0
    import json

    out = json.loads(capsys.readouterr().out)
    assert out["prompt"][0] == "The river was near the stone." and 1 <= len(out["continuation"]) <= 2
    capsys.readouterr()
    # The hashing codec decodes by retrieval; shards carry their sentences, so decoding gives them back verbatim.
    assert run_cli("decode", shards, "--codec", "hashing", "--codec-opt", "dim=64", "--lang", "fr") == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("# doc") and printed[1] == make_documents()[int(printed[0][5:])][0]


def test_decode_by_retrieval_returns_the_encoded_sentences(tmp_path, capsys):
    from encoders.retrieval import HashingCodec

    codec = HashingCodec(64)
    sentences = ["Le chat dort.", "Il pleut beaucoup aujourd'hui."]
    np.save(tmp_path / "c.npy", codec.encode(sentences, "fr").numpy())
    # A fresh codec has no bank: the error must say how to fix it.
    assert run_cli("decode", tmp_path / "c.npy", "--codec", "hashing", "--codec-opt", "dim=64") == 2
    assert "encode the source document" in capsys.readouterr().err


def _expect_error(capsys, args, pattern, out_dir=None):
    capsys.readouterr()
    assert run_cli(*args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and pattern in err, err
    assert "Traceback" not in err
    if out_dir is not None:
        leftovers = [p.name for p in out_dir.rglob("*") if p.is_file()] if out_dir.exists() else []
        assert leftovers == [], leftovers


@pytest.mark.parametrize("content,pattern", [
    (b"", "is empty"),
    (b"   \n\n", "is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    ("Café crème à Paris.".encode("latin-1"), "not valid UTF-8"),
])
def test_encode_refuses_bad_files(tmp_path, capsys, content, pattern):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    _expect_error(capsys, ["encode", bad, "-o", tmp_path / "out", "--codec", "hashing"], pattern, tmp_path / "out")


def test_unknown_language(tmp_path, capsys, docs_dir):
    _expect_error(capsys, ["encode", docs_dir, "-o", tmp_path / "out", "--codec", "hashing", "--lang", "xx"],
                  "unknown or unsupported language code 'xx'", tmp_path / "out")


def test_checkpoint_dimension_mismatch(trained, tmp_path, capsys):
    model, _ = trained
    prompt = tmp_path / "p.txt"
    prompt.write_text("One sentence here.", encoding="utf-8")
    _expect_error(capsys, ["generate", prompt, "--model", model, "--codec", "hashing", "--codec-opt", "dim=32"],
                  "trained on 64-d concepts")


def test_nan_concepts_refused(tmp_path, capsys):
    arr = np.full((2, 64), np.nan, dtype=np.float32)
    np.save(tmp_path / "nan.npy", arr)
    _expect_error(capsys, ["decode", tmp_path / "nan.npy", "--codec", "hashing", "--codec-opt", "dim=64"], "NaN or Inf")


def test_truncated_checkpoint_and_parquet(trained, tmp_path, capsys):
    model, shards = trained
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:200])
    prompt = tmp_path / "p.txt"
    prompt.write_text("One sentence here.", encoding="utf-8")
    _expect_error(capsys, ["generate", prompt, "--model", model, "--codec", "hashing", "--codec-opt", "dim=64"], "truncated or corrupt")
    shard = shards / "shard_00000.parquet"
    shard.write_bytes(shard.read_bytes()[:300])
    _expect_error(capsys, ["train", TINY, f"data.train={shards}", f"train.out_dir={tmp_path / 'run2'}", "--quiet"],
                  "corrupt or truncated")


def test_recipe_with_unknown_key(tmp_path, capsys):
    bad = tmp_path / "r.yaml"
    bad.write_text("train:\n  stepz: 3\n")
    _expect_error(capsys, ["train", bad], "unknown recipe key 'train.stepz'")


def test_generate_zero_sentences(trained, tmp_path, capsys):
    model, _ = trained
    prompt = tmp_path / "p.txt"
    prompt.write_text("One sentence here.", encoding="utf-8")
    _expect_error(capsys, ["generate", prompt, "--model", model, "-n", "0", "--codec", "hashing"], "at least 1")


@pytest.mark.slow
def test_training_killed_with_sigkill_resumes(tmp_path, docs_dir):
    """A real subprocess is SIGKILLed after its first checkpoint; the rerun resumes from it and finishes."""
    shards = tmp_path / "shards"
    assert run_cli("encode", docs_dir, "-o", shards, "--codec", "hashing", "--codec-opt", "dim=64") == 0
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "lcm", "train", TINY, f"data.train={shards}", f"train.out_dir={run}",
           "train.steps=100000", "train.checkpoint_every=5", "--quiet"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and len(list((run / "checkpoints").glob("step_*"))) < 2:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = sorted((run / "checkpoints").glob("step_*"))
    assert done, proc.stderr.read().decode()
    killed_at = int(done[-1].name.split("_")[1])
    target = killed_at + 10
    rerun = subprocess.run(cmd[:-3] + [f"train.steps={target}", "train.checkpoint_every=5", "--quiet"], cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    import json

    meta = json.loads((run / "model" / "config.json").read_text())
    assert meta["provenance"]["trained_steps"] == target and meta["provenance"]["recipe"] == "base_lcm_tiny.yaml"
    steps = [json.loads(line)["step"] for line in (run / "loss_log.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == target
    assert not list(run.rglob("*.tmp-*")), "a temporary checkpoint directory was left behind"


@pytest.mark.slow
def test_output_piped_into_head_ends_quietly(tmp_path):
    """`lcm ... | head -1` closes the pipe early: no traceback, exit 0."""
    proc = subprocess.run(f"{sys.executable} -m lcm --help | head -1", shell=True, cwd=ROOT, capture_output=True, text=True)
    assert proc.stdout.startswith("usage: lcm") and "Traceback" not in proc.stderr
    docs = tmp_path / "docs"  # enough decoded text to overflow the pipe buffer
    docs.mkdir()
    (docs / "d.txt").write_text(" ".join(f"Sentence number {i} is here." for i in range(3000)), encoding="utf-8")
    shards = tmp_path / "shards"
    assert run_cli("encode", docs, "-o", shards, "--codec", "hashing", "--codec-opt", "dim=64") == 0
    proc = subprocess.run(f"{sys.executable} -m lcm decode {shards} --codec hashing --codec-opt dim=64 | head -1",
                          shell=True, cwd=ROOT, capture_output=True, text=True)
    assert proc.stdout.strip() == "# d" and "Traceback" not in proc.stderr, proc.stderr
