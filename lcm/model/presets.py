"""Architecture presets: plain functions returning a RecipeConfig, collected in PRESETS (no registry, no builders).

The paper-scale presets follow the LCM paper (arXiv 2412.08821) and Meta's release (github.com/facebookresearch/
large_concept_model): SONAR 1024-d concepts, documents wrapped at 128 concepts, AdamW lr 4e-4 with 10k warmup and
cosine decay over 250k steps, grad clip 25, 32 GPUs (4 nodes x 8). They train with FSDP2 in bf16. "FFN 8192" is the
4 x d feed-forward the paper quotes; our SwiGLU keeps that parameter count with a 2/3-sized gated hidden layer
(ffn_mult=4) rounded up to a multiple of 256, as fairseq2's GLU does (5632 at d 2048), so the parameter counts match
Meta's: 1,647,635,456 (Base-LCM 1.6B), 1,635,101,696 (Two-Tower 1.6B), 6,930,781,696 (Two-Tower 7B).
Meta's loss sums over positions with grad clip 25; ours averages (train.grad_clip then acts on a smaller gradient).

    from lcm.model.presets import PRESETS
    recipe = PRESETS["two_tower_1_6b"]()
    recipe.data.train = "shards/train"
or by name on the command line, in place of a YAML recipe:
    torchrun --nnodes 4 --nproc_per_node 8 ... -m lcm train two_tower_1_6b data.train=shards/train
"""

from pathlib import Path

from diffusion_head.config import DiffusionHeadConfig
from encoders.shared.recipes import apply_overrides, from_dict, to_dict
from lcm.config import DataConfig, ModelConfig, RecipeConfig, SlurmConfig, TrainConfig, load_recipe


def _paper_scale(model: ModelConfig, out_dir: str, diffusion: "DiffusionHeadConfig | None" = None) -> RecipeConfig:
    """SONAR concepts, documents wrapped at 128, the paper's optimiser and schedule, FSDP2 + bf16 on 4 x 8 GPUs."""
    model.concept_dim, model.max_len, model.dropout = 1024, 128, 0.1
    train = TrainConfig(out_dir=out_dir, steps=250_000, lr=4e-4, warmup_steps=10_000, grad_clip=25.0, weight_decay=0.1,
                        precision="bf16", strategy="fsdp", checkpoint_every=5_000, keep_checkpoints=3,
                        resources=SlurmConfig(nodes=4, gpus_per_node=8))
    return RecipeConfig(codec="sonar", model=model, diffusion=diffusion or DiffusionHeadConfig(),
                        data=DataConfig(concepts_per_batch=7168), train=train)


def base_lcm_1_6b() -> RecipeConfig:
    """Base-LCM 1.6B: d 2048, 32 layers, 16 heads, FFN 4 x d, MSE head (paper sec. 2.3.1)."""
    return _paper_scale(ModelConfig(d_model=2048, n_layers=32, n_heads=16, ffn_mult=4.0, ffn_multiple_of=256, head="mse"),
                        "runs/base_lcm_1_6b")


def _two_tower(d_model: int, n_heads: int, context_layers: int, denoiser_layers: int, out_dir: str) -> RecipeConfig:
    contextualizer = ModelConfig(d_model=d_model, n_layers=context_layers, n_heads=n_heads, ffn_mult=4.0,
                                 ffn_multiple_of=256, head="diffusion")
    denoiser = DiffusionHeadConfig(tower="two_tower", d_model=d_model, n_layers=denoiser_layers, n_heads=n_heads,
                                   ffn_mult=4.0, ffn_multiple_of=256, dropout=0.1)
    return _paper_scale(contextualizer, out_dir, denoiser)


def two_tower_1_6b() -> RecipeConfig:
    """Two-Tower 1.6B: contextualizer 5 layers + denoiser 13 layers, d 2048, 16 heads (paper sec. 2.3.4)."""
    return _two_tower(2048, 16, 5, 13, "runs/two_tower_1_6b")


def two_tower_7b() -> RecipeConfig:
    """Two-Tower 7B: contextualizer 5 layers + denoiser 14 layers, d 4096, 32 heads (paper sec. 4)."""
    return _two_tower(4096, 32, 5, 14, "runs/two_tower_7b")


def _tiny(head: str, out_dir: str, diffusion: "DiffusionHeadConfig | None" = None) -> RecipeConfig:
    """64-d hashing concepts, d 64, 2 layers: trains in seconds on CPU (2 CPU processes under SLURM)."""
    return RecipeConfig(codec="hashing",
                        model=ModelConfig(concept_dim=64, d_model=64, n_layers=2, n_heads=4, dropout=0.0, max_len=64, head=head),
                        diffusion=diffusion or DiffusionHeadConfig(), data=DataConfig(concepts_per_batch=256),
                        train=TrainConfig(out_dir=out_dir, steps=60, lr=3e-3, warmup_steps=5, checkpoint_every=20, log_every=5,
                                          device="cpu", resources=SlurmConfig(gpus_per_node=0, cpu_procs_per_node=2,
                                                                              cpus_per_task=2)))


def base_lcm_tiny() -> RecipeConfig:
    """A Base-LCM for tests and smoke runs on CPU."""
    return _tiny("mse", "runs/base_lcm_tiny")


def two_tower_tiny() -> RecipeConfig:
    """A Two-Tower LCM for tests and smoke runs on CPU (denoiser d 64, 2 layers)."""
    return _tiny("diffusion", "runs/two_tower_tiny", DiffusionHeadConfig(tower="two_tower", d_model=64, n_layers=2, n_heads=4))


PRESETS = {f.__name__: f for f in (base_lcm_1_6b, two_tower_1_6b, two_tower_7b, base_lcm_tiny, two_tower_tiny)}


def load(recipe: str, overrides: list[str] = ()) -> RecipeConfig:
    """A YAML recipe path, or a preset name (e.g. two_tower_1_6b), with dotted overrides applied."""
    if recipe in PRESETS and not Path(recipe).exists():
        return from_dict(RecipeConfig, apply_overrides(to_dict(PRESETS[recipe]()), list(overrides)))
    return load_recipe(recipe, overrides)
