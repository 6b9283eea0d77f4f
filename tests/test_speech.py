"""Speech in with the [speech] extra: real read speech (WER), sentence times, the segmenter, bad audio, streaming.

One tiny.en model is loaded for the module; every clip is a few seconds, so the whole file runs in seconds on CPU.
"""

import json
import tracemalloc
import wave
from pathlib import Path

import pytest

pytest.importorskip("faster_whisper")

import numpy as np  # noqa: E402

from encoders.errors import InputError  # noqa: E402
from encoders.speech import (AsrModel, AsrOptions, base_dir, load_model, probe, read_audio_sentences,  # noqa: E402
                             sentences, stream_windows, transcribe)
from encoders.speech.__main__ import main as speech_main  # noqa: E402
from encoders.speech.audio import SAMPLE_RATE, decode_chunks, quiet_cut  # noqa: E402
from encoders.speech.transcribe import whisper_language  # noqa: E402
from encoders.speech.wer import edit_distance, normalize, wer  # noqa: E402

DATA = Path(__file__).parent / "data" / "speech"
ROWS = [dict(zip(("file", "lang", "kind", "text"), line.split("\t")))
        for line in (DATA / "transcripts.tsv").read_text(encoding="utf-8").splitlines()[1:]]
REAL = [row for row in ROWS if row["kind"] == "real"]
MR_SMITH = "espeak_en_mr_smith.ogg"


@pytest.fixture(scope="module")
def asr():
    return load_model("tiny.en")


@pytest.fixture(scope="module")
def transcripts(asr):
    return {row["file"]: transcribe(DATA / row["file"], model=asr) for row in REAL + [{"file": MR_SMITH}]}


def write_wav(path: Path, pieces: "list[np.ndarray]") -> Path:
    """16 kHz mono 16-bit WAV of float pieces in [-1, 1], written one after another."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1), out.setsampwidth(2), out.setframerate(SAMPLE_RATE)
        for piece in pieces:
            out.writeframes((np.clip(piece, -1, 1) * 32767).astype(np.int16).tobytes())
    return path


def samples(name: str) -> np.ndarray:
    return np.concatenate(list(decode_chunks(DATA / name)))


def test_real_read_speech_is_recognised(transcripts):
    errors = words = 0
    for row in REAL:
        ref, hyp = normalize(row["text"]), normalize(transcripts[row["file"]].text)
        errors, words = errors + edit_distance(ref, hyp), words + len(ref)
        assert edit_distance(ref, hyp) / len(ref) <= 0.3, (row["file"], transcripts[row["file"]].text)
    assert errors / words <= 0.12  # measured 2/39 = 5.1% ("ill disposed" heard as "old-sposed")


def test_transcript_carries_language_duration_and_ordered_word_times(transcripts):
    for row in REAL:
        t = transcripts[row["file"]]
        info = probe(DATA / row["file"])
        assert (t.language, t.language_probability, t.model) == ("en", 1.0, "tiny.en")
        assert abs(t.duration - info.duration) < 0.05
        starts = [w.start for w in t.words]
        assert starts == sorted(starts) and all(0 <= w.start <= w.end <= t.duration for w in t.words)
        assert t.text == "".join(w.text for w in t.words).strip()


def test_sentences_have_monotonic_times_inside_the_clip(transcripts):
    for name, t in transcripts.items():
        timed = sentences(t)
        assert timed, name
        assert all(0 <= s.start <= s.end <= t.duration for s in timed)
        assert all(a.start <= b.start and a.end <= b.start + 1e-6 for a, b in zip(timed, timed[1:]))
        assert "".join(s.text for s in timed).replace(" ", "") == t.text.replace(" ", "")  # nothing lost


def test_the_toolkit_segmenter_keeps_mr_smith_whole(transcripts):
    t = transcripts[MR_SMITH]
    assert wer(next(r["text"] for r in ROWS if r["file"] == MR_SMITH), t.text) <= 0.1
    timed = sentences(t)
    assert [s.text.split()[:2] for s in timed] == [["Mr.", "Smith"], ["He", "met"], ["They", "talked"]]
    assert "Dr. Jones" in timed[1].text
    assert timed[0].end < timed[1].start < timed[1].end < timed[2].start  # espeak pauses between sentences


def test_read_audio_sentences_and_progress(asr):
    seen = []
    timed, lang = read_audio_sentences(DATA / "librivox_0930.flac", model=asr,
                                       progress=lambda done, total: seen.append((done, total)))
    assert lang == "en" and [s.text for s in timed] == ["He might even have been made amiable himself."]
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and seen[-1][0] == pytest.approx(3.29, abs=0.01)
    assert all(total == pytest.approx(3.29, abs=0.01) for _, total in seen)


def test_any_rate_and_channel_count_is_resampled(asr, transcripts, tmp_path):
    """The same clip as 44.1 kHz stereo gives the same words (the decoder resamples and downmixes)."""
    mono = samples("librivox_0930.flac")
    t44 = np.arange(int(len(mono) * 44100 / SAMPLE_RATE)) * SAMPLE_RATE / 44100
    resampled = np.interp(t44, np.arange(len(mono)), mono)
    stereo = (np.clip(np.stack([resampled, resampled], axis=1), -1, 1) * 32767).astype(np.int16)
    with wave.open(str(tmp_path / "cd.wav"), "wb") as out:
        out.setnchannels(2), out.setsampwidth(2), out.setframerate(44100)
        out.writeframes(stereo.tobytes())
    t = transcribe(tmp_path / "cd.wav", model=asr)
    assert normalize(t.text) == normalize(transcripts["librivox_0930.flac"].text)
    assert t.duration == pytest.approx(3.29, abs=0.01)


def test_windows_join_with_file_times(asr, tmp_path):
    """Speech, 40 s of silence, speech: with 20-s windows the second clip's words keep their place in the file."""
    first, second = samples("librivox_0930.flac"), samples("librivox_0880.flac")
    path = write_wav(tmp_path / "long.wav", [first, np.zeros(40 * SAMPLE_RATE, np.float32), second])
    t = transcribe(path, model=asr, options=AsrOptions(window_s=20))
    total = (len(first) + len(second)) / SAMPLE_RATE + 40
    assert t.duration == pytest.approx(total, abs=0.01)
    later = [w for w in t.words if w.start > len(first) / SAMPLE_RATE + 39]
    assert normalize("".join(w.text for w in later))[:3] == ["he", "was", "not"]
    assert wer("he might even have been made amiable himself he was not an ill disposed young man", t.text) <= 0.2
    assert len(sentences(t)) == 2


def test_decoding_streams_in_bounded_windows(tmp_path):
    """6 minutes of sound (23 MB as float32) stream through in 10-s windows with a few MB of memory."""
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(SAMPLE_RATE * 60) / SAMPLE_RATE)).astype(np.float32)
    path = write_wav(tmp_path / "six_minutes.wav", [tone] * 6)
    tracemalloc.start()
    lengths = [len(audio) for _, audio in stream_windows(path, window_s=10)]
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert sum(lengths) == 6 * 60 * SAMPLE_RATE and max(lengths) <= 10 * SAMPLE_RATE
    assert peak < 6 * 2**20, f"peak {peak / 2**20:.1f} MiB"


def test_windows_are_cut_in_the_quiet():
    audio = np.full(20 * SAMPLE_RATE, 0.5, np.float32)
    audio[17 * SAMPLE_RATE: 17 * SAMPLE_RATE + 3200] = 0  # 0.2 s pause, 3 s before the window's end
    cut = quiet_cut(audio, search=10 * SAMPLE_RATE)
    assert 17 * SAMPLE_RATE <= cut <= 17 * SAMPLE_RATE + 3200


def bad_files(tmp_path: Path) -> "dict[str, tuple[Path, str]]":
    clip = (DATA / "librivox_0870.flac").read_bytes()
    whole = write_wav(tmp_path / "whole.wav", [samples("librivox_0870.flac")]).read_bytes()
    made = {
        "text": ("notes.wav", "hello, this is not a recording\n".encode(), "is a text file, despite its .wav name"),
        "empty": ("empty.wav", b"", "is empty (0 bytes)"),
        "truncated wav": ("cut.wav", whole[: len(whole) // 3], "is truncated: its header promises 7.1 s"),
        "truncated flac": ("cut.flac", clip[: len(clip) // 3], "is truncated: its header promises 7.1 s"),
        "binary junk": ("junk.ogg", bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8)),
                        "cannot be decoded as audio: it is damaged"),
        "unsupported": ("talk.doc", b"\xd0\xcf\x11\xe0", "unsupported audio format '.doc'"),
    }
    out = {}
    for case, (name, data, message) in made.items():
        (tmp_path / name).write_bytes(data)
        out[case] = (tmp_path / name, message)
    out["zero seconds"] = (write_wav(tmp_path / "zero.wav", []), "holds 0 seconds of audio")
    out["silence"] = (write_wav(tmp_path / "quiet.wav", [np.zeros(3 * SAMPLE_RATE, np.float32)]),
                      "no speech heard in")
    out["missing"] = (tmp_path / "nowhere.mp3", "audio file not found")
    out["folder"] = (tmp_path, "is a folder")
    return out


def test_bad_audio_gives_one_clear_input_error(asr, tmp_path):
    for case, (path, message) in bad_files(tmp_path).items():
        with pytest.raises(InputError) as err:
            transcribe(path, model=asr)
        assert message in str(err.value), (case, str(err.value))
        assert "\n" not in str(err.value)


def test_english_only_model_refuses_other_languages(asr):
    assert whisper_language(None, asr) == "en" and whisper_language("eng_Latn", asr) == "en"
    with pytest.raises(InputError, match="English only.*install-base"):
        transcribe(DATA / "espeak_de.ogg", model=asr, language="de")


class FakeWhisper:
    """Stands in for a multilingual model: silence in the first window, German after; records the language asked."""

    supported_languages = ["en", "de", "fr"]

    def __init__(self):
        self.asked = []

    def transcribe(self, audio, language=None, **options):
        from types import SimpleNamespace as NS

        self.asked.append(language)
        found = NS(language="de", language_probability=0.87)
        if len(self.asked) == 1:
            return iter([]), found
        words = [NS(word=w, start=s, end=s + 0.4, probability=0.9) for w, s in ((" Herr", 0.1), (" Dr.", 0.6),
                                                                                   (" Meier", 1.1), (" kommt.", 1.6))]
        return iter([NS(text="".join(w.word for w in words), start=0.1, end=2.0, words=words)]), found


def test_language_detected_in_the_first_window_with_speech_is_kept(tmp_path):
    fake = FakeWhisper()
    model = AsrModel("fake", tmp_path, fake, multilingual=True)
    path = write_wav(tmp_path / "ten.wav", [np.zeros(10 * SAMPLE_RATE, np.float32)])
    t = transcribe(path, model=model, options=AsrOptions(window_s=4, vad=False))
    assert fake.asked == [None, None, "de"]  # detect until speech is heard, then keep German
    assert (t.language, t.language_probability) == ("de", 0.87)
    assert [s.text for s in sentences(t)] == ["Herr Dr. Meier kommt.", "Herr Dr. Meier kommt."]
    assert whisper_language("fra_Latn", model) == "fr"
    with pytest.raises(InputError, match="does not know the language 'xx'"):
        whisper_language("xx", model)


@pytest.mark.skipif(not (base_dir() / "model.bin").is_file(), reason="multilingual base model not installed")
def test_base_model_detects_the_language_of_synthetic_speech():
    for name, lang in (("espeak_de.ogg", "de"), ("espeak_fr.ogg", "fr")):
        assert transcribe(DATA / name, model="base").language == lang, name


def test_module_cli_prints_json_and_errors(asr, tmp_path, capsys):
    assert speech_main(["transcribe", "-q", "--json", str(DATA / "librivox_0880.flac")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["language"] == "en" and out["sentences"][0]["start"] == 0.0 and len(out["sentences"]) == 1
    (tmp_path / "empty.flac").write_bytes(b"")
    assert speech_main(["transcribe", "-q", str(tmp_path / "empty.flac")]) == 2
    assert capsys.readouterr().err.startswith("error: ")
