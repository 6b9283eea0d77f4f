"""The shipped defaults work offline: no network (a fresh network namespace), no environment variables."""

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(__file__))
PRETRAINED = os.path.join(ROOT, "lcm", "pretrained")
needs_models = pytest.mark.skipif(not os.path.isfile(os.path.join(PRETRAINED, "base_lcm", "config.json")),
                                  reason="no shipped LCM in lcm/pretrained (train one with recipes/base_lcm_embedded.yaml)")


def run_offline(*args: str) -> subprocess.CompletedProcess:
    """Run the CLI with an empty environment; inside a new network namespace (no network at all) where possible."""
    cmd = [sys.executable, "-m", "lcm", *args]
    if shutil.which("unshare") and subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode == 0:
        cmd = ["unshare", "-rn", *cmd]
    return subprocess.run(cmd, cwd=ROOT, env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
@needs_models
def test_summarize_german_into_english_offline():
    out = run_offline("summarize", "examples/prodigal_son.de.txt", "--src-lang", "de", "--tgt-lang", "en",
                      "--sentences", "2", "--json")
    assert out.returncode == 0, out.stderr
    import json

    result = json.loads(out.stdout)
    assert result["mode"] == "abstractive" and len(result["summary"]) == 2
    english = " ".join(result["summary"]).lower()
    assert sum(w in english.split() for w in ("the", "and", "he", "of", "to", "his", "i", "a")) >= 2, english
    assert not any(w in english.split() for w in ("und", "der", "die", "das")), english


@pytest.mark.slow
@needs_models
@pytest.mark.parametrize("head", ["mse", "diffusion", "quantized"])
def test_story_continues_english_offline(head):
    out = run_offline("story", "examples/ruth_1.en.txt", "-n", "2", "--head", head, "--steps", "10") if head == "diffusion" \
        else run_offline("story", "examples/ruth_1.en.txt", "-n", "2", "--head", head)
    assert out.returncode == 0, out.stderr
    outline = [line for line in out.stdout.splitlines() if line.strip()[:2] in ("1.", "2.")]
    assert len(outline) == 2 and all(len(line.split()) >= 3 for line in outline), out.stdout
