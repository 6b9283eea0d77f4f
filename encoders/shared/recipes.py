"""Recipes: YAML files that map one-to-one onto nested config dataclasses, with dotted command-line overrides.

The one loader of the codec recipes (encoders.embedded.config) and the LCM recipes (lcm.config):

    recipe = load_recipe(RecipeConfig, "recipes/base_lcm_tiny.yaml", ["train.steps=100", "train.betas=0.9,0.95"])

Every key must be a field of its section's dataclass (an unknown key is an InputError that lists the valid ones), and
every value is converted to the field's type or refused with the key named. Overrides are text: `section.key=value`,
the value read as YAML (`true`, `3`, `[en, fr]`) unless the field is a string, which takes the text as it is.
"""

import dataclasses
import os
import typing
from pathlib import Path

from encoders.errors import InputError

TRUE, FALSE = ("true", "yes", "1"), ("false", "no", "0")


def _type_name(kind) -> str:
    return getattr(kind, "__name__", str(kind))


def coerce(value, kind, key: str):
    """`value` (from YAML or an override) as type `kind` (bool, int, float, str, tuple[...], list[...])."""
    import yaml

    origin = typing.get_origin(kind)
    if isinstance(value, str) and kind is not str:
        value = yaml.safe_load(value) if value.strip() else None  # an override's text: 'true', '3', '[en, fr]'
    try:
        if kind is bool:
            if isinstance(value, str) and value.lower() in TRUE + FALSE:
                return value.lower() in TRUE
            if isinstance(value, bool) or value in (0, 1):
                return bool(value)
            raise ValueError(value)
        if kind in (int, float):
            if isinstance(value, bool) or (kind is int and isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            return kind(value)
        if kind is str:
            if value is None:
                return ""
            if isinstance(value, (dict, list, bool)):
                raise ValueError(value)
            return str(value)
        if origin in (tuple, list):
            items = [v.strip() for v in value.split(",")] if isinstance(value, str) else list(value)
            args = typing.get_args(kind)
            if origin is list:
                return [coerce(v, args[0], key) for v in items]
            return tuple(coerce(v, t, key) for v, t in zip(items, args, strict=True))
    except (TypeError, ValueError):
        raise InputError(f"recipe key {key!r}: cannot use {value!r} as {_type_name(kind)}") from None
    return value


def from_dict(cls, data: dict, prefix: str = ""):
    """Build dataclass `cls` from a nested dict; an unknown key is an InputError that lists the valid ones, a renamed
    one (the dataclass's RENAMED_KEYS: old -> new) an InputError that names its new name."""
    if not isinstance(data, dict):
        raise InputError(f"recipe section {prefix.rstrip('.') or '<top>'!r} must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    renamed = getattr(cls, "RENAMED_KEYS", {})
    kwargs = {}
    for key, value in data.items():
        if key not in names and key in renamed:
            raise InputError(f"recipe key {prefix + key!r} was renamed: use {prefix + renamed[key]!r}")
        if key not in names:
            raise InputError(f"unknown recipe key {prefix + key!r}; valid keys here: {', '.join(sorted(names))}")
        if dataclasses.is_dataclass(hints[key]):
            kwargs[key] = from_dict(hints[key], value or {}, prefix + key + ".")
        else:
            kwargs[key] = coerce(value, hints[key], prefix + key)
    return cls(**kwargs)


def apply_overrides(data: dict, overrides: "list[str]") -> dict:
    """Apply `section.key=value` overrides to a nested dict (values stay text; from_dict converts them)."""
    for item in overrides:
        if "=" not in item:
            raise InputError(f"override {item!r} must look like section.key=value, e.g. train.steps=100")
        dotted, raw = item.split("=", 1)
        node = data
        *parents, leaf = dotted.strip().split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise InputError(f"override {item!r}: {part!r} is not a section")
        node[leaf] = raw
    return data


def read_yaml(path: "str | os.PathLike", hint: str) -> dict:
    """The mapping in a YAML recipe file; `hint` names where recipes are, for the error when it is missing."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise InputError(f"recipe {str(path)!r} not found; {hint}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise InputError(f"recipe {str(path)!r} is not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise InputError(f"recipe {str(path)!r} must be a mapping of sections, got {type(data).__name__}")
    return data


def load_recipe(cls, path: "str | os.PathLike | None", overrides: "list[str]" = (),
                hint: str = "shipped recipes are in the recipes/ folder"):
    """Read a YAML recipe (or start from the defaults when path is None), apply dotted overrides, build `cls`."""
    data = read_yaml(path, hint) if path is not None else {}
    return from_dict(cls, apply_overrides(data, list(overrides)))


def to_dict(config) -> dict:
    """Dataclass -> plain nested dict (tuples stay tuples; json writes them as lists)."""
    return dataclasses.asdict(config)
