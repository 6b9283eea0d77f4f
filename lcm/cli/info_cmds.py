"""`lcm info`: architecture, parameter counts by part, FLOPs per concept and provenance of a recipe, preset or model."""

import json
from functools import partial

from lcm.cli.common import add_command


def register(sub) -> None:
    """Add info to the `lcm` subparsers."""
    p = partial(add_command, sub)("info", "describe a recipe, preset or model: architecture, parameters by part, "
                                          "FLOPs per concept, codec, and a shipped model's training")
    p.add_argument("target", metavar="RECIPE|PRESET|MODEL",
                   help="a YAML recipe, a preset name (e.g. two_tower_1_6b), a model folder or a shipped model's name")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_info)


def cmd_info(args) -> None:
    from lcm.model.info import describe, format_text, resolve

    recipe, meta, kind = resolve(args.target)
    info = describe(recipe, meta)
    print(json.dumps({"name": args.target, "kind": kind, **info}, indent=2) if args.json
          else format_text(info, args.target, kind))
