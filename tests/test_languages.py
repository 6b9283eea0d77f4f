"""Language detection for --src-lang auto, on the real example texts."""

import os

import pytest

from encoders.errors import InputError
from encoders.languages import detect_language

ROOT = os.path.dirname(os.path.dirname(__file__))


@pytest.mark.parametrize("name, flores", [("examples/prodigal_son.en.txt", "eng_Latn"),
                                          ("examples/prodigal_son.de.txt", "deu_Latn"),
                                          ("examples/prodigal_son.fr.txt", "fra_Latn"),
                                          ("tests/data/libreoffice_refs.zh.txt", "zho_Hans"),
                                          ("tests/data/libreoffice_refs.hu.txt", "hun_Latn")])
def test_detects_real_documents_with_confidence(name, flores):
    with open(os.path.join(ROOT, name), encoding="utf-8") as f:
        lang, confidence = detect_language(f.read())
    assert lang == flores and confidence > 0.9


def test_short_text_is_a_low_confidence_guess_and_non_language_is_refused():
    lang, confidence = detect_language("One sentence here.")
    assert lang == "eng_Latn" and confidence < 0.5
    with pytest.raises(InputError, match="--src-lang"):
        detect_language("12345 678 90")


def test_cli_reports_the_detected_language(tmp_path, capsys):
    from lcm.cli import main

    assert main(["summarize", os.path.join(ROOT, "tests/data/libreoffice_refs.hu.txt"), "--sentences", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the input is in hu: the embedded codec does not cover") and "--codec sonar" in err
    assert len(err.strip().splitlines()) == 1


def test_a_guessed_language_is_noted_after_the_output_and_never_before_an_error(tmp_path, capsys):
    from lcm.cli import main

    doc = tmp_path / "short.txt"
    doc.write_text("One sentence here. And one more.", encoding="utf-8")
    assert main(["summarize", str(doc), "--sentences", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --sentences must be at least 1") and len(err.strip().splitlines()) == 1
    assert main(["summarize", str(doc), "--sentences", "1"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() and captured.err.startswith("note: the input language was taken to be en, a guess")
