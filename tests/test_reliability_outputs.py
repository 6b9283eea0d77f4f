"""What a new user hits first, part 1: outputs and runs. Unwritable paths, stale shards, failed encodes, architecture
changes, two runs on one folder, training settings that cannot work; each one `error:` line, exit 2, nothing lost."""

import json
import subprocess
import sys

import pytest

from lcm.cli import main
from tests.test_cli import ROOT, TINY, _expect_error, docs_dir, trained  # noqa: F401  (fixtures)

HASH = ["--codec", "hashing", "--codec-opt", "dim=64"]


def _blocker(tmp_path):
    """A regular file: no path under it can be written, not even by root."""
    f = tmp_path / "file.txt"
    f.write_text("x")
    return f


@pytest.mark.parametrize("under", ["file", "proc"])
def test_unwritable_outputs_are_refused_before_the_work(trained, tmp_path, capsys, docs_dir, under):
    model, shards = trained
    base = _blocker(tmp_path) if under == "file" else "/proc/lcm-no-such-dir"
    doc = tmp_path / "doc.txt"
    doc.write_text("The river was near the stone. The stone was near the lantern. The lantern was near the harbor.")
    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_text(json.dumps({"text": doc.read_text()}) + "\n")
    cases = [["encode", docs_dir, "-o", f"{base}/out", *HASH],
             ["prepare", jsonl, "-o", f"{base}/out", *HASH],
             ["train", TINY, f"data.train={shards}", f"train.out_dir={base}/run", "--quiet"],
             ["story", doc, "--model", model, "-n", "1", "--plot", f"{base}/plan.png", *HASH],
             ["plot", "loss", tmp_path / "run", "-o", f"{base}/loss.png"],
             ["eval", shards, "--model", model, "--out", f"{base}/r.json", *HASH],
             ["xling", jsonl, "--model", model, "-o", f"{base}/x", *HASH],
             ["bench", "--quick", "--out", f"{base}/b"]]
    for args in cases:
        _expect_error(capsys, [str(a) for a in args], "cannot be written")


def test_a_permission_error_from_any_command_is_one_error_line(monkeypatch, capsys):
    from lcm.cli import info_cmds

    def denied(args):
        raise PermissionError(13, "Permission denied", "/somewhere/out.json")

    monkeypatch.setattr(info_cmds, "cmd_info", denied)
    _expect_error(capsys, ["info", "two_tower"], "Permission denied")


def test_no_command_catches_its_own_errors():
    """One wrapper (lcm.cli.common.run_command) turns errors into the `error:` line; commands only raise."""
    from pathlib import Path

    for path in Path(ROOT, "lcm", "cli").glob("*_cmds.py"):
        assert "except InputError" not in path.read_text(), path


def test_encode_refuses_a_non_empty_folder_and_overwrite_replaces_its_shards(tmp_path, capsys, docs_dir):
    out = tmp_path / "shards"
    assert main(["encode", str(docs_dir), "-o", str(out), *HASH, "--docs-per-shard", "4"]) == 0
    assert len(list(out.glob("shard_*.parquet"))) == 3
    one = tmp_path / "one"
    one.mkdir()
    (one / "d.txt").write_text((docs_dir / "doc0.txt").read_text())
    _expect_error(capsys, ["encode", str(one), "-o", str(out), *HASH], "not empty")
    assert len(list(out.glob("shard_*.parquet"))) == 3  # untouched
    assert main(["encode", str(one), "-o", str(out), *HASH, "--overwrite"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["shard_00000.parquet"]  # no stale shard beside the new one
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_a_failed_encode_leaves_no_folder_and_checks_inputs_before_loading_the_codec(tmp_path, capsys, monkeypatch):
    from lcm.cli import data_cmds

    monkeypatch.setattr(data_cmds, "load_codec_for", lambda args: pytest.fail("the codec was loaded"))
    _expect_error(capsys, ["encode", str(tmp_path / "missing.txt"), "-o", str(tmp_path / "out"), *HASH], "does not exist")
    _expect_error(capsys, ["encode", str(tmp_path), "-o", str(tmp_path / "out"), "--lang", "xx", *HASH], "unknown")
    monkeypatch.undo()
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\x00\x01binary")
    _expect_error(capsys, ["encode", str(bad), "-o", str(tmp_path / "out"), *HASH], "binary")
    assert not (tmp_path / "out").exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_prepare_resumes_its_own_folder_and_refuses_another_inputs(tmp_path, capsys):
    rows = [{"text": f"The river was near stone {i}. The stone was near lantern {i}."} for i in range(6)]
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text("".join(json.dumps(r) + "\n" for r in rows))
    second.write_text("".join(json.dumps(r) + "\n" for r in rows[:3]))
    out = tmp_path / "prepared"
    assert main(["prepare", str(first), "-o", str(out), "--docs-per-shard", "2", *HASH]) == 0
    assert main(["prepare", str(first), "-o", str(out), "--docs-per-shard", "2", *HASH]) == 0  # resumable
    _expect_error(capsys, ["prepare", str(second), "-o", str(out), "--docs-per-shard", "2", *HASH], "--overwrite")
    _expect_error(capsys, ["prepare", str(first), "-o", str(out), "--docs-per-shard", "2", "--codec", "hashing",
                           "--codec-opt", "dim=32"], "--overwrite")
    assert main(["prepare", str(second), "-o", str(out), "--docs-per-shard", "2", "--overwrite", *HASH]) == 0
    assert json.loads((out / "manifest.json").read_text())["documents"] == 3


def test_train_refuses_checkpoints_of_another_architecture(trained, tmp_path, capsys):
    model, shards = trained
    run = tmp_path / "run"
    before = sorted(p.name for p in (run / "checkpoints").iterdir())
    args = ["train", TINY, f"data.train={shards}", f"train.out_dir={run}", "train.steps=35", "--quiet"]
    _expect_error(capsys, args + ["model.d_model=32"], "different architecture (model.d_model: 64 -> 32)")
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == before  # nothing deleted
    assert main(args) == 0  # same architecture: resumes, and says so
    assert "resuming from step 30" in capsys.readouterr().err
    assert main(args + ["model.d_model=32", "model.n_heads=2", "--overwrite"]) == 0
    assert json.loads((run / "model" / "config.json").read_text())["model"]["d_model"] == 32


def test_a_second_run_on_one_out_dir_is_refused_and_a_dead_runs_lock_is_not(tmp_path, capsys, docs_dir):
    from lcm.training.guard import run_lock

    shards = tmp_path / "shards"
    assert main(["encode", str(docs_dir), "-o", str(shards), *HASH]) == 0
    run = tmp_path / "run"
    args = ["train", TINY, "--quiet", f"data.train={shards}", f"train.out_dir={run}", "train.steps=3"]  # overrides after a flag
    with run_lock(run):
        _expect_error(capsys, args, "in use by another `lcm train`")
    assert not (run / "loss_log.jsonl").exists()
    # A run killed while holding the lock leaves the file behind; the kernel released the lock with the process.
    subprocess.run([sys.executable, "-c", f"from lcm.training.guard import run_lock\nimport os\n"
                    f"with run_lock(__import__('pathlib').Path({str(run)!r})): os._exit(9)"], cwd=ROOT, check=False)
    assert (run / ".lock").exists()
    assert main(args) == 0


@pytest.mark.parametrize("override,pattern", [
    ("train.steps=0", "train.steps must be at least 1"),
    ("train.lr=-0.1", "train.lr must be a positive number"),
    ("train.lr=nan", "train.lr must be a positive number"),
    ("model.n_heads=3", "model.n_heads (3) must divide model.d_model"),
])
def test_training_settings_that_cannot_work_are_refused_before_training(tmp_path, capsys, docs_dir, override, pattern):
    shards = tmp_path / "shards"
    assert main(["encode", str(docs_dir), "-o", str(shards), *HASH]) == 0
    run = tmp_path / "run"
    _expect_error(capsys, ["train", TINY, f"data.train={shards}", f"train.out_dir={run}", override, "--quiet"], pattern)
    assert not run.exists()  # no empty loss log, no exported model
