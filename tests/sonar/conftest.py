"""Tiny, randomly initialised SONAR models built with sonar's own factories, saved as local fairseq2 asset cards.

Nothing is downloaded: a SentencePiece model is trained on a few sentences, a text encoder (SONAR's `basic` arch,
shrunk) and decoder (`toy` arch) are trained together as an auto-encoder for a few seconds, and a speech encoder
(the `english` arch, shrunk) keeps its random weights. The cards go in FAIRSEQ2_USER_ASSET_DIR, so the tests load
them by name through `load_sonar_codec`, the same path users take. These tests run only in the sonar lane
(.ci/sonar_lane.sh); the core lane ignores this folder.
"""

import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

SENTENCES = [
    "The cat sat on the mat.", "A dog runs in the park.", "I like green tea.", "The sun is hot today.",
    "We read a book.", "She plays the piano.", "Birds sing in the morning.", "He drinks cold water.",
]
LANGS = ["eng_Latn", "fra_Latn"]
DIM = 64


def pytest_configure(config):
    # fairseq2 0.8.1 warns about its own deprecated API while sonar registers its models; nothing for us to fix.
    config.addinivalue_line("filterwarnings", "ignore:`hg_exporter` is deprecated:DeprecationWarning")


@dataclass
class TinySonar:
    """Where the tiny models live and what they were trained on."""

    asset_dir: Path
    encoder: str
    decoder: str
    speech_encoder: str
    sentences: list[str]
    dim: int
    train_steps: int
    train_seconds: float
    final_loss: float


def _require_sonar() -> None:
    try:
        import fairseq2  # noqa: F401
        import sonar  # noqa: F401
    except Exception as err:  # not a skip: in the sonar lane these tests must run
        pytest.fail(f"tests/sonar need the [sonar] venv (fairseq2 + sonar-space) and failed to import them ({err}); "
                    "run .ci/sonar_lane.sh, or `pytest --ignore=tests/sonar` in the core venv", pytrace=False)


def _cards(vocab_size: int) -> dict[str, str]:
    """The card YAMLs, one file each. `model_config` overrides the named arch field by field."""
    vocab = f"{{size: {vocab_size}, unk_idx: 1, bos_idx: 2, eos_idx: 3, pad_idx: 0}}"
    tokenizer = (f"tokenizer: tiny_spm.model\ntokenizer_family: nllb\n"
                 f"tokenizer_config:\n  default_lang: eng_Latn\n  langs: [{', '.join(LANGS)}]\n")
    return {
        "tiny_sonar_encoder": (
            "name: tiny_sonar_encoder\nmodel_family: transformer_encoder\nmodel_arch: basic\n"
            f"model_config:\n  model_dim: {DIM}\n  num_encoder_layers: 2\n  num_encoder_attn_heads: 4\n"
            f"  ffn_inner_dim: 128\n  max_seq_len: 64\n  vocab_info: {vocab}\n"
            "checkpoint: tiny_sonar_encoder.pt\n" + tokenizer),
        "tiny_sonar_decoder": (
            "name: tiny_sonar_decoder\nmodel_family: transformer_decoder\nmodel_arch: toy\n"
            f"model_config:\n  model_dim: {DIM}\n  max_seq_len: 64\n  vocab_info: {vocab}\n"
            "checkpoint: tiny_sonar_decoder.pt\n" + tokenizer),
        "tiny_sonar_speech": (
            "name: tiny_sonar_speech\nmodel_family: sonar_speech\nmodel_arch: english\n"
            f"model_config:\n  model_dim: {DIM}\n  num_decoder_layers: 1\n  num_decoder_attn_heads: 2\n"
            "  ffn_inner_dim: 64\n  max_seq_len: 64\n"
            f"  w2v2_encoder_config:\n    model_dim: {DIM}\n    num_encoder_layers: 1\n    num_encoder_attn_heads: 2\n"
            "    ffn_inner_dim: 64\n    depthwise_conv_kernel_size: 3\n"
            "checkpoint: tiny_sonar_speech.pt\n"),
    }


def _pad(seqs, pad_idx):
    import torch

    lens = [len(s) for s in seqs]
    batch = torch.full((len(seqs), max(lens)), pad_idx, dtype=torch.long)  # (B, S)
    for row, seq in enumerate(seqs):
        batch[row, : len(seq)] = seq
    return batch, lens


def _train_autoencoder(encoder, decoder, tokenizer, sentences, max_seconds=90.0):
    """Teacher-forced auto-encoding, as SONAR trains: text -> encoder -> pooled concept -> decoder -> same text.

    Stops once, with dropout off, every next token is the argmax (so greedy decoding gives the text back) and the
    loss is under 0.005 (confident enough that beam search agrees; at 0.05 a beam of 2 cut a sentence short).
    """
    import torch
    from fairseq2.nn import BatchLayout
    from sonar.models.sonar_translation.model import SonarEncoderDecoderModel

    pad = tokenizer.vocab_info.pad_idx
    source, source_lens = _pad([tokenizer.create_encoder(lang="eng_Latn", mode="source")(s) for s in sentences], pad)
    target, target_lens = _pad([tokenizer.create_encoder(lang="eng_Latn", mode="target")(s) for s in sentences], pad)
    inputs, labels = target[:, :-1], target[:, 1:]  # (B, T-1): predict token t+1 from tokens <= t
    input_lens = [n - 1 for n in target_lens]
    model = SonarEncoderDecoderModel(encoder, decoder)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)

    def step(train: bool):
        model.train(train)
        logits = model(source, BatchLayout.of(source, source_lens), inputs, BatchLayout.of(inputs, input_lens))
        loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels, ignore_index=pad)  # (B, V, T)
        return logits, loss

    start, steps, eval_loss = time.monotonic(), 0, torch.tensor(float("inf"))
    while time.monotonic() - start < max_seconds:
        _, loss = step(train=True)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        steps += 1
        if steps % 25 == 0:
            with torch.no_grad():
                logits, eval_loss = step(train=False)
            if bool((logits.argmax(-1) == labels)[labels != pad].all()) and eval_loss.item() < 0.005:
                break
    model.eval()
    return steps, time.monotonic() - start, eval_loss.item()


@pytest.fixture(scope="session")
def tiny_sonar(tmp_path_factory) -> TinySonar:
    _require_sonar()
    import fairseq2.runtime.dependency

    assert fairseq2.runtime.dependency._resolver is None, "fairseq2 was initialised before the test cards were written"
    asset_dir = tmp_path_factory.mktemp("sonar_assets")
    os.environ["FAIRSEQ2_USER_ASSET_DIR"] = str(asset_dir)  # read once, when fairseq2 initialises below
    os.environ["FAIRSEQ2_CACHE_DIR"] = str(tmp_path_factory.mktemp("fairseq2_cache"))
    os.environ["FAIRSEQ2_NO_PROGRESS"] = "1"
    os.environ["HF_HUB_OFFLINE"] = "1"

    import sentencepiece
    import torch

    corpus = asset_dir / "corpus.txt"
    corpus.write_text("\n".join(SENTENCES * 10) + "\n", encoding="utf-8")
    sentencepiece.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(asset_dir / "tiny_spm"), vocab_size=64, model_type="unigram",
        character_coverage=1.0, hard_vocab_limit=False, unk_id=0, bos_id=1, eos_id=2, pad_id=-1, minloglevel=2)
    pieces = sentencepiece.SentencePieceProcessor(model_file=str(asset_dir / "tiny_spm.model")).get_piece_size()
    vocab_size = pieces + len(LANGS) + 3 + 1  # fairseq2's NLLB tokenizer adds __lang__ tags, 3 data tags and <pad>
    for name, text in _cards(vocab_size).items():
        (asset_dir / f"{name}.yaml").write_text(text, encoding="utf-8")

    from fairseq2.data.tokenizers import load_tokenizer
    from sonar.models.sonar_speech import get_sonar_speech_encoder_hub
    from sonar.models.sonar_text import get_sonar_text_decoder_hub, get_sonar_text_encoder_hub

    # One thread: on a shared 2-core box, torch's default of 2 threads ran this loop ~50x slower (16 vs 756 steps
    # in 20 s, measured side by side) because the threads spin-wait for each other when the cores are busy.
    torch.set_num_threads(1)
    torch.manual_seed(0)
    tokenizer = load_tokenizer("tiny_sonar_encoder")
    assert tokenizer.vocab_info.size == vocab_size, tokenizer.vocab_info
    hubs = {"tiny_sonar_encoder": get_sonar_text_encoder_hub(), "tiny_sonar_decoder": get_sonar_text_decoder_hub(),
            "tiny_sonar_speech": get_sonar_speech_encoder_hub()}
    models = {name: hub.create_new_model(hub.get_model_config(name)) for name, hub in hubs.items()}
    steps, seconds, loss = _train_autoencoder(models["tiny_sonar_encoder"], models["tiny_sonar_decoder"], tokenizer,
                                              SENTENCES)
    for name, model in models.items():
        torch.save({"model": model.state_dict()}, asset_dir / f"{name}.pt")
    print(f"\ntiny SONAR pair: {steps} steps, {seconds:.1f} s, final loss {loss:.4f}")
    return TinySonar(asset_dir, "tiny_sonar_encoder", "tiny_sonar_decoder", "tiny_sonar_speech", list(SENTENCES),
                     DIM, steps, seconds, loss)


@pytest.fixture(scope="session")
def codec(tiny_sonar):
    from encoders.sonar_codec import load_sonar_codec

    return load_sonar_codec(encoder=tiny_sonar.encoder, decoder=tiny_sonar.decoder,
                            speech_encoder=tiny_sonar.speech_encoder)
