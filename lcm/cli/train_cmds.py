"""`lcm train`: a recipe (YAML or preset name) with dotted overrides; one process or under torchrun."""

from functools import partial
from pathlib import Path

from lcm.cli.common import add_command


def register(sub) -> None:
    """Add train to the `lcm` subparsers."""
    add = partial(add_command, sub)

    p = add("train", "train a model from a YAML recipe; re-running resumes from the last checkpoint")
    p.add_argument("recipe", help="YAML recipe (see recipes/)")
    p.add_argument("overrides", nargs="*", help="dotted overrides such as train.steps=100")
    p.add_argument("--no-resume", action="store_true", help="start from scratch even if checkpoints exist")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)


def cmd_train(args) -> None:
    from lcm.model.presets import load
    from lcm.training.distributed import init_distributed, shutdown
    from lcm.training.loop import train

    recipe = load(args.recipe, args.overrides)  # a YAML recipe, or a preset name such as two_tower_1_6b
    env = init_distributed(recipe.train.device)  # under torchrun (RANK/WORLD_SIZE set): one process group per job
    try:
        out = train(recipe, resume=not args.no_resume, show_progress=not args.quiet, rank=env.rank,
                    world_size=env.world_size, provenance={"recipe": Path(args.recipe).name})
    finally:
        shutdown()
    if env.rank == 0:
        print(f"model written to {out}")
