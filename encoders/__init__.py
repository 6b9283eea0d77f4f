"""Sentence segmentation and concept codecs (text <-> fixed-size vectors)."""

from encoders.errors import InputError
from encoders.languages import normalize_lang
from encoders.segment import segment

# name -> (module, factory). Backends are imported only when asked for, so `import encoders` stays light.
CODECS = {
    "embedded": ("encoders.embedded", "load_embedded_codec"),
    "sonar": ("encoders.sonar_codec", "load_sonar_codec"),
    "minilm": ("encoders.retrieval", "SentenceTransformerCodec"),
    "hashing": ("encoders.retrieval", "HashingCodec"),
}


def load_codec(name: str, **options) -> "ConceptCodec":
    """Build the codec registered under `name` with backend-specific keyword options."""
    import importlib

    if name not in CODECS:
        raise InputError(f"unknown codec {name!r}; choose one of: {', '.join(CODECS)}")
    module_name, factory = CODECS[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise InputError(f"codec {name!r} is not available ({err}); see the README section on codecs") from None
    build = getattr(module, factory)
    valid = _option_names(build)
    unknown = sorted(set(options) - set(valid)) if valid is not None else []
    if unknown:
        raise InputError(f"unknown --codec-opt {', '.join(unknown)} for codec {name!r}; valid options: "
                         f"{', '.join(valid) or 'none'}")
    try:
        return build(**options)
    except TypeError as err:
        raise InputError(f"bad option for codec {name!r}: {err}; valid options: {', '.join(valid or [])}") from None


def _option_names(build) -> "list[str] | None":
    """The keyword options a codec factory takes (None when it takes any)."""
    import inspect

    params = inspect.signature(build).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return [p.name for p in params if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def __getattr__(name: str):
    if name == "ConceptCodec":  # imported on demand: it pulls in torch, which `lcm --help` should not wait for
        from encoders.base import ConceptCodec

        return ConceptCodec
    raise AttributeError(name)


__all__ = ["CODECS", "ConceptCodec", "InputError", "load_codec", "normalize_lang", "segment"]
