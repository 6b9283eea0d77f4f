"""`lcm train`: a recipe (YAML or preset name) with dotted overrides; one process or under torchrun."""

from contextlib import nullcontext
from functools import partial
from pathlib import Path

from lcm.cli.common import add_command, check_writable


def register(sub) -> None:
    """Add train to the `lcm` subparsers."""
    add = partial(add_command, sub)

    p = add("train", "train a model from a YAML recipe; re-running resumes from the last checkpoint")
    p.add_argument("recipe", help="YAML recipe (see recipes/) or a preset name such as two_tower_1_6b")
    p.add_argument("overrides", nargs="*", default=[], metavar="KEY=VALUE",
                   help="optional dotted overrides such as train.steps=100 (before or after the flags)")
    p.add_argument("--no-resume", action="store_true", help="start from scratch even if checkpoints exist")
    p.add_argument("--overwrite", action="store_true",
                   help="delete the checkpoints, model and loss log already in train.out_dir and start from scratch")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)


def cmd_train(args) -> None:
    import sys

    from lcm.model.presets import load
    from lcm.training.distributed import init_distributed, shutdown
    from lcm.training.guard import check_recipe, check_resume, clear_run, run_lock
    from lcm.training.loop import check_data, train

    recipe = load(args.recipe, args.overrides)  # a YAML recipe, or a preset name such as two_tower_1_6b
    check_recipe(recipe)
    check_data(recipe)
    out_dir = check_writable(recipe.train.out_dir, "train.out_dir", folder=True)
    env = init_distributed(recipe.train.device)  # under torchrun (RANK/WORLD_SIZE set): one process group per job
    try:
        with run_lock(out_dir) if env.rank == 0 else nullcontext():
            if args.overwrite and env.rank == 0:
                clear_run(out_dir)
            step = None if args.no_resume or args.overwrite else check_resume(recipe, Path(out_dir))
            if step is not None and env.rank == 0:
                print(f"resuming from step {step} of {recipe.train.steps} ({out_dir}/checkpoints)", file=sys.stderr)
            out = train(recipe, resume=not (args.no_resume or args.overwrite), show_progress=not args.quiet,
                        rank=env.rank, world_size=env.world_size, provenance={"recipe": Path(args.recipe).name})
    finally:
        shutdown()
    if env.rank == 0:
        print(f"model written to {out}")
