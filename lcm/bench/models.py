"""The models `lcm bench` times: the shipped ones, or random inits of the same recipes."""

from __future__ import annotations

from pathlib import Path

from encoders.errors import InputError
from lcm.model.shipped import DEFAULT_MODELS, PRETRAINED

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def load_models(kind: str, dim: int, log=print) -> dict:
    """head -> (model, where it came from). kind: shipped (lcm/pretrained, else random init of the *_embedded recipe
    of the same size) or tiny (random init of the *_tiny recipes, for tests)."""
    import torch

    from lcm.config import load_recipe
    from lcm.model.concept_model import build_model
    from lcm.model.export_config import read_model_config
    from lcm.model.io import load_model

    models = {}
    for head, name in DEFAULT_MODELS.items():
        path = PRETRAINED / name
        shipped = kind == "shipped" and (path / "config.json").is_file()
        recipe_path = RECIPES / f"{name}_{'tiny' if kind == 'tiny' else 'embedded'}.yaml"
        recipe = read_model_config(path)[0] if shipped else load_recipe(recipe_path)
        if recipe.model.concept_dim != dim:
            raise InputError(f"the {head} model makes {recipe.model.concept_dim}-d concepts but the codec makes {dim}-d "
                             "ones; use --codec embedded with --models shipped, --codec hashing with --models tiny")
        if shipped:
            models[head] = (load_model(path)[0], f"shipped weights {path}")
        else:
            model = build_model(recipe).eval()
            sample = torch.randn(4096, dim)  # (N, D)
            model.normalizer.fit(sample)
            if head == "quantized":  # codebooks fitted on random vectors: sampling cost does not depend on them
                model.head.quantizer.fit(model.normalizer.normalize(sample), init="random", epochs=1, lloyd_iters=0)
            models[head] = (model, f"random init of {recipe_path.relative_to(RECIPES.parent)} (no trained weights)")
        log(f"[bench] {head}: {models[head][1]}, {models[head][0].num_parameters() / 1e6:.2f}M parameters")
    return models
