"""Atomic writes: a file or folder is written under a temporary name beside its destination, then renamed over it,
so a reader (or a run killed at any moment, even by SIGKILL) never sees a half-written one.

    atomic_write_text(path, text)             atomic_write_bytes(path, data)
    with atomic_path(path) as tmp: fig.savefig(tmp)      # any writer that takes a path (numpy, pyarrow, safetensors)
    atomic_dir(folder, lambda tmp: ...)       # a whole folder (checkpoints, exported models)
"""

import glob
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: "str | os.PathLike", mode: int = 0o644):
    """Yield a temporary path beside `path` (same suffix, so writers that read it still work); on success it is
    renamed over `path` with permissions `mode`, on an exception it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.tmp-{os.getpid()}-", suffix=path.suffix)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, mode)  # mkstemp makes 0600; what we write is meant to be read by others
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    for leftover in path.parent.glob(f".{glob.escape(path.stem)}.tmp-*"):  # of this file, by writers killed mid-write
        if leftover.is_file() and _writer_died(leftover.name.split(".tmp-", 1)[1].split("-", 1)[0]):
            leftover.unlink(missing_ok=True)


def atomic_write_bytes(path: "str | os.PathLike", data: bytes, mode: int = 0o644) -> None:
    with atomic_path(path, mode) as tmp, open(tmp, "wb") as f:
        f.write(data)


def atomic_write_text(path: "str | os.PathLike", text: str, mode: int = 0o644) -> None:
    """Write UTF-8 text atomically."""
    atomic_write_bytes(path, text.encode("utf-8"), mode)


def atomic_dir(final: "str | os.PathLike", write) -> Path:
    """Call write(tmp_dir) then rename tmp_dir to `final`, so a reader never sees a half-written directory.

    Afterwards, what writers killed mid-write (e.g. SIGKILL) left beside it is removed (see remove_dead_leftovers).
    """
    final = Path(final)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        write(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)
    remove_dead_leftovers(final.parent)
    return final


def remove_dead_leftovers(folder: Path) -> None:
    """Delete `.NAME.tmp-PID` / `.NAME.old-PID` folders whose writer died mid-write; they are never loaded."""
    for leftover in list(folder.glob(".*.tmp-*")) + list(folder.glob(".*.old-*")):
        if leftover.is_dir() and _writer_died(leftover.name.rsplit("-", 1)[-1]):
            shutil.rmtree(leftover, ignore_errors=True)


def _writer_died(pid: str) -> bool:
    """Whether the process that named a temporary file or folder after its pid is gone (never this process)."""
    if not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)  # still running (another writer in this folder): leave it
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, under another user
        pass
    return False
