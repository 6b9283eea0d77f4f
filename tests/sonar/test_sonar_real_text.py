"""Hungarian, which the embedded default cannot read, summarized end to end through `lcm summarize --codec sonar`.

The input is a real LibreOffice help page (tests/data/libreoffice_refs.hu.txt, MPL-2.0, see tests/data/README.md).
The tiny SONAR pair from conftest knows eng_Latn and fra_Latn; a tokenizer card of our own lists eng_Latn and
hun_Latn instead (same vocabulary size, so the same checkpoints load), and the codec takes its languages from it.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HUNGARIAN = REPO / "tests" / "data" / "libreoffice_refs.hu.txt"


def _lcm(args: list, asset_dir: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, FAIRSEQ2_USER_ASSET_DIR=str(asset_dir), HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "lcm", *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow
def test_summarize_real_hungarian_with_the_sonar_codec(tiny_sonar, tmp_path):
    tokenizer = tmp_path / "tiny_hu_tokenizer.yaml"
    tokenizer.write_text(f"name: tiny_hu_tokenizer\ntokenizer: {tiny_sonar.asset_dir / 'tiny_spm.model'}\n"
                         "tokenizer_family: nllb\ntokenizer_config:\n  default_lang: eng_Latn\n"
                         "  langs: [eng_Latn, hun_Latn]\n", encoding="utf-8")
    codec_args = ["--codec", "sonar", "--codec-opt", f"encoder={tiny_sonar.encoder}",
                  "--codec-opt", f"decoder={tiny_sonar.decoder}", "--codec-opt", f"tokenizer={tokenizer}"]

    # A SONAR-space model to summarize with: the shipped ones read the embedded codec's 512-d concepts.
    encoded = _lcm(["encode", HUNGARIAN, "--lang", "hu", "-o", tmp_path / "shards", *codec_args],
                   tiny_sonar.asset_dir, tmp_path)
    assert encoded.returncode == 0, encoded.stderr
    trained = _lcm(["train", REPO / "recipes" / "base_lcm_tiny.yaml", "codec=sonar",
                    f"data.train={tmp_path / 'shards'}", f"train.out_dir={tmp_path / 'run'}", "train.steps=10",
                    "train.checkpoint_every=10", "--quiet"],
                   tiny_sonar.asset_dir, tmp_path)
    assert trained.returncode == 0, trained.stderr
    model_dir = trained.stdout.strip().splitlines()[-1].split("model written to ")[-1]

    summary = _lcm(["summarize", HUNGARIAN, "--src-lang", "hu", "--sentences", 2, "--model", model_dir, "--json",
                    *codec_args], tiny_sonar.asset_dir, tmp_path)
    assert summary.returncode == 0, summary.stderr
    assert "Traceback" not in summary.stderr
    result = json.loads(summary.stdout)
    assert result["mode"] == "abstractive" and len(result["summary"]) == 2
    assert all(isinstance(s, str) and s.strip() for s in result["summary"]), result
    # The alignment points back into the real Hungarian input (31 sentences, see tests/test_real_text.py).
    text = HUNGARIAN.read_text(encoding="utf-8")
    for row in result["alignment"]:
        assert all(0 <= i < 31 for i in row["closest_input_sentences"]) and all(t in text for t in row["closest_input_text"])
