"""Sentence segmentation time against input size: it must grow linearly (about 10x per 10x more words).

    python bench/bench_segment.py [--words 10000,100000,1000000] [--lang en] [--json out.json]

Text is a real paragraph (examples/ruth_1.en.txt) repeated to each size, in two shapes that have no blank lines, so
the whole input is one paragraph: hard-wrapped at 72 columns, and one sentence per line. Prints seconds per size and
the growth ratio per step (a quadratic splitter gives ~100x per 10x).
"""

import argparse
import json
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from encoders.segment import segment  # noqa: E402

SOURCE = ROOT / "examples" / "ruth_1.en.txt"


def make_text(words: int, shape: str) -> str:
    """`words` words of the source paragraph, repeated, hard-wrapped at 72 columns or one sentence per line."""
    base = " ".join(SOURCE.read_text(encoding="utf-8").split())
    tokens = base.split()
    text = " ".join(tokens[i % len(tokens)] for i in range(words))
    if shape == "wrapped":
        return textwrap.fill(text, 72, break_long_words=False, break_on_hyphens=False)
    return "\n".join(segment(base, "en")[i % 29] for i in range(max(1, words // 20)))  # ~20 words per sentence


def main(argv: "list[str] | None" = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", default="10000,100000,1000000", help="comma-separated input sizes in words")
    parser.add_argument("--lang", default="en")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    sizes = [int(w) for w in args.words.split(",")]
    results = {}
    segment(make_text(2000, "wrapped"), args.lang)  # warm up: the splitter compiles its rules on first use
    for shape in ("wrapped", "lines"):
        rows, previous = [], None
        for words in sizes:
            text = make_text(words, shape)
            started = time.perf_counter()
            n = len(segment(text, args.lang, progress=lambda done, total: None))
            seconds = time.perf_counter() - started
            ratio = f"{seconds / previous:.1f}x" if previous else "-"
            print(f"{shape:8s} {words:>9,d} words {len(text):>10,d} chars {n:>7,d} sentences {seconds:8.2f} s  growth {ratio}",
                  flush=True)
            rows.append({"words": words, "chars": len(text), "sentences": n, "seconds": round(seconds, 3)})
            previous = seconds
        results[shape] = rows
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
