"""Real text no one here wrote (tests/data/README.md): Chinese and Hungarian help pages, a 24k-word gospel.

Segmentation must respect each language's own punctuation; `lcm summarize` on the shipped default (embedded codec)
must handle them as a user would run it: a real process, one `error:` line for what it cannot do, progress and
bounded memory on a long document.
"""

import gzip
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from encoders import segment

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
CJK = re.compile(r"[\u4e00-\u9fff]")
ZH_END = "。！？"


def _text(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


# Runs the CLI like `python -m lcm`, then records the process's own peak RSS (VmHWM: reset at exec, so it is this
# program's peak). The rusage of a child (os.wait4 / RUSAGE_CHILDREN) is not: Linux carries the parent's RSS at fork
# into it, so under a pytest process that had grown to 1.2 GB both runs read 1206 MB in CI.
_RUN_AND_REPORT_PEAK = """
import os, sys
from lcm.cli import main
code = main(sys.argv[1:])
with open("/proc/self/status") as status:
    peak_kb = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
with open(os.environ["LCM_TEST_PEAK_FILE"], "w") as f:
    f.write(peak_kb)
sys.exit(code)
"""


def _lcm(args: list, tmp_path: Path, **env) -> tuple[int, str, str, int]:
    """Run the `lcm` CLI in a fresh process as a user would; returns (exit code, stdout, stderr, its peak RSS in MB)."""
    peak_file = tmp_path / "peak_kb.txt"
    peak_file.unlink(missing_ok=True)
    full_env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", LCM_TEST_PEAK_FILE=str(peak_file), **env)
    proc = subprocess.run([sys.executable, "-c", _RUN_AND_REPORT_PEAK, *map(str, args)], cwd=ROOT, env=full_env,
                          capture_output=True, stdin=subprocess.DEVNULL)
    peak_mb = int(peak_file.read_text()) // 1024 if peak_file.exists() else -1
    return proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8"), peak_mb


def _one_error_line(code: int, err: str) -> str:
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


# ---- segmentation -------------------------------------------------------------------------------------------------
def test_chinese_segmentation_follows_its_own_punctuation():
    text = _text("libreoffice_refs.zh.txt")
    sentences = segment(text, "zh")
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    # One sentence per run of 。！？ (closing quotes may follow), plus one per heading without any.
    expected = sum(len(re.findall(f"[{ZH_END}]+", p)) + (not p.strip().endswith(tuple(ZH_END))) for p in paragraphs)
    assert len(sentences) == expected == 30
    assert _squeeze("".join(sentences)) == _squeeze(text)  # nothing lost, nothing invented
    for s in sentences:  # a sentence ends at its punctuation, never holds one in its middle
        assert not re.search(f"[{ZH_END}].", s), s


def test_hungarian_segmentation_keeps_ordinals_and_matches_the_english_original():
    hu, en = segment(_text("libreoffice_refs.hu.txt"), "hu"), segment(_text("libreoffice_refs.en.txt"), "en")
    assert len(hu) == len(en) == 31  # the translation keeps the original's sentences one for one
    assert _squeeze("".join(hu)) == _squeeze(_text("libreoffice_refs.hu.txt"))
    # "1. sorában" / "10. sorba" are ordinals ("1st row"), not sentence ends.
    assert "Az A oszlop 1. sorában levő cella címe A1." in hu
    assert "Tegyük fel, hogy a 10. sorba a következő képletet írta: =SZUM(A1:A9)." in hu
    for before, after in zip(hu, hu[1:]):
        assert not (re.search(r"\b\d{1,3}\.$", before) and after[:1].islower()), (before, after)


def test_long_quotations_split_at_their_own_sentence_ends():
    """pysbd keeps quoted speech whole; an over-long quotation is cut at its sentences, not mid-clause."""
    luke = gzip.decompress((DATA / "web_luke.en.txt.gz").read_bytes()).decode("utf-8")
    sentences = segment(luke, "en")
    assert max(len(s) for s in sentences) <= 256
    assert _squeeze("".join(sentences)) == _squeeze(luke)
    # Luke 1:30-33 is one quotation of 4 sentences (311 characters); a clause cut made "He will be great," a piece.
    assert "He will be great, and will be called the Son of the Most High." in sentences
    quoted = 'She said, "' + " ".join(f"Sentence number {i} is here." for i in range(12)) + '"'
    pieces = segment(quoted, "en", max_chars=80)
    assert len(pieces) == 12 and all(p.rstrip('"').endswith(".") for p in pieces), pieces


@pytest.mark.parametrize("lang,text,expected", [
    ("hu", "Azt mondta: „Jó reggelt!” Aztán elment. A 3. ház „szép.” (Ez igaz.) Vége.",
     ["Azt mondta: „Jó reggelt!”", "Aztán elment.", "A 3. ház „szép.”", "(Ez igaz.)", "Vége."]),
    ("zho_Hant", "他說：「你好。」然後走了。真的嗎？！是的。", ["他說：「你好。」", "然後走了。", "真的嗎？！", "是的。"]),
])
def test_closing_quotes_stay_with_their_sentence(lang, text, expected):
    """The punctuation splitter (languages pysbd lacks) once dropped the quote or bracket closing a sentence."""
    assert segment(text, lang) == expected


# ---- summarize on the shipped default (embedded codec) ------------------------------------------------------------
@pytest.mark.slow
def test_summarize_real_chinese_into_chinese_and_english(tmp_path):
    zh = DATA / "libreoffice_refs.zh.txt"
    code, out, err, _ = _lcm(["summarize", zh, "--src-lang", "zh", "--tgt-lang", "zh", "--sentences", 2], tmp_path)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 2 and all(CJK.search(line) for line in lines), out
    code, out, err, _ = _lcm(["summarize", zh, "--src-lang", "zh", "--tgt-lang", "en", "--sentences", 2], tmp_path)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 2 and all(re.search("[A-Za-z]{3}", line) and not CJK.search(line) for line in lines), out


def test_hungarian_on_the_embedded_codec_names_the_fix(tmp_path):
    code, out, err, _ = _lcm(["summarize", DATA / "libreoffice_refs.hu.txt", "--src-lang", "hu"], tmp_path)
    _one_error_line(code, err)
    assert "--src-lang hu" in err and "--codec sonar" in err and out == ""


@pytest.mark.parametrize("case", ["empty", "binary", "unknown language", "--sentences 0", "longer than the input"])
def test_bad_input_is_one_error_line_from_the_real_process(tmp_path, case):
    """The same five cases as test_apps.test_app_bad_inputs, but the installed entry point on the shipped model:
    the whole stderr must be one line (no warning or traceback printed around it)."""
    doc = tmp_path / "doc.txt"
    doc.write_text(_text("libreoffice_refs.en.txt"), encoding="utf-8")
    args, pattern = {
        "empty": ([tmp_path / "empty.txt"], "is empty"),
        "binary": ([tmp_path / "image.txt"], "binary"),
        "unknown language": ([doc, "--src-lang", "xx"], "unknown or unsupported language code 'xx'"),
        "--sentences 0": ([doc, "--sentences", 0], "at least 1"),
        "longer than the input": ([doc, "--sentences", 32], "cannot be longer than its input: use --sentences 31 or less"),
    }[case]
    (tmp_path / "empty.txt").write_bytes(b"\n \n")
    (tmp_path / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    code, out, err, _ = _lcm(["summarize", *args], tmp_path)
    assert pattern in _one_error_line(code, err) and out == ""


@pytest.mark.slow
def test_long_document_memory_stays_flat_and_progress_is_shown(tmp_path):
    """Luke (WEB, 24.6k words, 1283 sentences) against its first 2k words: 5-line summary each, peak RSS measured
    per child. Measured 2026-11-23 (VmHWM): 629 MB (2k), 635 MB (24.6k), 658 MB (8 x Luke, 197k words); before
    WINDOW_BATCH, when all hierarchical windows went through generate() in one batch, 8 x Luke read 825 MB (rusage).
    Rich draws progress only on a terminal; TTY_COMPATIBLE/TTY_INTERACTIVE make it draw into the captured stderr."""
    luke = gzip.decompress((DATA / "web_luke.en.txt.gz").read_bytes()).decode("utf-8")
    assert len(luke.split()) > 20_000
    long_doc, short_doc = tmp_path / "luke.txt", tmp_path / "luke_2k.txt"
    long_doc.write_text(luke, encoding="utf-8")
    short_doc.write_text(" ".join(luke.split()[:2000]) + "\n", encoding="utf-8")
    code, out, err, short_mb = _lcm(["summarize", short_doc, "--sentences", 5], tmp_path)
    assert code == 0 and len(out.splitlines()) == 5, err
    code, out, err, long_mb = _lcm(["summarize", long_doc, "--sentences", 5], tmp_path, TTY_COMPATIBLE="1",
                                   TTY_INTERACTIVE="1")
    assert code == 0, err
    assert len(out.splitlines()) == 5 and all(line.strip() for line in out.splitlines()), out
    assert long_mb < 800 and long_mb < short_mb + 100, (short_mb, long_mb)
    n = len(segment(luke, "en"))
    assert f"summarizing luke ({n} sentences)" in err
    # Rich redraws ten times a second, so a stage shorter than that may never be drawn: only the long encoding stage
    # (seconds) is asserted here; every stage's callbacks are checked through the Python API below.
    assert re.search(rf"encoding \d+/{n}\b", err), err


class _RecordingCodec:
    """The weightless hashing codec at the shipped model's 512 dims, recording the size of every call."""

    def __init__(self):
        from encoders.retrieval import HashingCodec

        self.inner, self.encode_sizes, self.decode_sizes = HashingCodec(512), [], []
        self.name, self.dim, self.languages = "hashing", 512, self.inner.languages

    def encode(self, sentences, lang):
        self.encode_sizes.append(len(sentences))
        return self.inner.encode(sentences, lang)

    def decode(self, concepts, lang):
        self.decode_sizes.append(len(concepts))
        return self.inner.decode(concepts, lang)


def test_summarize_works_in_bounded_batches_and_reports_each_stage(monkeypatch):
    import lcm.apps.summarize
    from lcm.apps.summarize import DECODE_BATCH, ENCODE_BATCH, WINDOW_BATCH, summarize
    from lcm.model.shipped import PRETRAINED
    from lcm.model.io import load_model

    prompts_per_call, original_generate = [], lcm.apps.summarize.generate

    def recording_generate(model, prompts, cfg):
        prompts_per_call.append(len(prompts))
        return original_generate(model, prompts, cfg)

    monkeypatch.setattr(lcm.apps.summarize, "generate", recording_generate)
    codec = _RecordingCodec()
    model, _, _ = load_model(PRETRAINED / "base_lcm", codec)
    sentences = [f"Line {i} tells of the {w} by the river." for i, w in enumerate(["stone", "lantern", "bridge"] * 200)]
    events = []
    torch.manual_seed(0)
    summary = summarize(model, codec, sentences, "eng_Latn", "eng_Latn", 70,
                        progress=lambda stage, done, total: events.append((stage, done, total)))
    assert len(summary.sentences) == 70 and len(summary.alignment) == 70
    document_calls = codec.encode_sizes[:-1]  # the last call encodes the one-sentence summary separator
    assert sum(document_calls) == 600 and max(document_calls) <= ENCODE_BATCH and len(document_calls) == 3
    assert sum(codec.decode_sizes) == 70 and max(codec.decode_sizes) <= DECODE_BATCH
    assert prompts_per_call == [8, 3, 2, 1] and WINDOW_BATCH == 8  # 11 windows, then 2, then the summary itself
    stages = list(dict.fromkeys(stage for stage, _, _ in events))
    # 70 summary concepts leave 56-concept windows: 600 -> 11 windows -> 66 concepts -> a second pass of 2 windows.
    assert stages == ["encoding", "windows", "windows, pass 2", "summary", "decoding"], stages
    for stage in stages:
        progress = [(done, total) for s, done, total in events if s == stage]
        assert [d for d, _ in progress] == sorted({d for d, _ in progress}) and progress[-1][0] == progress[-1][1]
    assert [e for e in events if e[0] == "encoding"][-1] == ("encoding", 600, 600)
    assert [e for e in events if e[0] == "windows"][-1] == ("windows", 11, 11)
