"""Audio through the `lcm` command line: `lcm transcribe`, audio into encode / summarize (a talk, a mixed folder),
the language Whisper heard, bad audio (one error line, nothing written), and a talk summarized into French offline.

The recordings are the real LibriVox fixtures in tests/data/speech (3-7 s each); tiny.en is loaded once per process.
"""

import importlib
import json
import os
import re
import subprocess
import sys
import wave
from pathlib import Path
from types import SimpleNamespace as NS

import pytest

pytest.importorskip("faster_whisper")

import numpy as np  # noqa: E402

from encoders.speech import AsrModel, read_audio_sentences  # noqa: E402
from encoders.speech.audio import SAMPLE_RATE, decode_chunks  # noqa: E402
from encoders.speech.wer import wer  # noqa: E402
from lcm.cli import main  # noqa: E402
from lcm.data import audio_input  # noqa: E402
from tests.test_embedded_default import needs_models, run_offline  # noqa: E402
from tests.test_speech import bad_files, write_wav  # noqa: E402

DATA = Path(__file__).parent / "data" / "speech"
CLIPS = ("librivox_0870.flac", "librivox_0880.flac", "librivox_0930.flac")
SPOKEN = dict(line.split("\t")[::3] for line in (DATA / "transcripts.tsv").read_text(encoding="utf-8").splitlines()[1:])
NOTE = "note: audio transcribed with Whisper tiny.en (cascade: speech -> text -> concepts)"
TALK_SECONDS = 14.88  # the three clips with 0.5 s of silence after each


def run_cli(*args) -> int:
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def talk(tmp_path_factory) -> Path:
    """A 15-second talk: the three LibriVox clips (three sentences of Sense and Sensibility) joined with pauses."""
    pieces = []
    for clip in CLIPS:
        pieces += [np.concatenate(list(decode_chunks(DATA / clip))), np.zeros(SAMPLE_RATE // 2, np.float32)]
    return write_wav(tmp_path_factory.mktemp("talk") / "talk.wav", pieces)


def test_transcribe_json_words_times_and_model(capsys):
    assert run_cli("transcribe", DATA / CLIPS[0], "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["language"], out["model"]) == ("en", "tiny.en")
    assert out["duration"] == pytest.approx(7.1, abs=0.1)
    assert wer(SPOKEN[CLIPS[0]], " ".join(s["text"] for s in out["sentences"])) <= 0.15
    times = [t for s in out["sentences"] for t in (s["start"], s["end"])]
    assert times == sorted(times) and 0 <= times[0] and times[-1] <= out["duration"]


def test_transcribe_prints_timed_sentences_split_by_the_toolkit(capsys):
    assert run_cli("transcribe", DATA / "espeak_en_mr_smith.ogg") == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(re.match(r"\[\d\d:\d\d\.\d - \d\d:\d\d\.\d\] \S", line) for line in lines), lines
    assert lines[0].startswith("[00:00.0 - ") and "] Mr. Smith went" in lines[0] and "Dr. Jones" in lines[1]


def test_clock_past_an_hour():
    assert (audio_input.clock(4.84), audio_input.clock(61.2), audio_input.clock(3723.4)) == (
        "00:04.8", "01:01.2", "1:02:03.4")


def test_encode_a_clip_writes_one_document_of_its_sentences(tmp_path, capsys):
    from lcm.data.shards import read_shard

    assert run_cli("encode", DATA / CLIPS[0], "-o", tmp_path / "shards", "--codec", "hashing", "--codec-opt", "dim=64") == 0
    assert NOTE in capsys.readouterr().err
    (doc,) = list(read_shard(tmp_path / "shards" / "shard_00000.parquet"))
    timed, lang = read_audio_sentences(DATA / CLIPS[0])
    assert (doc.doc_id, doc.lang, doc.sentences) == (CLIPS[0], "eng_Latn", [s.text for s in timed])
    assert doc.concepts.shape == (len(timed), 64)


class GermanWhisper:
    """A multilingual recogniser that hears German in anything: shows that Whisper's language reaches the documents."""

    supported_languages = ["en", "de"]

    def transcribe(self, audio, language=None, **options):
        words = [NS(word=w, start=s, end=s + 0.4, probability=0.9) for w, s in ((" Der", 0.1), (" Zug", 0.6),
                                                                                   (" fährt.", 1.1))]
        return iter([NS(text=" Der Zug fährt.", start=0.1, end=1.5, words=words)]), NS(language="de",
                                                                                    language_probability=0.9)


def test_the_language_whisper_heard_goes_with_the_document(tmp_path, monkeypatch, capsys):
    from lcm.data.shards import read_shard

    fake = AsrModel("fake-de", tmp_path, GermanWhisper(), multilingual=True)
    module = importlib.import_module("encoders.speech.transcribe")  # the module: the package's name is the function
    monkeypatch.setattr(module, "load_model", lambda model, threads: fake)
    clip = write_wav(tmp_path / "zug.wav", [np.zeros(2 * SAMPLE_RATE, np.float32)])
    assert run_cli("encode", clip, "-o", tmp_path / "shards", "--codec", "hashing", "--asr-model", "fake") == 0
    assert "Whisper fake-de" in capsys.readouterr().err
    (doc,) = list(read_shard(tmp_path / "shards" / "shard_00000.parquet"))
    assert (doc.lang, doc.sentences) == ("deu_Latn", ["Der Zug fährt."])
    assert audio_input.heard_language("Der Zug fährt.") == "de"  # what `--src-lang auto` takes for audio
    assert audio_input.heard_language("Der Zug fährt nicht.") is None


@pytest.mark.parametrize("command", ["encode", "summarize"])
def test_bad_audio_is_one_error_line_and_nothing_written(tmp_path, capsys, command):
    (tmp_path / "bad").mkdir()
    cases = {case: found for case, found in bad_files(tmp_path / "bad").items() if case != "folder"}
    (tmp_path / "bad" / "talk.pcm").write_bytes(bytes(3200))  # samples with no header: rate and format unknown
    cases["unsupported"] = (tmp_path / "bad" / "talk.pcm", "is headerless PCM")
    for case, (path, message) in cases.items():
        out = tmp_path / f"out_{case.replace(' ', '_')}"
        args = ["encode", path, "-o", out, "--codec", "hashing"] if command == "encode" else ["summarize", path]
        assert run_cli(*args) == 2, case
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "\n" not in err and message in err, (case, err)
        assert not out.exists(), case


@needs_models
def test_a_mixed_folder_is_summarized_text_and_audio(tmp_path, capsys):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "clip.flac").write_bytes((DATA / CLIPS[0]).read_bytes())
    (folder / "notes.txt").write_text("The river was cold. The bridge was old. We walked home at night.\n")
    (folder / "more.jsonl").write_text(json.dumps({"id": "row", "text": "It rained. The roads were wet."}) + "\n")
    assert run_cli("summarize", folder, "--sentences", "1", "--json", "--extractive") == 0
    captured = capsys.readouterr()
    rows = {row["document"]: row for row in map(json.loads, captured.out.splitlines())}
    assert set(rows) == {"clip.flac", "notes", "row"} and NOTE in captured.err
    spoken = rows["clip.flac"]["alignment"][0]
    assert rows["clip.flac"]["summary"][0].startswith("And Mr. John Dashwood")
    assert spoken["start"] == 0.0 and 6.5 < spoken["end"] <= 7.2
    assert "start" not in rows["notes"]["alignment"][0]


@needs_models
def test_a_talk_is_summarized_into_french_offline(talk):
    """`lcm summarize talk.wav --tgt-lang fr --sentences 2` with no network, no environment, a fresh process."""
    out = run_offline("summarize", str(talk), "--tgt-lang", "fr", "--sentences", "2", "--json")
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip() == NOTE
    result = json.loads(out.stdout)
    assert result["document"] == "talk.wav" and len(result["summary"]) == 2
    french = " ".join(result["summary"]).lower().replace("'", " ").split()
    assert sum(w in french for w in ("le", "la", "les", "de", "des", "et", "il", "un", "une", "à", "d", "l")) >= 2
    timed, _ = read_audio_sentences(talk)
    assert len(timed) == 3
    for entry in result["alignment"]:
        best = timed[entry["closest_input_sentences"][0]]
        assert (entry["start"], entry["end"]) == (best.start, best.end)
        assert 0 <= entry["start"] < entry["end"] <= TALK_SECONDS


def test_help_and_light_import():
    from lcm.cli import build_parser

    parser = build_parser()
    assert "lcm transcribe talk.mp3" in parser.format_help()
    for command in ("encode", "summarize", "generate", "story", "infill", "xling"):
        text = parser._subparsers._group_actions[0].choices[command].format_help()
        assert "--asr-model" in text and "direct route" in text, command
    code = "import sys, lcm, lcm.cli, lcm.data.documents; print(sorted({'faster_whisper', 'av'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=os.path.dirname(os.path.dirname(__file__)))
    assert done.stdout.strip() == "[]"
