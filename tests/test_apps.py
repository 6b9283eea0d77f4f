"""summarize / story / eval on a tiny fixture model, metrics on hand-computed cases, and their bad-input errors."""

import json

import pytest
import torch

from lcm.apps.infill import interpolate
from lcm.apps.summarize import summary_length
from lcm.cli import main
from lcm.eval.metrics import contrastive_accuracy, ovl_n, rep_n, rouge_l
from tests.test_cli import _expect_error, docs_dir, trained  # noqa: F401  (fixtures)

HASH = ["--codec", "hashing", "--codec-opt", "dim=64"]


def test_contrastive_accuracy_hand_cases():
    target = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    assert contrastive_accuracy(target.clone(), target).tolist() == [1.0, 1.0, 1.0]
    # Prediction 0 sits on target 1: one of the two others (target 1) is closer than its own target -> 0.5.
    pred = torch.tensor([[10.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    assert contrastive_accuracy(pred, target).tolist() == [0.5, 1.0, 1.0]


def test_text_metrics_hand_cases():
    assert rep_n("a b c d a b c d", 4) == pytest.approx(100 * (1 - 4 / 5))
    assert rep_n("one two three four five", 4) == 0.0
    assert ovl_n("the cat sat down", "the cat sat on the mat", 3) == pytest.approx(0.5)
    from rouge_score import rouge_scorer

    pred, ref = "the cat was found under the bed", "the cat was under the bed"
    expected = 100 * rouge_scorer.RougeScorer(["rougeLsum"], use_stemmer=True).score(ref, pred)["rougeLsum"].fmeasure
    assert rouge_l(pred, ref) == pytest.approx(expected)
    assert rouge_l("猫在床下", "猫在床下", cjk=True) == pytest.approx(100.0)


def test_summary_length_rules():
    from encoders.errors import InputError

    assert summary_length(10, 3, None) == 3 and summary_length(10, None, 0.2) == 2
    for args in [(10, 0, None), (4, 5, None), (10, None, 1.5), (10, 2, 0.5)]:
        with pytest.raises(InputError):
            summary_length(*args)


def test_interpolation_keeps_endpoints():
    a, b = torch.randn(16), torch.randn(16)
    path = interpolate(a, b, 5)
    assert torch.allclose(path[0], a, atol=1e-4) and torch.allclose(path[-1], b, atol=1e-4)


def _doc(tmp_path, text="The river was near the stone. The stone was near the lantern. The lantern was near the harbor. "
                        "The harbor was near the winter. The winter was near the garden."):
    path = tmp_path / "in.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_summarize_story_eval_commands(trained, tmp_path, capsys):
    model, shards = trained
    doc = _doc(tmp_path)
    assert main(["summarize", str(doc), "--model", str(model), "--sentences", "2", "--json", *HASH]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["mode"] == "abstractive" and len(out["summary"]) == 2
    assert all(0 <= a["closest_input_sentences"][0] < 5 for a in out["alignment"])
    assert main(["summarize", str(doc), "--model", str(model), "--sentences", "2", "--extractive", *HASH]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("[extractive") and all(line in doc.read_text() for line in lines[1:])
    plot = tmp_path / "plan.png"
    assert main(["story", str(doc), "--model", str(model), "-n", "3", "--plot", str(plot), *HASH]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("Outline:") and "3." in printed and plot.read_bytes()[:4] == b"\x89PNG"
    report = tmp_path / "r.json"
    assert main(["eval", str(shards), "--model", str(model), "--out", str(report), *HASH]) == 0
    metrics = json.loads(report.read_text())["next_sentence"]["eng_Latn"]
    assert 0 <= metrics["ca"] <= 1 and metrics["l2"] > 0 and metrics["predictions"] > 0
    assert set(metrics["baselines"]) == {"previous", "prompt_mean"}
    assert "repeat previous" in capsys.readouterr().out


def test_app_bad_inputs(trained, tmp_path, capsys):
    model, _ = trained
    doc = _doc(tmp_path)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"\x00\x01\x02 binary")
    _expect_error(capsys, ["summarize", str(empty), "--model", str(model), *HASH], "is empty")
    _expect_error(capsys, ["summarize", str(binary), "--model", str(model), *HASH], "binary")
    _expect_error(capsys, ["summarize", str(doc), "--model", str(model), "--src-lang", "qq", *HASH], "unknown or unsupported")
    _expect_error(capsys, ["summarize", str(doc), "--model", str(model), "--sentences", "0", *HASH], "at least 1")
    _expect_error(capsys, ["summarize", str(doc), "--model", str(model), "--sentences", "9", *HASH], "longer than its input")
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"document": "A b c. D e f."}) + "\n")
    _expect_error(capsys, ["eval", str(pairs), "--model", str(model), *HASH], "lack a 'document' or 'summary'")
    empty_dir = tmp_path / "no_shards"
    empty_dir.mkdir()
    _expect_error(capsys, ["eval", str(empty_dir), "--model", str(model), *HASH], "no parquet shards")
    _expect_error(capsys, ["eval", str(pairs), "--model", str(model), "--codec", "hashing", "--codec-opt", "dim=32"],
                  "trained on 64-d concepts")


def test_xling_table_and_plot(trained, tmp_path, capsys):
    from tests.conftest import make_documents

    model, _ = trained
    data = tmp_path / "multi.jsonl"
    rows = [{"lang": lang, "sentences": doc} for lang in ("en", "fr") for doc in make_documents(3, seed=5)]
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "xl"
    assert main(["xling", str(data), "--langs", "en,fr", "--model", str(model), "-o", str(out), *HASH]) == 0
    table = json.loads((out / "xling.json").read_text())["rows"]
    assert set(table) == {"en", "fr"} and all(0 <= r["ca"] <= 1 and r["documents"] == 3 for r in table.values())
    assert (out / "xling.png").read_bytes()[:4] == b"\x89PNG" and "| en |" in (out / "xling.md").read_text()
    _expect_error(capsys, ["xling", str(data), "--langs", "en,de", "--model", str(model), "-o", str(out), *HASH],
                  "no documents")


def test_infill_and_interpolate_commands(trained, tmp_path, capsys):
    model, _ = trained
    before, after = tmp_path / "b.txt", tmp_path / "a.txt"
    before.write_text("The river was near the stone. The stone was near the lantern.", encoding="utf-8")
    after.write_text("The harbor was near the winter.", encoding="utf-8")
    capsys.readouterr()
    assert main(["infill", str(before), str(after), "--model", str(model), "-n", "1", "--candidates", "2", *HASH]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 1
    assert main(["interpolate", "The river was near the stone.", "The winter was near the garden.", "--steps", "3", *HASH]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [ln.split()[0] for ln in lines] == ["0.00", "0.50", "1.00"]
    assert lines[0].endswith("The river was near the stone.") and lines[-1].endswith("The winter was near the garden.")
    _expect_error(capsys, ["interpolate", "a b c.", "d e f.", "--steps", "1", *HASH], "--steps must be between 2 and")


def test_paraphrasing_ratio_hand_case():
    from lcm.eval.metrics import paraphrasing_ratio

    context = [torch.tensor([[1.0, 0.0]])]
    # The prediction copies the context (cosine 1); the truth is at 60 degrees (cosine 0.5): PAR = 1 / 0.5 = 2.
    truth = torch.tensor([[0.5, 3 ** 0.5 / 2]])
    assert paraphrasing_ratio(torch.tensor([[2.0, 0.0]]), truth, context) == pytest.approx(2.0)
