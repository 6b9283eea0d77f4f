"""SONAR as a concept codec: Meta's own sonar-space pipelines (text and speech -> 1024-d concepts -> text).

Optional: needs the `[sonar]` extra (sonar-space 0.5.0 on fairseq2 0.8.1, which needs torch 2.9.1), so it lives in
its own venv. Every sonar/fairseq2 import happens inside a function: `import encoders` never touches them.
Models are named by fairseq2 asset cards: SONAR's own (`text_sonar_basic_encoder`, downloaded on first use), cards
in `$FAIRSEQ2_USER_ASSET_DIR`, or a path to a card YAML. Weights load on first use; cards are checked at once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

import torch

from encoders.base import check_concepts
from encoders.errors import InputError
from encoders.languages import normalize_lang
from encoders.sonar_langs import SONAR_SPEECH_LANGS, SONAR_TEXT_LANGS, speech_code

INSTALL_HINT = (
    'install the SONAR extra in a separate venv (fairseq2 needs torch 2.9.1; the core uses a newer torch): '
    'python -m venv ~/.venvs/lcm-sonar && ~/.venvs/lcm-sonar/bin/pip install "lcm-toolkit[sonar]" '
    '(or `pip install -e ".[sonar]"` in a checkout; it pins torch==2.9.1 torchaudio==2.9.1 fairseq2==0.8.1 '
    'sonar-space==0.5.0), then `apt-get install libsndfile1`, and run with that venv\'s python; '
    '.ci/sonar_lane.sh builds such a venv'
)
LOCAL_WEIGHTS_HINT = (
    "if this machine cannot download them, copy the checkpoint (and tokenizer) here and write a card YAML such as "
    "`name: my_sonar_encoder` / `base: text_sonar_basic_encoder` / `checkpoint: /abs/path/sonar_text_encoder.pt` / "
    "`tokenizer: /abs/path/sentencepiece.source.256000.model`, then pass its path (encoder=/path/card.yaml) or put it "
    "in the folder named by FAIRSEQ2_USER_ASSET_DIR"
)
CARD_HINT = (
    "use one of SONAR's cards (text_sonar_basic_encoder, text_sonar_basic_decoder, sonar_speech_encoder_<lang>), "
    "a card YAML in the folder named by FAIRSEQ2_USER_ASSET_DIR (set it before the first load), "
    "or a path to a card YAML"
)


@dataclass
class SonarConfig:
    """Options of the SONAR codec; `load_sonar_codec` takes these as keyword arguments."""

    encoder: str = "text_sonar_basic_encoder"
    """Asset card (name or path to a YAML) of the text encoder."""
    decoder: str | None = "text_sonar_basic_decoder"
    """Asset card of the text decoder; None makes an encode-only codec."""
    tokenizer: str | None = None
    """Card whose tokenizer both sides use; None: each model's own card."""
    speech_encoder: str | None = None
    """Card of the speech encoder; None: SONAR's `sonar_speech_encoder_<lang>` for the language asked."""
    device: str = "cpu"
    """Torch device the models run on."""
    dtype: str = "float32"
    """Weights' dtype: float32, float16 or bfloat16 (half precision only on a GPU)."""
    beam_size: int = 5
    """Beam width when decoding concepts to text."""
    max_len: int = 128
    """Most tokens generated for one decoded sentence."""
    batch_size: int = 16
    """Sentences (or audio files) per forward pass."""


def _import_sonar() -> None:
    """Import fairseq2 and sonar once, or raise the one InputError that says how to install them."""
    try:
        import fairseq2  # noqa: F401  (loads fairseq2n, the C++ part that breaks on a torch mismatch)
        import sonar.inference_pipelines.speech  # noqa: F401
        import sonar.inference_pipelines.text  # noqa: F401
    except Exception as err:  # ImportError when missing; OSError/RuntimeError from a binary mismatch
        text = str(err).strip()
        reason = text.splitlines()[0].split(". ")[0][:240] if text else type(err).__name__  # first sentence
        raise InputError(f"the SONAR codec cannot start: sonar-space/fairseq2 failed to import ({reason}); "
                         f"{INSTALL_HINT}") from err


def _load_errors() -> tuple[type[BaseException], ...]:
    """fairseq2's exceptions for a missing, broken or undownloadable asset (all user-fixable)."""
    from fairseq2.assets import AssetCardError, AssetDownloadError, AssetMetadataError, AssetNotFoundError
    from fairseq2.data.tokenizers import TokenizerFamilyNotKnownError, TokenizerGatedError, TokenizerModelError
    from fairseq2.data.tokenizers.hub import TokenizerNotKnownError
    from fairseq2.error import NotSupportedError
    from fairseq2.model_checkpoint.loader import CorruptModelCheckpointError
    from fairseq2.models.family import ModelFamilyNotKnownError, ModelGatedError
    from fairseq2.models.hub import ModelArchitectureNotKnownError, ModelNotKnownError

    return (AssetCardError, AssetDownloadError, AssetMetadataError, AssetNotFoundError, TokenizerGatedError,
            TokenizerModelError, TokenizerFamilyNotKnownError, TokenizerNotKnownError, NotSupportedError,
            CorruptModelCheckpointError, ModelGatedError, ModelFamilyNotKnownError, ModelArchitectureNotKnownError,
            ModelNotKnownError, OSError)


def _card(ref: str, role: str):
    """Resolve `ref` (a card name, or a path to a card YAML) to a fairseq2 AssetCard; InputError if there is none."""
    import yaml
    from fairseq2.assets import AssetCard, get_asset_store

    store = get_asset_store()
    path = Path(ref).expanduser()
    if ref.endswith((".yaml", ".yml")) or path.is_file():
        if not path.is_file():
            raise InputError(f"SONAR {role} card file {ref} does not exist; {CARD_HINT}")
        try:
            docs = [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]
        except yaml.YAMLError as err:
            raise InputError(f"SONAR {role} card {ref} is not valid YAML ({err}); fix the file") from err
        if len(docs) != 1 or not isinstance(docs[0], dict):
            raise InputError(f"SONAR {role} card {ref} must hold exactly one card (a YAML mapping); split the file")
        metadata = dict(docs[0])
        name = str(metadata.pop("name", path.stem))
        metadata["__base_path__"] = path.resolve().parent  # relative `checkpoint:`/`tokenizer:` start here
        metadata["__source__"] = str(path)
        base = metadata.get("base")
        base_card = _card(str(base), role) if base else None
        return AssetCard(name, metadata, base_card)
    card = store.maybe_retrieve_card(ref)
    if card is None:
        user_dir = os.environ.get("FAIRSEQ2_USER_ASSET_DIR", "~/.config/fairseq2/assets")
        raise InputError(f"no SONAR {role} asset card named {ref!r} (searched sonar's cards and {user_dir}); "
                         f"{CARD_HINT}")
    return card


class SonarCodec:
    """`encoders.base.ConceptCodec` over SONAR's Text/Embedding/Speech pipelines. Build it with `load_sonar_codec`."""

    name = "sonar"

    def __init__(self, config: SonarConfig, cards: dict, dim: int, languages: frozenset[str]):
        self.config = config
        self.dim = dim
        self.languages = languages
        self._cards = cards  # role -> AssetCard, resolved up front so a wrong name fails at load time
        self._pipelines: dict[str, object] = {}

    # -- loading (on first use: SONAR's real weights are ~3 GB a side) --------------------------------------------
    def _torch_args(self) -> tuple[torch.device, torch.dtype]:
        return torch.device(self.config.device), getattr(torch, self.config.dtype)

    def _tokenizer(self, role: str):
        from fairseq2.data.tokenizers import load_tokenizer

        return load_tokenizer(self._cards.get("tokenizer") or self._cards[role])

    def _pipeline(self, role: str):
        if role in self._pipelines:
            return self._pipelines[role]
        from fairseq2.models import load_model
        from sonar.inference_pipelines.text import EmbeddingToTextModelPipeline, TextToEmbeddingModelPipeline

        device, dtype = self._torch_args()
        card = self._cards[role]
        try:
            model = load_model(card, device=device, dtype=dtype)
            if role == "encoder":
                pipeline = TextToEmbeddingModelPipeline(model, self._tokenizer(role), device=device, dtype=dtype)
            else:
                pipeline = EmbeddingToTextModelPipeline(model, self._tokenizer(role), device=device, dtype=dtype)
        except _load_errors() as err:
            raise InputError(f"cannot load the SONAR {role} from card {card.name!r}: {str(err).rstrip('.')}; "
                             f"{LOCAL_WEIGHTS_HINT}") from err
        self._pipelines[role] = pipeline
        return pipeline

    def _speech_pipeline(self, card_ref: str):
        key = f"speech:{card_ref}"
        if key not in self._pipelines:
            from sonar.inference_pipelines.speech import SpeechToEmbeddingModelPipeline
            from sonar.models.sonar_speech import get_sonar_speech_encoder_hub

            card = _card(card_ref, "speech encoder")
            device, dtype = self._torch_args()
            try:
                model = get_sonar_speech_encoder_hub().load_model(card, device=device, dtype=dtype)
            except _load_errors() as err:
                raise InputError(f"cannot load the SONAR speech encoder from card {card.name!r}: "
                                 f"{str(err).rstrip('.')}; {LOCAL_WEIGHTS_HINT}") from err
            self._pipelines[key] = SpeechToEmbeddingModelPipeline(model, device=device, fbank_dtype=dtype)
        return self._pipelines[key]

    # -- the ConceptCodec protocol -------------------------------------------------------------------------------
    def _lang(self, lang: str) -> str:
        try:
            return normalize_lang(lang, self.languages)
        except InputError:
            if len(self.languages) <= 12:
                raise  # its message lists them all
            raise InputError(f"unknown or unsupported language code {lang!r} for the SONAR codec; use a FLORES-200 "
                             f"code such as eng_Latn, fra_Latn, zho_Hans (all {len(self.languages)}: "
                             "encoders.sonar_langs.SONAR_TEXT_LANGS) or a two-letter code such as en") from None

    def encode(self, sentences: list[str], lang: str) -> torch.Tensor:
        """Encode N sentences written in `lang` -> (N, dim) float32 concepts on the CPU."""
        flores = self._lang(lang)
        if isinstance(sentences, str) or not all(isinstance(s, str) for s in sentences):
            raise InputError("encode() takes a list of sentences (strings); wrap a single sentence in a list")
        if not sentences:
            return torch.zeros(0, self.dim)
        pipeline = self._pipeline("encoder")
        concepts = pipeline.predict(list(sentences), source_lang=flores, batch_size=self.config.batch_size)
        return concepts.float().cpu()  # (N, dim)

    def decode(self, concepts: torch.Tensor, lang: str) -> list[str]:
        """Decode (N, dim) concepts into N sentences in `lang` with beam search (`beam_size`, `max_len`)."""
        flores = self._lang(lang)
        if "decoder" not in self._cards:
            raise InputError("this SONAR codec was loaded without a decoder; pass decoder=<card> to load_sonar_codec")
        concepts = check_concepts(concepts, self.dim, "the sonar codec",
                                  "encode them with the same codec (and model) you decode with")
        if len(concepts) == 0:
            return []
        pipeline = self._pipeline("decoder")
        device, dtype = self._torch_args()
        return pipeline.predict(concepts.to(device=device, dtype=dtype), target_lang=flores,
                                batch_size=self.config.batch_size, beam_size=self.config.beam_size,
                                max_gen_len=(0, self.config.max_len))

    def encode_speech(self, paths: list[str | os.PathLike], lang: str) -> torch.Tensor:
        """Encode N audio files spoken in `lang` -> (N, dim) concepts; any rate or channel count (-> 16 kHz mono)."""
        import soundfile
        import torchaudio.functional

        flores = normalize_lang(lang, SONAR_TEXT_LANGS)
        if isinstance(paths, (str, os.PathLike)):
            raise InputError("encode_speech() takes a list of audio paths; wrap a single path in a list")
        card_ref = self.config.speech_encoder
        if card_ref is None:
            code = speech_code(flores)
            if code not in SONAR_SPEECH_LANGS:
                raise InputError(f"SONAR has no speech encoder for {lang!r}; use one of "
                                 f"{', '.join(sorted(SONAR_SPEECH_LANGS))} or pass speech_encoder=<card>")
            card_ref = f"sonar_speech_encoder_{code}"
        waveforms = []
        for path in map(Path, paths):
            if not path.is_file():
                raise InputError(f"audio file {path} does not exist; pass paths to existing audio files")
            try:
                audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)  # (T, C)
            except RuntimeError as err:  # soundfile.LibsndfileError derives from RuntimeError
                raise InputError(f"cannot read audio file {path} ({err}); convert it to WAV or FLAC") from err
            wave = torch.from_numpy(audio).mean(dim=1, keepdim=True).T  # (1, T) mono
            if rate != 16000:
                wave = torchaudio.functional.resample(wave, int(rate), 16000)  # SONAR expects 16 kHz
            waveforms.append(wave.contiguous())
        if not waveforms:
            return torch.zeros(0, self.dim)
        pipeline = self._speech_pipeline(card_ref)
        concepts = pipeline.predict(waveforms, batch_size=self.config.batch_size)  # (N, dim)
        bad = [str(p) for p, row in zip(paths, concepts) if not torch.isfinite(row).all()]
        if bad:  # SONAR standardises each filterbank channel: silence or a noiseless tone divides by zero
            raise InputError(f"SONAR gave non-finite concepts for {', '.join(bad)}: the audio is silent or has no "
                             "variation in some frequency band; pass real recordings")
        if concepts.shape[-1] != self.dim:
            raise InputError(f"speech encoder {card_ref!r} makes {concepts.shape[-1]}-d concepts but the text side is "
                             f"{self.dim}-d; pick a speech encoder trained for the same SONAR space")
        return concepts.float().cpu()  # (N, dim)


def _as_int(name: str, value) -> int:
    """CLI options arrive as strings (`--codec-opt beam_size=4`)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InputError(f"SONAR option {name} must be a whole number, not {value!r}") from None
    if number < 1:
        raise InputError(f"SONAR option {name} must be at least 1, not {number}")
    return number


def load_sonar_codec(encoder: str = "text_sonar_basic_encoder", decoder: str | None = "text_sonar_basic_decoder",
                     tokenizer: str | None = None, device: str = "cpu", beam_size: int = 5, max_len: int = 128,
                     **options) -> SonarCodec:
    """Build the SONAR codec from asset cards; InputError (naming the fix) if SONAR or a card is missing."""
    known = {f.name for f in fields(SonarConfig)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise InputError(f"unknown SONAR option(s) {', '.join(unknown)}; valid options: {', '.join(sorted(known))}")
    if isinstance(decoder, str) and decoder.strip().lower() in ("", "none"):
        decoder = None
    config = SonarConfig(encoder=encoder, decoder=decoder, tokenizer=tokenizer or None, device=str(device),
                         beam_size=_as_int("beam_size", beam_size), max_len=_as_int("max_len", max_len), **options)
    config.batch_size = _as_int("batch_size", config.batch_size)
    if config.dtype not in ("float32", "float16", "bfloat16"):
        raise InputError(f"SONAR option dtype must be float32, float16 or bfloat16, not {config.dtype!r}")
    _import_sonar()
    try:
        torch.device(config.device)
    except RuntimeError as err:
        raise InputError(f"unknown device {config.device!r}; use cpu or cuda") from err

    from sonar.models.sonar_text import get_sonar_text_decoder_hub, get_sonar_text_encoder_hub

    cards = {"encoder": _card(config.encoder, "encoder")}
    if config.decoder is not None:
        cards["decoder"] = _card(config.decoder, "decoder")
    if config.tokenizer is not None:
        cards["tokenizer"] = _card(config.tokenizer, "tokenizer")
    try:
        enc_cfg = get_sonar_text_encoder_hub().get_model_config(cards["encoder"])
        dec_cfg = get_sonar_text_decoder_hub().get_model_config(cards["decoder"]) if "decoder" in cards else None
    except _load_errors() + (TypeError, ValueError) as err:  # wrong model_family, bad model_config, ...
        raise InputError(f"SONAR card problem: {err}; {CARD_HINT}") from err
    dim = enc_cfg.embedding_dim or enc_cfg.model_dim
    if dec_cfg is not None and (dec_cfg.input_dim or dec_cfg.model_dim) != dim:
        raise InputError(f"SONAR encoder {config.encoder!r} makes {dim}-d concepts but decoder {config.decoder!r} "
                         f"reads {dec_cfg.input_dim or dec_cfg.model_dim}-d ones; pick a matching encoder/decoder pair")
    return SonarCodec(config, cards, dim, _card_languages(cards))


def _card_languages(cards: dict) -> frozenset[str]:
    """SONAR's languages, narrowed to those the tokenizer card lists (a small local model may know only a few)."""
    from fairseq2.models.nllb import get_nllb_tokenizer_hub

    langs = SONAR_TEXT_LANGS
    for role in ("tokenizer", "encoder", "decoder"):
        card = cards.get(role)
        if card is None or not card.has_field("tokenizer_family"):
            continue
        if card.field("tokenizer_family").as_(str) == "nllb":
            try:
                card_langs = get_nllb_tokenizer_hub().get_tokenizer_config(card).langs
            except _load_errors() as err:
                raise InputError(f"SONAR card problem in {card.name!r}: {err}; fix its tokenizer_config") from err
            langs = langs & frozenset(card_langs)
        if role == "tokenizer":
            break  # one shared tokenizer overrides the models' own
    if not langs:
        raise InputError("the SONAR tokenizer card lists none of SONAR's language codes (like eng_Latn); fix its langs")
    return langs
