"""Fine-tuning (train.init_from): start from an exported model's weights, refusing one of another architecture."""

import os

from encoders.errors import InputError
from encoders.shared.recipes import to_dict
from lcm.config import RecipeConfig
from lcm.model.io import load_model


def architecture_mismatch(recipe: RecipeConfig, pretrained: RecipeConfig) -> list[str]:
    """`section.key=value` (the pretrained value) for every network-defining key where the recipe differs."""
    pairs = [("model", recipe.model, pretrained.model), ("normalizer", recipe.normalizer, pretrained.normalizer)]
    if pretrained.model.head in ("diffusion", "quantized"):  # the head's own section shapes its network
        pairs.append((pretrained.model.head, getattr(recipe, pretrained.model.head), getattr(pretrained, pretrained.model.head)))
    diffs = [f"codec={pretrained.codec}"] if recipe.codec != pretrained.codec else []
    for section, mine, theirs in pairs:
        free = getattr(theirs, "FINE_TUNE_FREE", ())  # each section (a head's in its own package) names its free keys
        mine, theirs = to_dict(mine), to_dict(theirs)
        diffs += [f"{section}.{key}={value}" for key, value in theirs.items() if mine[key] != value and key not in free]
    return diffs


def init_from_pretrained(model, recipe: RecipeConfig) -> None:
    """Load train.init_from's weights (normalizer, end-of-text concept and head included) into `model`."""
    path = os.path.expanduser(recipe.train.init_from)
    pretrained, pretrained_recipe, _ = load_model(path)
    diffs = architecture_mismatch(recipe, pretrained_recipe)
    if diffs:
        raise InputError(f"train.init_from={recipe.train.init_from!r} has another architecture; set {' '.join(diffs)} in "
                         "the recipe (or as overrides) to fine-tune it, or drop train.init_from to train from scratch")
    model.load_state_dict(pretrained.state_dict())
