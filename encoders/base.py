"""The concept codec protocol: sentences <-> fixed-size vectors, shared by every backend; and the one check of
concepts that every codec (before decoding) and the generator (before reading a prompt) make."""

from typing import Protocol, runtime_checkable

import torch

from encoders.errors import InputError


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


def check_concepts(concepts, dim: int, reader: str = "this codec",
                   fix: str = "use the codec the concepts were made with") -> torch.Tensor:
    """`concepts` as a float32 (N, dim) tensor, or an InputError that names the problem (a wrong shape: `reader`
    expects (N, dim), then `fix`; NaN or Inf values)."""
    concepts = torch.as_tensor(concepts)
    if concepts.ndim != 2 or concepts.shape[1] != dim:
        raise InputError(f"concepts have shape {tuple(concepts.shape)} but {reader} expects (N, {dim}); {fix}")
    concepts = concepts.float()
    if not torch.isfinite(concepts).all():
        raise InputError("concepts contain NaN or Inf; check the model that produced them (or its normalizer), "
                         "or re-encode the input")
    return concepts
