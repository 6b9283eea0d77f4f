"""The `lcm` command line: the parser is built from the command groups, each in its own module.

    common.py      shared options, examples, codec/model loading, input reading (imported by every group)
    data_cmds.py   encode, decode, prepare
    train_cmds.py  train
    gen_cmds.py    generate
    apps_cmds.py   summarize, story, infill, interpolate
    eval_cmds.py   eval, xling
    tool_cmds.py   bench, plot
    info_cmds.py   info
    speech_cmds.py transcribe; audio input (--asr-model) for encode, summarize, generate, story, infill, xling
"""

import argparse
import os
import sys

from lcm import __version__
from lcm.cli import apps_cmds, data_cmds, eval_cmds, gen_cmds, info_cmds, speech_cmds, tool_cmds, train_cmds
from lcm.cli.common import EXAMPLES, NOTES, run_command

GROUPS = (data_cmds, train_cmds, gen_cmds, apps_cmds, eval_cmds, tool_cmds, info_cmds,
          speech_cmds)  # the order of `lcm --help`; speech_cmds last: it adds audio input to the others


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lcm", description="Large Concept Models: model text as a sequence of sentence concepts.",
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="examples:\n" + "\n".join(f"  {e.splitlines()[0]}" for e in EXAMPLES.values()))
    parser.add_argument("--version", action="version", version=f"lcm-toolkit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: "list[str] | None" = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and getattr(args, "command", None) == "train" and all("=" in e and not e.startswith("-") for e in extra):
        args.overrides = args.overrides + extra  # dotted overrides after a flag: `lcm train R --quiet train.steps=5`
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    NOTES.clear()
    try:
        return run_command(args.func, args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and closed early: not an error worth a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0

