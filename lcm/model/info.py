"""What a model is: architecture, parameter counts by part, training FLOPs per concept, codec, and (for an exported
model) what its config.json says about its training. Models are built on the meta device: no memory, no weights."""

import json
from pathlib import Path

import torch
from torch import nn

from lcm.config import RecipeConfig


def matmul_params(model: nn.Module) -> int:
    """N of the FLOP formula: parameters that enter a matrix multiply (every nn.Linear weight)."""
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Linear))


def training_flops_per_position(n_params: int, n_layers: int, d_model: int, seq_len: float) -> float:
    """Training FLOPs per input position: 6 N (forward + backward matmuls) + 12 L d T (attention), PaLM appendix B."""
    return 6 * n_params + 12 * n_layers * d_model * seq_len


def _count(module) -> int:
    return 0 if module is None else sum(p.numel() for p in module.parameters())


def describe(recipe: RecipeConfig, meta: "dict | None" = None) -> dict:
    """A JSON-able summary of the model `recipe` builds (and, for an exported model, the provenance in its config.json
    `meta` as lcm.model.export_config.read_model_config gives it)."""
    from lcm.model.concept_model import build_model

    with torch.device("meta"):
        model = build_model(recipe)
    cfg, head = recipe.model, model.head
    denoiser = getattr(head, "denoiser", None)
    parts = {"contextualizer": _count(model.prenet) + _count(model.backbone), "denoiser": _count(denoiser),
             "head": _count(head) - _count(denoiser),
             "normalizer": sum(b.numel() for n, b in model.normalizer.named_buffers() if n != "fitted")}
    # attention layers over the T concepts of a document: the backbone's, plus a Two-Tower denoiser's cross-attention
    att = cfg.n_layers * cfg.d_model
    arch = {"head": cfg.head, "d_model": cfg.d_model, "layers": cfg.n_layers, "heads": cfg.n_heads,
            "ffn_mult": cfg.ffn_mult, "ffn_multiple_of": cfg.ffn_multiple_of, "max_len": cfg.max_len}
    if cfg.head == "diffusion":
        d = recipe.diffusion
        arch["diffusion"] = {k: getattr(d, k) for k in ("tower", "d_model", "n_layers", "n_heads", "ffn_multiple_of",
                                                        "self_attention", "kv_bias", "num_train_timesteps",
                                                        "prediction_type", "timestep_spacing")}
        att += d.n_layers * d.d_model
    elif cfg.head == "quantized":
        q = recipe.quantized
        arch["quantized"] = {"variant": q.variant, "codebooks": q.num_codebooks, "codebook_size": q.codebook_size}
    info = {"architecture": arch, "parameters": {"total": model.num_parameters(), **parts},
            "flops_per_concept": training_flops_per_position(matmul_params(model), 1, att, cfg.max_len),
            "flops_formula": "6 N + 12 L d T (PaLM app. B); N = Linear weights, T = model.max_len",
            "codec": recipe.codec, "concept_dim": cfg.concept_dim}
    if meta is not None:
        info["provenance"] = meta.get("provenance", {})  # free-form: data, credit, steps, settings, figures, history
    return info


def resolve(name: str) -> "tuple[RecipeConfig, dict | None, str]":
    """RECIPE (YAML file), PRESET (name in lcm.model.presets) or MODEL (folder, or a shipped model's name)."""
    from encoders.errors import InputError
    from lcm.config import load_recipe
    from lcm.model.export_config import read_model_config
    from lcm.model.presets import PRESETS
    from lcm.model.shipped import PRETRAINED, shipped_models

    path = Path(name)
    if path.is_dir() or (not path.exists() and (PRETRAINED / name / "config.json").is_file()):
        recipe, meta = read_model_config(path if path.is_dir() else PRETRAINED / name)
        return recipe, meta, "model"
    if path.is_file():
        return load_recipe(path), None, "recipe"
    if name in PRESETS:
        return PRESETS[name](), None, "preset"
    raise InputError(f"{name!r} is not a recipe file, a preset ({', '.join(PRESETS)}) or a model folder / shipped model "
                     f"({', '.join(shipped_models())})")


def format_text(info: dict, name: str, kind: str) -> str:
    """The summary as aligned lines."""
    p, arch = info["parameters"], info["architecture"]
    lines = [f"{name} ({kind})", f"  codec          {info['codec']}, {info['concept_dim']}-d concepts",
             f"  backbone       d {arch['d_model']}, {arch['layers']} layers, {arch['heads']} heads, "
             f"SwiGLU x{arch['ffn_mult']:g} rounded to {arch['ffn_multiple_of']}, max_len {arch['max_len']}",
             f"  head           {arch['head']}"]
    for section in ("diffusion", "quantized"):
        if section in arch:
            lines.append("                 " + ", ".join(f"{k} {v}" for k, v in arch[section].items()))
    lines.append(f"  parameters     {p['total']:,}")
    for part in ("contextualizer", "denoiser", "head", "normalizer"):
        lines.append(f"    {part:<13}{p[part]:>15,}" + ("  (statistics, not trained)" if part == "normalizer" else ""))
    lines.append(f"  FLOPs/concept  {info['flops_per_concept']:.3e}  ({info['flops_formula']})")
    for key, value in info.get("provenance", {}).items():  # a list of texts one per line, sections as compact JSON
        if value in ("", None, {}, []):
            continue
        items = value if isinstance(value, list) and all(isinstance(v, str) for v in value) else [value]
        for i, item in enumerate(items):
            text = item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)
            lines.append(f"  {key if i == 0 else '':<14} {text if len(text) <= 200 else text[:197] + '...'}")
    return "\n".join(lines)


__all__ = ["describe", "format_text", "matmul_params", "resolve", "training_flops_per_position"]
