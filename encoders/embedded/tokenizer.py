"""Byte-level BPE (HF `tokenizers`) with <pad>/<bos>/<eos> and one token per target language, e.g. <2fra_Latn>."""

from pathlib import Path

from encoders.errors import InputError
from encoders.languages import normalize_lang

PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"


def lang_token(lang: str) -> str:
    """The special token that asks the decoder to write in `lang` (any accepted code -> FLORES)."""
    return f"<2{normalize_lang(lang)}>"


def train_tokenizer(texts, langs: list[str], vocab_size: int, path: "str | Path | None" = None):
    """Train byte-level BPE on an iterable of sentences; special tokens come first (<pad> = 0)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = [PAD, BOS, EOS] + [lang_token(lang) for lang in langs]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    if path is not None:
        save_tokenizer(tok, path)
    return tok


def save_tokenizer(tok, path: "str | Path") -> None:
    from encoders.shared.atomic import atomic_path

    with atomic_path(path) as tmp:
        tok.save(tmp)


def load_tokenizer(path: "str | Path"):
    from tokenizers import Tokenizer

    if not Path(path).is_file():
        raise InputError(f"tokenizer file {str(path)!r} is missing; rebuild it with "
                         "`python -m encoders.embedded.train recipes/codec_embedded.yaml`")
    return Tokenizer.from_file(str(path))


def special_ids(tok) -> dict:
    """ids of <pad>, <bos>, <eos> and of every language token present, keyed by token text."""
    return {t: i for t, i in tok.get_vocab().items() if t.startswith("<") and t.endswith(">") and i < 64}


def tokenizer_langs(tok) -> list[str]:
    """FLORES codes that have a language token in this tokenizer."""
    return sorted(t[2:-1] for t in special_ids(tok) if t.startswith("<2"))


def encode_texts(tok, texts: list[str], max_len: int) -> list[list[int]]:
    """Token ids of each text followed by <eos>, cut to max_len tokens (the cut keeps <eos> last)."""
    eos = tok.token_to_id(EOS)
    out = []
    for enc in tok.encode_batch(texts, add_special_tokens=False):
        ids = enc.ids[: max_len - 1]
        out.append(ids + [eos])
    return out


def decode_ids(tok, ids: list[int]) -> str:
    """Text of token ids, stopping at the first <eos> and skipping specials."""
    eos = tok.token_to_id(EOS)
    if eos in ids:
        ids = ids[: ids.index(eos)]
    return tok.decode(ids, skip_special_tokens=True).strip()
