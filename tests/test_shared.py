"""encoders.shared: the atomic writes, recipe loading and training helpers that the codec and LCM code share."""

import os
import stat

import pytest

from encoders.shared.atomic import atomic_dir, atomic_path, atomic_write_text


def test_atomic_write_replaces_whole_files_and_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "sub" / "report.json"
    atomic_write_text(target, "first")
    atomic_write_text(target, "second", mode=0o755)
    assert target.read_text() == "second" and stat.S_IMODE(target.stat().st_mode) == 0o755
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        assert tmp.endswith(".json") and os.path.dirname(tmp) == str(target.parent)  # writers that read the suffix
        open(tmp, "w").write("half")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "second" and os.listdir(target.parent) == ["report.json"]


def test_atomic_dir_swaps_the_folder_and_cleans_up_after_a_failed_write(tmp_path):
    final = tmp_path / "model"
    atomic_dir(final, lambda tmp: (tmp / "a.txt").write_text("1"))
    atomic_dir(final, lambda tmp: (tmp / "b.txt").write_text("2"))
    assert sorted(os.listdir(final)) == ["b.txt"]

    def broken(tmp):
        (tmp / "c.txt").write_text("3")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_dir(final, broken)
    assert sorted(os.listdir(tmp_path)) == ["model"] and sorted(os.listdir(final)) == ["b.txt"]
