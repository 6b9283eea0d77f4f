"""Segmentation is linear in the input (long paragraphs are split in bounded windows), gives the same sentences as
splitting each paragraph whole, and shows progress on long inputs."""

import gzip
import importlib
import re
from pathlib import Path

import pytest

seg = importlib.import_module("encoders.segment")  # the module (the package exports a function of that name)

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = [("examples/prodigal_son.de.txt", "de"), ("examples/prodigal_son.en.txt", "en"),
            ("examples/prodigal_son.fr.txt", "fr"), ("examples/ruth_1.en.txt", "en"),
            ("tests/data/libreoffice_refs.en.txt", "en"), ("tests/data/libreoffice_refs.hu.txt", "hu"),
            ("tests/data/libreoffice_refs.zh.txt", "zh")]


def _whole_paragraphs(monkeypatch, text: str, lang: str) -> list[str]:
    """The segmenter as it was: every paragraph given to the splitter whole (fast enough on small inputs)."""
    with monkeypatch.context() as m:
        m.setattr(seg, "WINDOW_CHARS", 10 ** 12)
        return seg.segment(text, lang)


@pytest.mark.parametrize("path,lang", FIXTURES)
@pytest.mark.parametrize("window", [1000, 2000, None])
def test_windows_give_the_same_sentences_as_whole_paragraphs(monkeypatch, path, lang, window):
    text = (ROOT / path).read_text(encoding="utf-8")
    text = re.sub(r"\s*\n\s*", " ", text) + "\n\n" + text  # the fixture as one long paragraph, then as it is
    expected = _whole_paragraphs(monkeypatch, text, lang)
    if window:
        monkeypatch.setattr(seg, "WINDOW_CHARS", window)
    assert seg.segment(text, lang) == expected


def test_quotations_spanning_windows_keep_their_sentences(monkeypatch):
    luke = gzip.open(ROOT / "tests/data/web_luke.en.txt.gz", "rt", encoding="utf-8").read()[:40000]
    wrapped = re.sub(r"\s*\n\s*", " ", luke)
    assert seg.segment(wrapped, "en") == _whole_paragraphs(monkeypatch, wrapped, "en")


@pytest.mark.parametrize("shape", ["wrapped", "lines", "no punctuation"])
def test_splitter_work_is_bounded_and_linear(monkeypatch, shape):
    """Each splitter call sees at most WINDOW_CHARS characters, and all calls together about the input twice over."""
    base = " ".join((ROOT / "examples/ruth_1.en.txt").read_text(encoding="utf-8").split())
    text = {"wrapped": "\n".join(re.findall(r".{1,72}(?:\s|$)", base * 20)),
            "lines": "\n".join(seg.segment(base, "en") * 20),
            "no punctuation": "word " * 20000}[shape]
    seen = []
    real = seg._splitter("en")
    monkeypatch.setattr(seg, "_splitter", lambda iso: lambda chunk: seen.append(len(chunk)) or real(chunk))
    sentences = seg.segment(text, "en")
    assert max(seen) <= seg.WINDOW_CHARS and sum(seen) < 2.5 * len(text), (max(seen), sum(seen), len(text))
    assert all(len(s) <= 256 for s in sentences)
    assert " ".join(sentences).split() == text.split()  # nothing lost or repeated


def test_progress_reaches_the_end_and_long_input_shows_a_bar(monkeypatch, capsys):
    calls = []
    seg.segment("One. Two.\n\nThree. Four.", "en", progress=lambda done, total: calls.append((done, total)))
    assert calls[-1][0] == calls[-1][1] and [c[0] for c in calls] == sorted(c[0] for c in calls)
    monkeypatch.setattr(seg, "PROGRESS_CHARS", 10)
    started = []
    monkeypatch.setattr(seg._progress_bar, "__enter__", lambda self: started.append(self) or self)
    seg.segment("One sentence. Another one here.", "en")
    assert started and started[0].bar.console.stderr
