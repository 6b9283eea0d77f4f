"""Story planning: the next N concepts of a story, one by one or by parallel plan diffusion, and a PCA plot of them."""

from dataclasses import replace

import torch

from encoders.errors import InputError
from lcm.inference.generate import GenerationConfig, check_count, check_prompts, generate


def plan_config(parallel: "int | None", passes: int = 1, strength: float = 0.5):
    """The parallel plan diffusion settings (--parallel K, --passes, --strength), or None to plan one by one."""
    if parallel is None:
        if (passes, strength) != (1, 0.5):
            raise InputError("--passes and --strength only apply to parallel planning; add --parallel K")
        return None
    from diffusion_head.plan import PlanConfig

    return PlanConfig(block=parallel, passes=passes, strength=strength)


def plan_story(model, codec, sentences: list[str], src_lang: str, n_new: int, gen: GenerationConfig, parallel=None):
    """Plan n_new next concepts after the given opening; returns (opening concepts, planned concepts).

    `parallel` (a diffusion_head.plan.PlanConfig) denoises blocks of concepts jointly instead of one after another.
    """
    check_count(n_new)
    prompt = codec.encode(sentences, src_lang)
    if parallel is not None:
        from diffusion_head.plan import parallel_plan

        check_prompts([prompt], model.cfg.concept_dim)
        return prompt, parallel_plan(model, prompt, n_new, parallel, gen.head_options, gen.seed)
    (plan,), _ = generate(model, [prompt], replace(gen, max_new=n_new, min_new=n_new))
    return prompt, plan



def plot_trajectory(real: torch.Tensor, generated: torch.Tensor, path: str, title: str = "concept trajectory") -> None:
    """PCA of the opening (real) and planned (generated) concepts, connected in order, written to a PNG."""
    from lcm.plotting import pyplot, save_figure

    allc = torch.cat([real, generated]).float()
    centered = allc - allc.mean(0)
    _, _, v = torch.linalg.svd(centered, full_matrices=False)
    xy = (centered @ v[:2].T).numpy()  # (N, 2)
    n = len(real)
    fig, ax = pyplot().subplots(figsize=(6, 5))
    ax.plot(xy[:n, 0], xy[:n, 1], "o-", color="tab:blue", label="input")
    ax.plot(xy[n - 1:n + 1, 0], xy[n - 1:n + 1, 1], ":", color="gray")  # the last input leads into the plan
    ax.plot(xy[n:, 0], xy[n:, 1], "s--", color="tab:orange", label="planned")
    for i, (x, y) in enumerate(xy):  # inputs i1..iN; planned concepts numbered 1..K as in the outline
        ax.annotate(f"i{i + 1}" if i < n else str(i - n + 1), (x, y), fontsize=7)
    ax.set(title=title, xlabel="PC 1", ylabel="PC 2")
    ax.legend()
    save_figure(fig, path)
