"""The Python API: a model and its codec, loaded by a shipped name or a folder, in a few lines.

    import lcm
    m = lcm.load("base_lcm")                        # or lcm.load("runs/demo/model"), lcm.load(head="diffusion")
    concepts = m.encode("It was a dark night. The wind howled.", lang="en")
    text = m.decode(m.generate(concepts, n=2), lang="fr")
    m.summarize(document, sentences=3, tgt_lang="de").sentences
    m.story(opening, n=5, tgt_lang="fr").outline

It runs the same code as the `lcm` commands, so it refuses the same mistakes with the same messages (InputError,
what the CLI prints after `error:`). The loading and language rules below are the CLI's too (lcm.cli.common).
"""

import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from encoders.errors import InputError


def resolve_languages(src_lang: str, tgt_lang: "str | None", sample: "str | None",
                      name: str = "") -> tuple[str, str, "str | None"]:
    """(source, target, note): FLORES codes; src_lang "auto" is detected from `sample`, and a guess (under 50% sure)
    comes with a note to show the user (naming the document `name` when given); the target defaults to the source."""
    from encoders.languages import AUTO, detect_language, normalize_lang, short_code

    note = None
    if src_lang == AUTO:
        if sample is None:
            raise InputError("--src-lang auto needs text to look at; give the language, e.g. --src-lang en")
        src, confidence = detect_language(sample)
        if confidence < 0.5:  # a confident detection goes without saying; a guess is said after the output
            of = f" of {name}" if name else ""
            note = (f"note: the input language{of} was taken to be {short_code(src)}, a guess ({confidence:.0%} sure); "
                    "give --src-lang to be certain")
    else:
        src = normalize_lang(src_lang)
    return src, normalize_lang(tgt_lang) if tgt_lang else src, note


def check_codec_languages(codec, src: "str | None", tgt: "str | None", detected: bool = False) -> None:
    """Refuse, before any work, a language the codec cannot read or write, listing what it covers (and naming SONAR
    where SONAR covers it). A language given as None is not checked (encoding checks only the source)."""
    from encoders.languages import short_code
    from encoders.sonar_langs import SONAR_TEXT_LANGS

    if codec.name == "sonar":
        return  # the SONAR codec words its own refusals
    source = "the input is in" if detected else "--src-lang"
    for flag, lang, covered in ((source, src, getattr(codec, "encode_languages", codec.languages)),
                                ("--tgt-lang", tgt, codec.languages)):
        if lang is not None and covered and lang not in covered:
            shown = ", ".join(sorted(short_code(c) for c in covered))
            sonar = (f"; or use --codec sonar with a model trained on SONAR concepts (--model DIR), which covers "
                     f"{len(SONAR_TEXT_LANGS)} languages" if lang in SONAR_TEXT_LANGS else "")
            raise InputError(f"{flag} {short_code(lang)}: the {codec.name} codec does not cover this language; it covers "
                             f"{shown}{sonar}")


@dataclass
class Story:
    outline: list[str]  # the planned sentences, in the target language
    text: str  # the opening followed by the outline (the outline alone when it is in another language)
    opening: torch.Tensor  # (N, D) concepts of the opening
    plan: torch.Tensor  # (n, D) the planned concepts


class LCM:
    """A concept model with its codec: text -> concepts -> next concepts -> text, in any of the codec's languages."""

    def __init__(self, model, codec, path: Path, info: dict):
        self.model, self.codec, self.path = model, codec, Path(path)
        self.provenance = info["provenance"]  # where the model comes from (data, steps, figures): lcm.model.export_config

    def __repr__(self) -> str:
        return f"LCM({str(self.path)!r}, head={self.model.cfg.head!r}, codec={self.codec.name!r})"

    def sentences(self, text: "str | list[str]", lang: str) -> list[str]:
        """A list of sentences as given, or a text split into sentences (encoders.segment)."""
        from encoders import segment
        from encoders.languages import normalize_lang

        if isinstance(text, str):
            return segment(text, normalize_lang(lang))
        if not all(isinstance(s, str) for s in text):
            raise InputError("give a text (str) or a list of sentences (list of str)")
        return list(text)

    def encode(self, text: "str | list[str]", lang: str = "en") -> torch.Tensor:
        """(N, D) concepts of a text (split into sentences) or of a list of sentences written in `lang` ("auto":
        detected)."""
        src, _ = self._languages(lang, None, text, writes=False)
        return self.codec.encode(self.sentences(text, src), src)

    def decode(self, concepts: torch.Tensor, lang: str = "en") -> list[str]:
        """One sentence in `lang` (any language the codec writes) per concept (N, D)."""
        _, tgt, _ = resolve_languages(lang, None, None)
        check_codec_languages(self.codec, None, tgt)
        return self.codec.decode(concepts, tgt) if len(concepts) else []

    def generate(self, concepts: torch.Tensor, n: int = 3, *, seed: "int | None" = 0, stop_at_end: bool = True,
                 **head_options) -> torch.Tensor:
        """Up to `n` next concepts (n', D) after `concepts` (N, D): fewer when the model writes the end of the text
        (unless stop_at_end=False). head_options are the head's decoding options, e.g. sampler="dpmpp", steps=10,
        guidance_scale=3 (diffusion) or temperature=0.7, top_k=3 (quantized)."""
        from lcm.inference.generate import GenerationConfig, check_count, generate

        check_count(n)
        cfg = GenerationConfig(max_new=n, seed=seed, head_options=head_options, eot_threshold=0.9 if stop_at_end else 0)
        (new,), _ = generate(self.model, [torch.as_tensor(concepts)], cfg)
        return new

    def summarize(self, text: "str | list[str]", sentences: "int | None" = None, ratio: "float | None" = None, *,
                  src_lang: str = "auto", tgt_lang: "str | None" = None, extractive: bool = False,
                  seed: "int | None" = 0, **head_options):
        """Summarize a text into `sentences` sentences (or `ratio` of the input's; default 0.2) in `tgt_lang`; returns
        an lcm.apps.summarize.Summary (.sentences, .alignment to the input sentences, .mode)."""
        from lcm.apps.summarize import summarize, summary_length
        from lcm.inference.generate import GenerationConfig

        src, tgt = self._languages(src_lang, tgt_lang, text)
        sents = self.sentences(text, src)
        n_out = summary_length(len(sents), sentences, ratio)
        gen = GenerationConfig(seed=seed, head_options=head_options, eot_threshold=0)
        return summarize(self.model, self.codec, sents, src, tgt, n_out, extractive=extractive, gen=gen)

    def story(self, opening: "str | list[str]", n: int = 5, *, src_lang: str = "auto", tgt_lang: "str | None" = None,
              parallel: "int | None" = None, passes: int = 1, strength: float = 0.5, seed: "int | None" = 0,
              **head_options) -> Story:
        """Plan the next `n` concepts of a story and write them in `tgt_lang`. parallel=K (diffusion models) plans K
        concepts at a time jointly, with `passes` and `strength` as `lcm story --parallel` takes them."""
        from lcm.apps.story import plan_config, plan_story
        from lcm.inference.generate import GenerationConfig

        src, tgt = self._languages(src_lang, tgt_lang, opening)
        sentences = self.sentences(opening, src)
        gen = GenerationConfig(seed=seed, head_options=head_options, eot_threshold=0)
        prompt, plan = plan_story(self.model, self.codec, sentences, src, n, gen, plan_config(parallel, passes, strength))
        outline = self.codec.decode(plan, tgt)
        return Story(outline, " ".join(sentences + outline) if tgt == src else " ".join(outline), prompt, plan)

    def _languages(self, src_lang: str, tgt_lang: "str | None", text: "str | list[str]",
                   writes: bool = True) -> tuple[str, str]:
        """(source, target) as the CLI resolves them; a guessed source language is a warning (the CLI's note)."""
        sample = text if isinstance(text, str) else " ".join(text)
        src, tgt, note = resolve_languages(src_lang, tgt_lang, sample)
        if note:
            warnings.warn(note, stacklevel=3)
        check_codec_languages(self.codec, src, tgt if writes else None, detected=src_lang == "auto")
        return src, tgt


def load(model: "str | Path | None" = None, *, head: str = "mse", codec: "str | None" = None,
         codec_options: "dict | None" = None) -> LCM:
    """A model by shipped name (base_lcm, base_lcm_sum, two_tower, quant_lcm) or folder (from `lcm train`), else the
    shipped model for `head` (mse, diffusion, quantized); with the codec it was trained on unless `codec` names another
    (codec_options as `--codec-opt` takes them). A codec of another concept size is refused."""
    from encoders import load_codec
    from lcm.model.export_config import read_model_config
    from lcm.model.io import load_model
    from lcm.model.shipped import find_model

    path = find_model(model, head)
    _, info = read_model_config(path)
    codec_obj = load_codec(codec or info["codec"], **(codec_options or {}))
    concept_model, _, info = load_model(path, codec_obj)
    return LCM(concept_model, codec_obj, path, info)
