"""The SONAR codec on tiny local models: round trip, options, languages, speech, and every user-facing error."""

import wave
from pathlib import Path

import numpy as np
import pytest
import torch

from encoders.base import ConceptCodec
from encoders.errors import InputError
from encoders.base import check_concepts
from encoders.sonar_codec import load_sonar_codec


def test_round_trip_decodes_the_training_sentences(tiny_sonar, codec):
    assert isinstance(codec, ConceptCodec)
    assert codec.dim == tiny_sonar.dim
    concepts = codec.encode(tiny_sonar.sentences, "eng_Latn")
    assert concepts.shape == (len(tiny_sonar.sentences), tiny_sonar.dim)
    assert concepts.dtype == torch.float32
    assert codec.decode(concepts, "en") == tiny_sonar.sentences  # 'en' style codes work too


def test_encoding_does_not_depend_on_the_batch(tiny_sonar, codec):
    batch = codec.encode(tiny_sonar.sentences, "eng_Latn")  # sorted by length and padded inside SONAR
    alone = torch.cat([codec.encode([s], "eng_Latn") for s in tiny_sonar.sentences])
    torch.testing.assert_close(batch, alone, atol=1e-5, rtol=1e-5)
    assert codec.encode([], "eng_Latn").shape == (0, tiny_sonar.dim)


def test_card_path_loads_the_same_model_as_card_name(tiny_sonar, codec):
    by_path = load_sonar_codec(encoder=str(tiny_sonar.asset_dir / "tiny_sonar_encoder.yaml"), decoder=None)
    sentences = tiny_sonar.sentences[:3]
    assert torch.equal(by_path.encode(sentences, "eng_Latn"), codec.encode(sentences, "eng_Latn"))
    with pytest.raises(InputError, match="without a decoder"):
        by_path.decode(torch.zeros(1, tiny_sonar.dim), "eng_Latn")


def test_local_card_on_top_of_a_named_card(tiny_sonar, codec, tmp_path):
    """The README's recipe for SONAR weights copied by hand: `base:` a known card, `checkpoint:` a local file."""
    card = tmp_path / "child.yaml"
    # fairseq2 resolves relative paths, inherited ones too, against the child's folder: give both files absolutely.
    card.write_text(f"name: tiny_child\nbase: {tiny_sonar.encoder}\n"
                    f"checkpoint: {tiny_sonar.asset_dir / 'tiny_sonar_encoder.pt'}\n"
                    f"tokenizer: {tiny_sonar.asset_dir / 'tiny_spm.model'}\n", encoding="utf-8")
    child = load_sonar_codec(encoder=str(card), decoder=tiny_sonar.decoder)
    assert child.languages == codec.languages
    concepts = child.encode(tiny_sonar.sentences, "eng_Latn")
    torch.testing.assert_close(concepts, codec.encode(tiny_sonar.sentences, "eng_Latn"))
    assert child.decode(concepts, "eng_Latn") == tiny_sonar.sentences


def test_max_len_and_beam_size_reach_the_generator(tiny_sonar, codec):
    concepts = codec.encode(tiny_sonar.sentences, "eng_Latn")
    short = load_sonar_codec(encoder=tiny_sonar.encoder, decoder=tiny_sonar.decoder, beam_size="1", max_len="2")
    assert short.config.beam_size == 1 and short.config.max_len == 2  # CLI passes strings
    truncated = short.decode(concepts, "eng_Latn")
    assert len(truncated) == len(tiny_sonar.sentences)
    assert all(len(t) < len(s) for t, s in zip(truncated, tiny_sonar.sentences))
    greedy = load_sonar_codec(encoder=tiny_sonar.encoder, decoder=tiny_sonar.decoder, beam_size=1)
    assert greedy.decode(concepts, "eng_Latn") == tiny_sonar.sentences


def test_a_separate_tokenizer_card_serves_both_sides(tiny_sonar, codec):
    shared = load_sonar_codec(encoder=tiny_sonar.encoder, decoder=tiny_sonar.decoder, tokenizer=tiny_sonar.decoder)
    concepts = shared.encode(tiny_sonar.sentences, "eng_Latn")
    torch.testing.assert_close(concepts, codec.encode(tiny_sonar.sentences, "eng_Latn"))
    assert shared.decode(concepts, "eng_Latn") == tiny_sonar.sentences
    with pytest.raises(InputError, match="no SONAR tokenizer asset card named 'nope'"):
        load_sonar_codec(encoder=tiny_sonar.encoder, tokenizer="nope")


def test_languages_are_sonars_narrowed_to_the_tokenizer(codec):
    assert codec.languages == frozenset({"eng_Latn", "fra_Latn"})
    with pytest.raises(InputError, match="unsupported language"):
        codec.encode(["Hello."], "xx_Yyyy")
    with pytest.raises(InputError, match="unsupported language"):  # a SONAR language this tiny tokenizer lacks
        codec.decode(torch.zeros(1, codec.dim), "deu_Latn")
    assert len(codec.decode(torch.zeros(1, codec.dim), "fr")) == 1


def test_concepts_of_the_wrong_size_are_refused(codec):
    with pytest.raises(InputError, match=r"expects \(N, 64\)"):
        codec.decode(torch.zeros(2, codec.dim + 1), "eng_Latn")
    with pytest.raises(InputError):
        check_concepts(torch.zeros(codec.dim), codec.dim)
    check_concepts(torch.zeros(3, codec.dim), codec.dim)  # the right shape passes


def test_missing_card_is_one_clear_error(tiny_sonar):
    with pytest.raises(InputError, match="no SONAR encoder asset card named 'no_such_card'.*FAIRSEQ2_USER_ASSET_DIR"):
        load_sonar_codec(encoder="no_such_card", decoder=tiny_sonar.decoder)
    with pytest.raises(InputError, match="does not exist"):
        load_sonar_codec(encoder=str(tiny_sonar.asset_dir / "missing.yaml"))


def _write_card(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_weights_that_cannot_be_downloaded_give_one_clear_error(tiny_sonar, tmp_path):
    base = (tiny_sonar.asset_dir / "tiny_sonar_encoder.yaml").read_text(encoding="utf-8")
    unreachable = base.replace("checkpoint: tiny_sonar_encoder.pt", "checkpoint: http://127.0.0.1:9/encoder.pt")
    spm = tiny_sonar.asset_dir / "tiny_spm.model"
    unreachable = unreachable.replace("tokenizer: tiny_spm.model", f"tokenizer: {spm}")
    codec = load_sonar_codec(encoder=_write_card(tmp_path / "unreachable.yaml", unreachable), decoder=None)
    download_failed = r"cannot load the SONAR encoder .*Download of http://127\.0\.0\.1:9/encoder\.pt failed"
    with pytest.raises(InputError, match=download_failed):
        codec.encode(["The cat sat on the mat."], "eng_Latn")
    missing = base.replace("checkpoint: tiny_sonar_encoder.pt", "checkpoint: no_such_file.pt")
    codec = load_sonar_codec(encoder=_write_card(tmp_path / "missing_ckpt.yaml", missing), decoder=None)
    with pytest.raises(InputError, match="cannot load the SONAR encoder"):
        codec.encode(["The cat sat on the mat."], "eng_Latn")


def test_encoder_decoder_size_mismatch_is_refused_at_load(tiny_sonar, tmp_path):
    card = (tiny_sonar.asset_dir / "tiny_sonar_decoder.yaml").read_text(encoding="utf-8")
    narrow = card.replace(f"model_dim: {tiny_sonar.dim}", "model_dim: 32")
    narrow = narrow.replace("name: tiny_sonar_decoder", "name: narrow")
    with pytest.raises(InputError, match="makes 64-d concepts but decoder .* reads 32-d"):
        load_sonar_codec(encoder=tiny_sonar.encoder, decoder=_write_card(tmp_path / "narrow.yaml", narrow))
    with pytest.raises(InputError, match="SONAR card problem"):  # a decoder card where the encoder goes
        load_sonar_codec(encoder=tiny_sonar.decoder, decoder=None)


def test_bad_options_are_refused(tiny_sonar):
    with pytest.raises(InputError, match="beam_size must be a whole number"):
        load_sonar_codec(encoder=tiny_sonar.encoder, beam_size="wide")
    with pytest.raises(InputError, match="unknown SONAR option"):
        load_sonar_codec(encoder=tiny_sonar.encoder, beem_size=3)


def _tone(path: Path, rate: int, channels: int, seconds: float = 0.5, hz: float = 440.0, noise: float = 1e-3) -> Path:
    """A sine with a little noise: a noiseless tone leaves some filterbank channels constant, which SONAR cannot use."""
    t = np.arange(int(seconds * rate)) / rate
    wave_form = 0.3 * np.sin(2 * np.pi * hz * t) + noise * np.random.default_rng(0).standard_normal(len(t))
    samples = (wave_form * 32767).astype("<i2")  # (T,)
    frames = np.repeat(samples[:, None], channels, axis=1)  # (T, C)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames.tobytes())
    return path


def test_speech_goes_through_sonars_speech_pipeline(tiny_sonar, codec, tmp_path):
    tone = _tone(tmp_path / "tone_16k.wav", 16000, 1)
    concepts = codec.encode_speech([tone], "eng_Latn")
    assert concepts.shape == (1, tiny_sonar.dim) and concepts.dtype == torch.float32
    assert torch.isfinite(concepts).all()
    stereo_22k = _tone(tmp_path / "tone_22k.wav", 22050, 2)  # resampled and downmixed before SONAR sees it
    both = codec.encode_speech([tone, stereo_22k], "en")
    assert both.shape == (2, tiny_sonar.dim)
    torch.testing.assert_close(both[:1], concepts, atol=1e-5, rtol=1e-5)
    other = codec.encode_speech([_tone(tmp_path / "tone_880.wav", 16000, 1, hz=880.0)], "en")
    assert not torch.allclose(other, concepts)  # the output depends on the audio
    longer = _tone(tmp_path / "tone_300.wav", 16000, 1, seconds=1.3, hz=300.0)
    padded = codec.encode_speech([tone, longer], "en")  # the short one is padded inside SONAR's batch
    alone = torch.cat([concepts, codec.encode_speech([longer], "en")])
    assert torch.isfinite(padded).all()
    torch.testing.assert_close(padded, alone, atol=1e-4, rtol=1e-4)


def test_speech_errors(tiny_sonar, codec, tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        codec.encode_speech([tmp_path / "nothing.wav"], "eng_Latn")
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("not audio", encoding="utf-8")
    with pytest.raises(InputError, match="cannot read audio"):
        codec.encode_speech([not_audio], "eng_Latn")
    silent = _tone(tmp_path / "silent.wav", 16000, 1, hz=0.0, noise=0.0)
    with pytest.raises(InputError, match="non-finite concepts for .*silent.wav"):
        codec.encode_speech([silent], "eng_Latn")
    default_cards = load_sonar_codec(encoder=tiny_sonar.encoder, decoder=None)
    with pytest.raises(InputError, match="no speech encoder for 'ace_Latn'"):
        default_cards.encode_speech([_tone(tmp_path / "a.wav", 16000, 1)], "ace_Latn")


def test_default_cards_are_sonars_own_and_resolve_without_downloading(tiny_sonar):
    from encoders.sonar_langs import SONAR_TEXT_LANGS

    real = load_sonar_codec()  # text_sonar_basic_encoder/decoder: only the cards are read until the first encode
    assert real.dim == 1024
    assert real.languages == SONAR_TEXT_LANGS and len(SONAR_TEXT_LANGS) == 202
    with pytest.raises(InputError, match=r"unsupported language code 'xx' for the SONAR codec.*eng_Latn") as err:
        real.encode(["Hello."], "xx")
    assert len(str(err.value)) < 300  # not a list of 202 codes
