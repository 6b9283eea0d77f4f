"""Write bench/bench_asr.py manifests for speech recordings that Debian packages install.

    python bench/asr_manifests.py --out DIR [--per-language 40]

- librivox.tsv: the 5 LibriVox clips of pocketsphinx-testdata (English read speech, with transcripts).
- fillets_nl.tsv, fillets_cs.tsv: voiced game dialogue (real Dutch and Czech voice actors) from fillets-ng-data-nl,
  fillets-ng-data-cs and fillets-ng-data (the dialogue text, in dialogs_<lang>.lua). The actors sometimes deviate
  from the written line, so WER there is an upper bound. GPL-2 data: used here, never committed.
Missing packages are skipped with a note (apt-get install pocketsphinx-testdata fillets-ng-data-nl ...).
"""

import argparse
import re
from pathlib import Path

POCKETSPHINX = Path("/usr/share/pocketsphinx/test/data/librivox")
FILLETS = Path("/usr/share/games/fillets-ng")
_DIALOG = re.compile(r'dialogId\("([^"]+)"[^\n]*\n\s*dialogStr\("((?:[^"\\]|\\.)*)"\)')


def librivox_rows(folder: Path) -> "list[tuple[str, str, str, str]]":
    rows = []
    for line in (folder / "transcription").read_text().splitlines():
        match = re.match(r"<s> (.*) </s> \((.*)\)", line.strip())
        if match:
            rows.append((str(folder / f"{match.group(2)}.wav"), "en", "real", match.group(1)))
    return rows


def fillets_rows(root: Path, lang: str, limit: int) -> "list[tuple[str, str, str, str]]":
    rows = []
    for script in sorted((root / "script").glob(f"*/dialogs_{lang}.lua")):
        level = script.parent.name
        for dialog_id, text in _DIALOG.findall(script.read_text(encoding="utf-8", errors="replace")):
            audio = root / "sound" / level / lang / f"{dialog_id}.ogg"
            if audio.is_file() and len(text.split()) >= 6:  # whole sentences, not one-word exclamations
                rows.append((str(audio), lang, "real", text.replace("\\", "")))
        if len(rows) >= limit:
            break
    return rows[:limit]


def write(out: Path, name: str, rows) -> None:
    if not rows:
        print(f"skipped {name}: its package is not installed")
        return
    lines = ["file\tlang\tkind\ttext"] + ["\t".join(row) for row in rows]
    (out / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {out / name} ({len(rows)} clips)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--per-language", type=int, default=40)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    write(args.out, "librivox.tsv", librivox_rows(POCKETSPHINX) if POCKETSPHINX.is_dir() else [])
    for lang in ("nl", "cs"):
        rows = fillets_rows(FILLETS, lang, args.per_language) if FILLETS.is_dir() else []
        write(args.out, f"fillets_{lang}.tsv", rows)


if __name__ == "__main__":
    main()
