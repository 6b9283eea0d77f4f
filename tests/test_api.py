"""The Python API (lcm.load): the README's example runs as written, and every mistake raises the InputError whose
message the CLI prints after `error:`."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import lcm
from lcm.cli import main
from tests.conftest import make_documents

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
TINY = ROOT / "recipes" / "base_lcm_tiny.yaml"
HASHING = {"codec": "hashing", "codec_options": {"dim": 64}}


def readme_block(marker: str) -> str:
    """The fenced python block between <!-- marker --> and <!-- /marker --> in the README."""
    found = re.search(rf"<!-- {marker} -->\s*```python\n(.*?)```\s*<!-- /{marker} -->", README, re.S)
    assert found, f"README.md has no python block between <!-- {marker} --> markers"
    return found.group(1)


def test_import_lcm_does_not_import_torch():
    code = "import sys, lcm; lcm.load; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.slow
def test_readme_python_example_runs_and_prints_what_the_cli_prints():
    out = subprocess.run([sys.executable, "-c", readme_block("python-api-example")], capture_output=True, text=True,
                         cwd=ROOT, timeout=600)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    cli_summary = re.search(r"What it printed here.*?```\n(.*?)```", README, re.S).group(1).splitlines()
    assert len(cli_summary) == 3 and lines[1:4] == cli_summary  # the API summarizes as `lcm summarize` does
    french, outline, spanish = (ast.literal_eval(lines[i]) for i in (0, 4, 5))  # printed lists of str
    assert 1 <= len(french) <= 2 and len(outline) == 3 and len(spanish) == 1
    assert all(isinstance(s, str) and s for s in french + outline + spanish)
    assert lines[6] == ("asked for a 3-sentence summary of a 1-sentence input; a summary cannot be longer than its "
                        "input: use --sentences 1 or less")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A Base-LCM trained for a few steps on hashing-codec shards, and a text file to feed the CLI."""
    tmp = tmp_path_factory.mktemp("api")
    docs = tmp / "docs"
    docs.mkdir()
    for i, doc in enumerate(make_documents()):
        (docs / f"doc{i}.txt").write_text(" ".join(doc), encoding="utf-8")
    assert main(["encode", str(docs), "-o", str(tmp / "shards"), "--codec", "hashing", "--codec-opt", "dim=64"]) == 0
    assert main(["train", str(TINY), f"data.train={tmp / 'shards'}", f"train.out_dir={tmp / 'run'}", "train.steps=10",
                 "--quiet"]) == 0
    text = tmp / "story.txt"
    text.write_text("The river was near the stone. The stone was near the lantern. The lantern was near the harbor.")
    return tmp / "run" / "model", text


def test_the_api_encodes_generates_decodes_summarizes_and_plans(tiny_model):
    model_dir, text_file = tiny_model
    m = lcm.load(model_dir, **HASHING)
    assert m.path == model_dir and m.provenance["trained_steps"] == 10 and "hashing" in repr(m)
    concepts = m.encode(text_file.read_text(), lang="en")
    assert concepts.shape == (3, 64)
    new = m.generate(concepts, n=2, stop_at_end=False)
    assert new.shape == (2, 64) and torch.equal(new, m.generate(concepts, n=2, stop_at_end=False))  # seeded
    assert len(m.decode(new, lang="fr")) == 2 and m.decode(new[:0], lang="fr") == []
    summary = m.summarize(text_file.read_text(), sentences=2, src_lang="en")
    assert len(summary.sentences) == 2 and summary.mode == "abstractive"
    story = m.story(["The river was near the stone.", "The stone was near the lantern."], n=2, src_lang="en")
    assert len(story.outline) == 2 and story.text.startswith("The river was near the stone.") and story.plan.shape == (2, 64)


def _cli_error(capsys, *args) -> str:
    capsys.readouterr()
    assert main([str(a) for a in args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    return err[len("error: "):].strip()


def test_the_api_refuses_what_the_cli_refuses_with_the_same_message(tiny_model, capsys):
    model_dir, text_file = tiny_model
    m = lcm.load(model_dir, **HASHING)
    text = text_file.read_text()
    cli = ["--model", model_dir, "--codec", "hashing", "--codec-opt", "dim=64"]
    cases = [  # (what the API does, the same request on the command line)
        (lambda: lcm.load("no_such_model"), ["generate", text_file, "--model", "no_such_model"]),
        (lambda: m.summarize(text, sentences=5, src_lang="en"), ["summarize", text_file, "--sentences", "5",
                                                                  "--src-lang", "en", *cli]),
        (lambda: m.summarize(text, ratio=1.5, src_lang="en"), ["summarize", text_file, "--ratio", "1.5",
                                                                "--src-lang", "en", *cli]),
        (lambda: m.generate(m.encode(text, "en"), n=0), ["generate", text_file, "-n", "0", *cli]),
        (lambda: m.generate(m.encode(text, "en"), n=1, steps=3), ["generate", text_file, "--steps", "3", *cli]),
        (lambda: m.story(text, n=2, src_lang="en", passes=2), ["story", text_file, "--passes", "2", "--src-lang", "en",
                                                                 *cli]),
        (lambda: m.summarize(text, src_lang="xx"), ["summarize", text_file, "--src-lang", "xx", *cli]),
        (lambda: lcm.load(model_dir, codec="hashing", codec_options={"dim": 32}),
         ["generate", text_file, "--model", model_dir, "--codec", "hashing", "--codec-opt", "dim=32"]),
    ]
    for call, args in cases:
        with pytest.raises(lcm.InputError) as raised:
            call()
        assert str(raised.value) == _cli_error(capsys, *args), args


def test_a_language_the_codec_lacks_names_the_same_fix(capsys, tmp_path):
    """The shipped model on the embedded codec: Hungarian is not one of its languages (refused before any encoding)."""
    text = tmp_path / "hu.txt"
    text.write_text("Ez egy mondat. Ez egy másik mondat.", encoding="utf-8")
    m = lcm.load("base_lcm")
    with pytest.raises(lcm.InputError) as raised:
        m.summarize(text.read_text(), sentences=1, src_lang="hu")
    assert str(raised.value) == _cli_error(capsys, "summarize", text, "--sentences", "1", "--src-lang", "hu")
    assert "--codec sonar" in str(raised.value)


def test_encoding_checks_only_the_source_language():
    """The embedded codec reads Arabic but does not write it: encoding Arabic works, decoding into it is refused."""
    m = lcm.load("base_lcm")
    assert m.encode(["مرحبا بكم في المدينة."], lang="ar").shape == (1, 512)
    with pytest.raises(lcm.InputError, match="--tgt-lang ar: the embedded codec does not cover"):
        m.decode(torch.zeros(1, 512), lang="ar")
