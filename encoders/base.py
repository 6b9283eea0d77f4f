"""The concept codec protocol: sentences <-> fixed-size vectors, shared by every backend."""

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class ConceptCodec(Protocol):
    """A sentence encoder/decoder pair. Languages are FLORES codes (`eng_Latn`); see encoders.languages."""

    name: str
    dim: int
    languages: frozenset[str]

    def encode(self, sentences: list[str], lang: str) -> torch.Tensor:
        """Encode N sentences written in `lang` -> (N, dim) float32 concepts."""
        ...

    def decode(self, concepts: torch.Tensor, lang: str) -> list[str]:
        """Decode (N, dim) concepts into N sentences in `lang` (any supported language)."""
        ...
