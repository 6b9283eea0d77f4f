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


def test_codec_and_lcm_recipes_read_values_the_same_way(tmp_path):
    """One loader: the same text gives the same value in an LCM recipe and in a codec recipe."""
    from encoders.embedded.config import load_recipe as load_codec_recipe
    from encoders.errors import InputError
    from lcm.config import load_recipe

    lcm_recipe = load_recipe(_write(tmp_path / "r.yaml", "train:\n  steps: 5\n"),
                             ["train.lr=5e-4", "train.betas=0.8,0.9", "data.shuffle=no", "train.out_dir=2024", "data.valid="])
    codec_recipe = load_codec_recipe(None, ["train.lr=5e-4", "train.resume=no", "train.work_dir=2024", "data.langs=en,fr"])
    assert (lcm_recipe.train.lr, codec_recipe.train.lr) == (5e-4, 5e-4)
    assert lcm_recipe.train.betas == (0.8, 0.9) and codec_recipe.data.langs == ["en", "fr"]
    assert lcm_recipe.data.shuffle is False and codec_recipe.train.resume is False
    assert (lcm_recipe.train.out_dir, codec_recipe.train.work_dir) == ("2024", "2024")  # a string field keeps the text
    assert lcm_recipe.data.valid == "" and lcm_recipe.train.steps == 5
    for load, override in ((lambda o: load_recipe(tmp_path / "r.yaml", o), "train.steps=2.5"),
                           (lambda o: load_codec_recipe(None, o), "train.max_steps=2.5"),
                           (lambda o: load_recipe(tmp_path / "r.yaml", o), "data.shuffle=maybe"),
                           (lambda o: load_codec_recipe(None, o), "train.batch_size=true")):
        key, value = override.split("=")
        with pytest.raises(InputError, match=f"recipe key '{key}': cannot use"):
            load([override])
    with pytest.raises(InputError, match="unknown recipe key 'model.d_modle'; valid keys here: .*d_model"):
        load_codec_recipe(None, ["model.d_modle=3"])


def _write(path, text):
    path.write_text(text)
    return path
