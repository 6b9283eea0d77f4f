"""End to end through the `lcm` command line with `--codec sonar`: encode -> decode, train a tiny LCM -> generate.

The codec is the tiny SONAR pair from conftest, named by card through `--codec-opt`, exactly as a user would.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _lcm(args: list[str], asset_dir: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, FAIRSEQ2_USER_ASSET_DIR=str(asset_dir), HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "lcm", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.slow
def test_encode_decode_train_generate_with_the_sonar_codec(tiny_sonar, tmp_path):
    codec_args = ["--codec", "sonar", "--codec-opt", f"encoder={tiny_sonar.encoder}",
                  "--codec-opt", f"decoder={tiny_sonar.decoder}", "--codec-opt", "beam_size=3"]
    docs = tmp_path / "docs"
    docs.mkdir()
    sentences = tiny_sonar.sentences
    for i in range(4):  # four documents, each a rotation of the training sentences
        (docs / f"doc{i}.txt").write_text(" ".join(sentences[i:] + sentences[:i]) + "\n", encoding="utf-8")

    encoded = _lcm(["encode", str(docs), "--lang", "en", "-o", str(tmp_path / "shards"), *codec_args],
                   tiny_sonar.asset_dir, tmp_path)
    assert encoded.returncode == 0, encoded.stderr
    assert f"sonar, {tiny_sonar.dim}-d" in encoded.stdout

    decoded = _lcm(["decode", str(tmp_path / "shards"), "--lang", "en", *codec_args], tiny_sonar.asset_dir, tmp_path)
    assert decoded.returncode == 0, decoded.stderr
    lines = [line for line in decoded.stdout.splitlines() if line and not line.startswith("# ")]
    assert sorted(lines) == sorted(sentences * 4)  # every sentence came back through the shards

    trained = _lcm(["train", str(REPO / "recipes" / "base_lcm_tiny.yaml"), "codec=sonar",
                    f"data.train={tmp_path / 'shards'}", f"train.out_dir={tmp_path / 'run'}", "train.steps=10",
                    "train.checkpoint_every=10", "--quiet"], tiny_sonar.asset_dir, tmp_path)
    assert trained.returncode == 0, trained.stderr
    model_dir = trained.stdout.strip().splitlines()[-1].split("model written to ")[-1]

    story = tmp_path / "story.txt"
    story.write_text(" ".join(sentences[:3]) + "\n", encoding="utf-8")
    generated = _lcm(["generate", str(story), "-n", "2", "--model", model_dir, "--json", *codec_args],
                     tiny_sonar.asset_dir, tmp_path)
    assert generated.returncode == 0, generated.stderr
    result = json.loads(generated.stdout)
    assert result["codec"] == "sonar" and result["prompt"] == sentences[:3]
    assert 1 <= len(result["continuation"]) <= 2 and all(isinstance(t, str) for t in result["continuation"])


def test_cli_reports_a_missing_sonar_card_as_one_error_line(tiny_sonar, tmp_path):
    (tmp_path / "a.txt").write_text("The cat sat on the mat.\n", encoding="utf-8")
    result = _lcm(["encode", str(tmp_path / "a.txt"), "-o", str(tmp_path / "out"), "--codec", "sonar",
                   "--codec-opt", "encoder=no_such_card"], tiny_sonar.asset_dir, tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: no SONAR encoder asset card named 'no_such_card'"), result.stderr
    assert "Traceback" not in result.stderr
