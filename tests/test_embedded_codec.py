"""Tiny CPU tests of the embedded codec: tokenizer, decoder, decoding, codec checks, training resume, shipped weights."""

import json
import time
from pathlib import Path

import pytest
import torch

from encoders.embedded.config import DecoderConfig, load_recipe
from encoders.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
LANGS = ["en", "fr", "de", "es", "zh"]
SUBJECTS = [("the cat", "le chat", "die Katze", "el gato", "猫"), ("the dog", "le chien", "der Hund", "el perro", "狗"),
            ("my friend", "mon ami", "mein Freund", "mi amigo", "我的朋友")]
VERBS = [("sees the house", "voit la maison", "sieht das Haus", "ve la casa", "看见房子"),
         ("eats bread", "mange du pain", "isst Brot", "come pan", "吃面包")]


def sentences() -> list[dict]:
    """Six tiny parallel units in five languages."""
    units = []
    for s in SUBJECTS:
        for v in VERBS:
            units.append({lang: (f"{s[k]}{v[k]}。" if lang == "zh" else f"{s[k].capitalize()} {v[k]}.")
                          for k, lang in enumerate(LANGS)})
    return units


def write_corpus(path: Path) -> Path:
    rows = [{"source": "synthetic", "split": "valid" if i == 5 else "train", "texts": texts}
            for i, texts in enumerate(sentences())]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def tokenizer():
    from encoders.embedded.tokenizer import train_tokenizer

    return train_tokenizer([t for u in sentences() for t in u.values()], LANGS, 300)


def tiny_model(vocab_size: int, seed: int = 0):
    from encoders.embedded.model import ConceptDecoder

    torch.manual_seed(seed)
    cfg = DecoderConfig(concept_dim=16, d_model=32, n_layers=2, n_heads=4, ffn_hidden=64, n_prefix=2,
                        vocab_size=vocab_size, max_len=24, dropout=0.0)
    return ConceptDecoder(cfg).eval()


def test_tokenizer_round_trip(tokenizer):
    from encoders.embedded.tokenizer import EOS, PAD, decode_ids, encode_texts, lang_token, tokenizer_langs

    texts = [t for u in sentences() for t in u.values()] + ["Ünïcödé unseen wörds!"]
    ids = encode_texts(tokenizer, texts, max_len=1000)
    assert all(row[-1] == tokenizer.token_to_id(EOS) for row in ids)
    assert [decode_ids(tokenizer, row) for row in ids] == texts
    assert tokenizer.token_to_id(PAD) == 0
    assert tokenizer_langs(tokenizer) == sorted(lang_token(lang)[2:-1] for lang in LANGS)
    assert len(encode_texts(tokenizer, ["a very long sentence " * 20], max_len=8)[0]) == 8


def test_kv_cached_greedy_equals_uncached_and_beam1(tokenizer):
    from encoders.embedded.generate import beam_search, greedy_decode

    model = tiny_model(tokenizer.get_vocab_size())
    concepts, lang_ids = torch.randn(3, 16), torch.tensor([3, 4, 5])
    cached = greedy_decode(model, concepts, lang_ids, max_len=12, eos_id=2)
    uncached = greedy_decode(model, concepts, lang_ids, max_len=12, eos_id=2, use_cache=False)
    assert cached == uncached and all(len(row) == 12 for row in cached)  # untrained: never says <eos>
    best = [hyps[0][0] for hyps in beam_search(model, concepts, lang_ids, beam=1, max_len=12, eos_id=2)]
    assert best == cached


def test_beam_search_scores_sorted_and_finite(tokenizer):
    from encoders.embedded.generate import beam_search

    model = tiny_model(tokenizer.get_vocab_size(), seed=1)
    out = beam_search(model, torch.randn(2, 16), torch.tensor([3, 4]), beam=4, max_len=6, eos_id=2)
    assert len(out) == 2 and all(len(hyps) == 4 for hyps in out)
    for hyps in out:
        scores = [score for _, score in hyps]
        assert scores == sorted(scores, reverse=True) and all(s < 0 for s in scores)


def test_tiny_decoder_overfits_and_decodes_back(tokenizer):
    from encoders.embedded.generate import greedy_decode
    from encoders.embedded.tokenizer import decode_ids, encode_texts, lang_token

    texts = [u["en"] for u in sentences()] + [u["fr"] for u in sentences()]
    langs = ["en"] * 6 + ["fr"] * 6
    torch.manual_seed(0)
    concepts = torch.randn(6, 16).repeat(2, 1)  # one concept per unit, decoded into two languages
    lang_ids = torch.tensor([tokenizer.token_to_id(lang_token(lang)) for lang in langs])
    ids = encode_texts(tokenizer, texts, max_len=24)
    lengths = torch.tensor([len(r) for r in ids])
    tokens = torch.zeros(len(ids), int(lengths.max()), dtype=torch.long)
    for i, row in enumerate(ids):
        tokens[i, :len(row)] = torch.tensor(row)
    model = tiny_model(tokenizer.get_vocab_size()).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(150):
        loss = model.loss(concepts, lang_ids, tokens, lengths)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.05
    model.eval()
    rows = greedy_decode(model, concepts, lang_ids, max_len=24, eos_id=tokenizer.token_to_id("<eos>"))
    assert [decode_ids(tokenizer, r) for r in rows] == texts


@pytest.fixture(scope="module")
def tiny_codec(tokenizer, tmp_path_factory):
    from encoders.embedded import load_embedded_codec
    from encoders.embedded.checkpoint import export_weights
    from encoders.embedded.model import ConceptDecoder

    out = tmp_path_factory.mktemp("codec")
    cfg = DecoderConfig(d_model=32, n_layers=1, n_heads=4, ffn_hidden=64, n_prefix=2,
                        vocab_size=tokenizer.get_vocab_size(), max_len=8, dropout=0.0)
    export_weights(out, ConceptDecoder(cfg), tokenizer, LANGS, {"note": "random weights, test only"})
    return load_embedded_codec(out)


def test_codec_protocol_and_languages(tiny_codec):
    from encoders.base import ConceptCodec

    assert isinstance(tiny_codec, ConceptCodec)
    assert tiny_codec.name == "embedded" and tiny_codec.dim == 512
    assert tiny_codec.languages == frozenset({"eng_Latn", "fra_Latn", "deu_Latn", "spa_Latn", "zho_Hans"})
    out = tiny_codec.decode(torch.randn(3, 512), "fr")
    assert len(out) == 3 and all(isinstance(t, str) for t in out)
    assert len(tiny_codec.decode(torch.randn(2, 512), "fra_Latn", beam=2, max_len=4)) == 2


@pytest.mark.parametrize("lang", ["xx", "hu", ""])
def test_codec_refuses_unknown_language(tiny_codec, lang):
    with pytest.raises(InputError, match="language"):
        tiny_codec.decode(torch.randn(1, 512), lang)


def test_codec_refuses_wrong_dim_and_non_finite(tiny_codec):
    with pytest.raises(InputError, match="shape"):
        tiny_codec.decode(torch.randn(2, 384), "en")
    with pytest.raises(InputError, match="shape"):
        tiny_codec.decode(torch.randn(2, 3, 512), "en")
    for bad in (float("nan"), float("inf")):
        concepts = torch.randn(2, 512)
        concepts[1, 7] = bad
        with pytest.raises(InputError, match="NaN or Inf"):
            tiny_codec.decode(concepts, "en")
    with pytest.raises(InputError, match="list of strings"):
        tiny_codec.encode("one string", "en")


def test_missing_weights_name_the_recipe(tmp_path):
    from encoders.embedded import load_embedded_codec

    codec = load_embedded_codec(tmp_path)  # encoding needs no decoder: the weights load on first decode
    with pytest.raises(InputError, match="recipes/codec_embedded.yaml"):
        codec.decode(torch.randn(1, 512), "en")


def test_shipped_recipes_load_and_unknown_keys_fail():
    for name in ("codec_embedded.yaml", "codec_embedded_tiny.yaml"):
        recipe = load_recipe(ROOT / "recipes" / name)
        assert recipe.model.d_model % recipe.model.n_heads == 0
    recipe = load_recipe(ROOT / "recipes/codec_embedded.yaml", ["train.lr=5e-4", "data.langs=[en, fr]"])
    assert recipe.train.lr == 5e-4 and recipe.data.langs == ["en", "fr"]
    with pytest.raises(InputError, match="unknown recipe key 'train.learning_rate'"):
        load_recipe(ROOT / "recipes/codec_embedded.yaml", ["train.learning_rate=1"])
    with pytest.raises(InputError, match="'train.max_steps': cannot use 'many' as int"):
        load_recipe(None, ["train.max_steps=many"])


def test_train_script_resumes(tmp_path):
    """Two runs of the CLI: the second continues the step counter and the loss from the checkpoint."""
    from encoders.embedded.train import main

    corpus = write_corpus(tmp_path / "parallel.jsonl")
    base = [str(ROOT / "recipes/codec_embedded_tiny.yaml"), f"data.parallel={corpus}", f"train.work_dir={tmp_path / 'w'}",
            f"train.export_dir={tmp_path / 'export'}", "train.log_every=5", "train.max_minutes=5"]
    assert main(base + ["train.max_steps=20"]) == 0
    log = [json.loads(line) for line in (tmp_path / "w" / "log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 20
    state = json.loads((tmp_path / "w" / "checkpoint" / "state.json").read_text())
    assert state["step"] == 20 and state["saved_step"] == 20
    assert {p.name for p in (tmp_path / "w" / "checkpoint").iterdir()} == {"model.safetensors", "optimizer.safetensors",
                                                                          "state.json"}  # no pickle anywhere
    assert main(base + ["train.max_steps=35"]) == 0
    log2 = [json.loads(line) for line in (tmp_path / "w" / "log.jsonl").read_text().splitlines()][len(log):]
    assert [r["step"] for r in log2] == [25, 30, 35]
    assert log2[-1]["loss"] < log[0]["loss"]  # continued from the trained weights, not from scratch
    assert log2[0]["loss"] < log[0]["loss"]
    meta = json.loads((tmp_path / "export" / "config.json").read_text())
    assert meta["info"]["step"] == 35 and meta["langs"] == LANGS
    assert main([str(ROOT / "recipes/codec_embedded_tiny.yaml"), "train.bogus=1"]) == 2


SHIPPED = ROOT / "encoders/embedded/weights/model.safetensors"


@pytest.mark.skipif(not SHIPPED.is_file(), reason="shipped weights absent: build them with recipes/codec_embedded.yaml")
def test_shipped_weights_load_fast_and_round_trip():
    from encoders.embedded import load_embedded_codec

    t0 = time.time()
    codec = load_embedded_codec()
    codec._load_decoder()  # the decoder loads lazily; time it here
    assert time.time() - t0 < 2.0
    assert {"eng_Latn", "fra_Latn", "deu_Latn", "spa_Latn", "zho_Hans"} <= codec.languages
    sentence = "Click the OK button to close the dialog."
    out = codec.decode(codec.encode([sentence], "en"), "en")[0]
    words = set(sentence.lower().strip(".").split())
    assert len(words & set(out.lower().strip(".").split())) >= len(words) // 2, out


def test_no_repeat_ngram_bans_exactly_the_repeating_token():
    from encoders.embedded.generate import ban_repeats

    scores = torch.zeros(2, 10)
    out = ban_repeats(scores, [[5, 6, 7, 5, 6], [1, 2, 3]], n=3)  # row 0 ends with (5, 6), seen before followed by 7
    assert torch.isinf(out[0, 7]) and int(torch.isinf(out[0]).sum()) == 1
    assert not torch.isinf(out[1]).any() and not torch.isinf(scores).any()
