"""What a new user hits first, part 2: inputs and messages. Each document in its own language, closed stdin, bounds
on -n and --steps, NaN, extractive summaries, misleading messages, help and docs."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lcm.cli import main
from tests.test_cli import ROOT, TINY, _expect_error, docs_dir, trained  # noqa: F401  (fixtures)

HASH = ["--codec", "hashing", "--codec-opt", "dim=64"]
EXAMPLES = Path(ROOT) / "examples"


@pytest.fixture()
def languages_seen(monkeypatch):
    """Record (source, target) of every document `lcm summarize` summarizes, through the real command."""
    import lcm.apps.summarize as module

    seen, real = [], module.summarize

    def spy(model, codec, sentences, src, tgt, n_out, **kw):
        seen.append((src, tgt))
        return real(model, codec, sentences, src, tgt, n_out, **kw)

    monkeypatch.setattr(module, "summarize", spy)
    return seen


def test_a_folder_is_summarized_document_by_document_in_each_ones_language(trained, tmp_path, languages_seen):
    model, _ = trained
    folder = tmp_path / "mixed"
    folder.mkdir()
    for name in ("prodigal_son.de.txt", "prodigal_son.fr.txt", "ruth_1.en.txt"):
        (folder / name).write_text((EXAMPLES / name).read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["summarize", str(folder), "--model", str(model), "--sentences", "2", *HASH]) == 0
    assert languages_seen == [("deu_Latn", "deu_Latn"), ("fra_Latn", "fra_Latn"), ("eng_Latn", "eng_Latn")]
    languages_seen.clear()
    assert main(["summarize", str(folder), "--model", str(model), "--sentences", "2", "--tgt-lang", "en", *HASH]) == 0
    assert languages_seen == [("deu_Latn", "eng_Latn"), ("fra_Latn", "eng_Latn"), ("eng_Latn", "eng_Latn")]


def test_a_jsonl_lang_column_is_used(trained, tmp_path, languages_seen):
    model, _ = trained
    rows = [{"lang": "fr", "text": (EXAMPLES / "prodigal_son.fr.txt").read_text(encoding="utf-8")},
            {"lang": "de", "text": (EXAMPLES / "prodigal_son.de.txt").read_text(encoding="utf-8")},
            {"text": (EXAMPLES / "ruth_1.en.txt").read_text(encoding="utf-8")}]
    data = tmp_path / "docs.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    assert main(["summarize", str(data), "--model", str(model), "--sentences", "1", *HASH]) == 0
    assert languages_seen == [("fra_Latn", "fra_Latn"), ("deu_Latn", "deu_Latn"), ("eng_Latn", "eng_Latn")]


@pytest.mark.parametrize("command", ["summarize", "generate", "story"])
def test_closed_standard_input_is_one_error_line(command):
    proc = subprocess.run(f"{sys.executable} -m lcm {command} - <&-", shell=True, cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.startswith("error: standard input is closed"), proc.stderr
    assert "Traceback" not in proc.stderr


def test_infill_with_closed_stdin(monkeypatch, capsys, tmp_path):
    after = tmp_path / "a.txt"
    after.write_text("After the gap.")
    monkeypatch.setattr(sys, "stdin", None)
    _expect_error(capsys, ["infill", "-", str(after)], "standard input is closed")


def test_n_and_steps_have_upper_bounds(trained, tmp_path, capsys):
    model, _ = trained
    prompt = tmp_path / "p.txt"
    prompt.write_text("The river was near the stone. The stone was near the lantern.")
    for command in ("generate", "story"):
        _expect_error(capsys, [command, str(prompt), "--model", str(model), "-n", "1000000000", *HASH],
                      "-n/--sentences must be between 1 and")
    _expect_error(capsys, ["interpolate", "a b.", "c d.", "--steps", "1000000000", *HASH], "--steps must be between 2 and")


def test_nan_from_options_or_from_a_broken_model_is_one_error_line(trained, tmp_path, capsys):
    from safetensors.torch import load_file, save_file

    model, _ = trained
    prompt = tmp_path / "p.txt"
    prompt.write_text("The river was near the stone. The stone was near the lantern.")
    _expect_error(capsys, ["generate", str(prompt), "--head", "diffusion", "--guidance", "nan", *HASH],
                  "guidance must be a finite number")
    weights = model / "model.safetensors"
    save_file({k: torch.full_like(v, float("nan")) if v.is_floating_point() else v for k, v in load_file(weights).items()},
              str(weights))
    _expect_error(capsys, ["generate", str(prompt), "--model", str(model), *HASH], "NaN/Inf concepts")


def test_eval_refuses_shards_of_another_concept_size(trained, tmp_path, capsys, docs_dir):
    model, _ = trained
    small = tmp_path / "small"
    assert main(["encode", str(docs_dir), "-o", str(small), "--codec", "hashing", "--codec-opt", "dim=32"]) == 0
    _expect_error(capsys, ["eval", str(small), "--model", str(model), *HASH], "hold 32-d concepts")


def test_extractive_summary_takes_distinct_sentences_in_document_order(trained, tmp_path, capsys):
    from lcm.apps.summarize import extract

    same = torch.ones(4, 8)  # four summary concepts closest to one input sentence
    source = torch.eye(8)[:6] + 0.1
    picked = extract(same, source)
    assert len(set(picked)) == 4 and picked == sorted(picked)
    model, _ = trained
    doc = tmp_path / "d.txt"
    doc.write_text(" ".join(f"The {w} was near the stone." for w in ("river", "garden", "bridge", "market", "candle")))
    capsys.readouterr()
    assert main(["summarize", str(doc), "--model", str(model), "--sentences", "3", "--extractive", *HASH]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    order = [doc.read_text().index(line) for line in lines]
    assert len(set(lines)) == 3 and order == sorted(order)
    assert main(["summarize", str(doc), "--model", str(model), "--sentences", "2", "--json", *HASH]) == 0
    for a in json.loads(capsys.readouterr().out)["alignment"]:
        assert len(a["closest_input_text"]) == len(a["closest_input_sentences"]) == 2


def test_utf16_jsonl_rows_and_codec_options_get_messages_that_name_the_fix(tmp_path, capsys):
    utf16 = tmp_path / "u.txt"
    utf16.write_bytes("Hello there. This is UTF-16.".encode("utf-16"))
    _expect_error(capsys, ["encode", str(utf16), "-o", str(tmp_path / "o"), *HASH], "iconv -f UTF-16 -t UTF-8")
    utf16.write_bytes("Hello there. No byte-order mark.".encode("utf-16-le"))
    _expect_error(capsys, ["encode", str(utf16), "-o", str(tmp_path / "o"), *HASH], "is UTF-16")
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"body": "Some text."}) + "\n")
    _expect_error(capsys, ["summarize", str(rows)], "neither a 'text' string nor a 'sentences' list")
    rows.write_text(json.dumps({"text": ""}) + "\n")
    _expect_error(capsys, ["summarize", str(rows)], "has an empty 'text'")
    _expect_error(capsys, ["interpolate", "a.", "b.", "--codec", "hashing", "--codec-opt", "dimm=3"],
                  "valid options: dim")


def test_language_codes_regions_and_what_a_codec_covers():
    from types import SimpleNamespace

    from encoders.errors import InputError
    from encoders.languages import normalize_lang
    from lcm.cli.common import check_codec_languages

    assert [normalize_lang(c) for c in ("zh-TW", "fr-FR", "en_US", "pt-BR", "zh-CN")] == \
        ["zho_Hant", "fra_Latn", "eng_Latn", "por_Latn", "zho_Hans"]
    codec = SimpleNamespace(name="embedded", languages=frozenset({"eng_Latn", "fra_Latn"}))
    with pytest.raises(InputError) as err:
        check_codec_languages(codec, "eng_Latn", normalize_lang("ar"))
    assert "--tgt-lang ar:" in str(err.value) and "arb_Arab" not in str(err.value) and "covers en, fr" in str(err.value)
    with pytest.raises(InputError) as err:
        normalize_lang("hu", {"eng_Latn", "fra_Latn"})
    assert "hu" in str(err.value) and "covers: en, fr" in str(err.value)


def test_the_wrong_size_hint_names_the_codec_option_when_the_codec_is_right(trained, tmp_path, capsys):
    model, _ = trained
    prompt = tmp_path / "p.txt"
    prompt.write_text("One sentence here.")
    _expect_error(capsys, ["generate", str(prompt), "--model", str(model), "--codec", "hashing", "--codec-opt", "dim=32"],
                  "--codec-opt, e.g. dim=64")


def test_help_version_and_defaults(capsys, tmp_path):
    import re

    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.startswith("lcm-toolkit ")
    with pytest.raises(SystemExit):
        main(["train"])
    assert "required: recipe\n" in capsys.readouterr().err  # overrides are optional
    for command in ("train", "encode", "prepare", "generate"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        for recipe in re.findall(r"recipes/\S+\.yaml", text):
            assert (Path(ROOT) / recipe).is_file(), recipe
        assert "--docs-per-shard" not in text or "documents per parquet shard" in text
        assert "--seed" not in text or "random seed" in text
    zh = tmp_path / "zh.txt"
    zh.write_text((Path(ROOT) / "tests/data/libreoffice_refs.zh.txt").read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["encode", str(zh), "-o", str(tmp_path / "s"), *HASH]) == 0  # no --lang: detected, not English
    from lcm.data.shards import read_shard

    assert {d.lang for d in read_shard(tmp_path / "s" / "shard_00000.parquet")} == {"zho_Hans"}


def test_story_separates_opening_and_continuation_and_the_plot_numbers_the_plan(trained, tmp_path, capsys, monkeypatch):
    import matplotlib.axes

    model, _ = trained
    doc = tmp_path / "d.txt"
    doc.write_text("The river was near the stone. The stone was near the lantern. The lantern was near the harbor.")
    labels = []
    real = matplotlib.axes.Axes.annotate
    monkeypatch.setattr(matplotlib.axes.Axes, "annotate", lambda self, text, *a, **k: labels.append(text) or real(self, text, *a, **k))
    capsys.readouterr()
    assert main(["story", str(doc), "--model", str(model), "-n", "2", "--plot", str(tmp_path / "p.png"), *HASH]) == 0
    story = capsys.readouterr().out.split("Story:\n")[1]
    assert story.startswith(doc.read_text().strip() + "\n\n")
    assert labels == ["i1", "i2", "i3", "1", "2"]  # the plan numbered as in the outline
