"""Story planning: the next N concepts of a story, one by one or by parallel plan diffusion, and a PCA plot of them."""

import os

import torch

from encoders.errors import InputError
from lcm.inference.generate import GenerationConfig, check_prompts, generate


def plan_story(model, codec, sentences: list[str], src_lang: str, n_new: int, gen: GenerationConfig, parallel=None):
    """Plan n_new next concepts after the given opening; returns (opening concepts, planned concepts).

    `parallel` (a diffusion_head.plan.PlanConfig) denoises blocks of concepts jointly instead of one after another.
    """
    if n_new < 1:
        raise InputError(f"-n/--sentences must be at least 1, got {n_new}")
    prompt = codec.encode(sentences, src_lang)
    if parallel is not None:
        from diffusion_head.plan import parallel_plan

        check_prompts([prompt], model.cfg.concept_dim)
        return prompt, parallel_plan(model, prompt, n_new, parallel, gen.head_options, gen.seed)
    (plan,), _ = generate(model, [prompt], GenerationConfig(**{**gen.__dict__, "max_new": n_new, "min_new": n_new}))
    return prompt, plan



def plot_trajectory(real: torch.Tensor, generated: torch.Tensor, path: str, title: str = "concept trajectory") -> None:
    """PCA of the opening (real) and planned (generated) concepts, connected in order, written to a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    allc = torch.cat([real, generated]).float()
    centered = allc - allc.mean(0)
    _, _, v = torch.linalg.svd(centered, full_matrices=False)
    xy = (centered @ v[:2].T).numpy()  # (N, 2)
    n = len(real)
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.plot(xy[:n, 0], xy[:n, 1], "o-", color="tab:blue", label="input")
    ax.plot(xy[n - 1:n + 1, 0], xy[n - 1:n + 1, 1], ":", color="gray")  # the last input leads into the plan
    ax.plot(xy[n:, 0], xy[n:, 1], "s--", color="tab:orange", label="planned")
    for i, (x, y) in enumerate(xy):  # inputs i1..iN; planned concepts numbered 1..K as in the outline
        ax.annotate(f"i{i + 1}" if i < n else str(i - n + 1), (x, y), fontsize=7)
    ax.set(title=title, xlabel="PC 1", ylabel="PC 2")
    ax.legend()
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)
