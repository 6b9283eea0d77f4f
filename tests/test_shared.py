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


def test_a_dead_writers_temporary_file_is_removed_by_the_next_write(tmp_path):
    import subprocess
    import sys

    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True).stdout)
    torn = tmp_path / f".shard.tmp-{dead}-abc.parquet"  # what a write killed by SIGKILL leaves
    alive = tmp_path / ".shard.tmp-1-abc.parquet"  # pid 1 still runs: its write may be in progress
    torn.write_bytes(b"PAR1 torn")
    alive.write_bytes(b"PAR1 writing")
    atomic_write_text(tmp_path / "shard.parquet", "done")
    assert not torn.exists() and alive.exists()


def test_checkpoints_hold_no_pickle_and_restore_tied_weights_and_the_optimizer(tmp_path):
    import json

    import torch

    from encoders.shared.training import make_optimizer, read_checkpoint, write_checkpoint

    class Tied(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed, self.out = torch.nn.Embedding(5, 3), torch.nn.Linear(3, 5, bias=False)
            self.out.weight = self.embed.weight

    class Cfg:
        lr, weight_decay, betas = 0.1, 0.0, (0.9, 0.98)

    torch.manual_seed(0)
    model = Tied()
    optimizer = make_optimizer(model, Cfg)
    model.out(model.embed(torch.tensor([1, 2]))).sum().backward()
    optimizer.step()
    write_checkpoint(tmp_path / "ckpt", model, optimizer, {"step": 7})
    assert json.loads((tmp_path / "ckpt" / "state.json").read_text())["tied"] == {"out.weight": "embed.weight"}
    fresh = Tied()
    fresh_optimizer = make_optimizer(fresh, Cfg)
    assert read_checkpoint(tmp_path / "ckpt", fresh, fresh_optimizer) == {"step": 7}
    assert torch.equal(fresh.out.weight, model.embed.weight) and fresh.out.weight is fresh.embed.weight
    for a, b in zip(optimizer.state.values(), fresh_optimizer.state.values()):
        assert all(torch.equal(a[k], b[k]) for k in a)
