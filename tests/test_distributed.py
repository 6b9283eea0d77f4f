"""Scale-out: global-batch data splits, presets at paper size (meta device), the SLURM script, and real 2-process runs
under torchrun (gloo, CPU): DDP and FSDP2 match one process, a killed rank resumes exactly, killed prepare resumes."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from encoders.errors import InputError
from lcm.config import load_recipe
from lcm.data.batches import batches
from lcm.training.distributed import step_batches
from tests.conftest import make_documents

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "recipes" / "base_lcm_tiny.yaml"
PY = sys.executable


def _write_shards(out: Path, n_docs: int = 48, n_shards: int = 3) -> Path:
    from encoders.retrieval import HashingCodec
    from lcm.data.documents import EOT_SENTENCE, Document
    from lcm.data.shards import write_shard

    codec = HashingCodec(64)
    meta = {"codec": "hashing", "dim": 64, "eot": codec.encode([EOT_SENTENCE], "en")[0].tolist()}
    docs = [Document(f"doc{i}", "eng_Latn", s, codec.encode(s, "en").numpy()) for i, s in enumerate(make_documents(n_docs, seed=1))]
    out.mkdir(parents=True)
    for k in range(n_shards):
        write_shard(out / f"shard_{k:05d}.parquet", docs[k::n_shards], 64, meta)
    return out


@pytest.fixture()
def shards(tmp_path):
    return _write_shards(tmp_path / "shards")


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}


def _torchrun(nproc: int, *args, **kwargs) -> subprocess.Popen:
    cmd = [PY, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", *map(str, args)]
    return subprocess.Popen(cmd, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)


def _finish(proc: subprocess.Popen, timeout: float = 120) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-3000:]
    return out


def _losses(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "loss_log.jsonl").read_text().splitlines()]


def _weights(model_dir: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(model_dir / "model.safetensors"))


def _assert_same_weights(a: dict, b: dict, atol: float) -> None:
    assert a.keys() == b.keys()
    worst = max((a[k].double() - b[k].double()).abs().max().item() for k in a)
    assert worst < atol, worst


def _train_args(shards: Path, out: Path, *extra: str) -> list[str]:
    return [f"data.train={shards}", f"train.out_dir={out}", "train.log_every=1", "data.concepts_per_batch=128",
            "train.data_split=rows", "train.device=cpu", *extra]


# ---------- data path: no process group needed ----------------------------------------------------------------------

def _windows(batch_list) -> list[bytes]:
    return sorted(c[i, :int(v[i].sum())].numpy().tobytes() for c, v in batch_list for i in range(len(c)))


@pytest.mark.parametrize("world", [2, 3])
def test_row_split_recomposes_the_single_process_batches(shards, world):
    kw = dict(eot=None, shuffle=True, seed=3, epoch=1)
    single = list(batches(str(shards), 128, 16, **kw))
    per_rank = [list(batches(str(shards), 128, 16, **kw, rank=r, world_size=world, split="rows")) for r in range(world)]
    assert all(len(p) == len(single) for p in per_rank)  # lockstep: every rank has every global batch
    for k, (c, v) in enumerate(single):
        rows = [_windows([per_rank[r][k]]) for r in range(world)]
        assert sorted(sum(rows, [])) == _windows([(c, v)])  # the ranks' slices are exactly the global batch


def test_shard_split_covers_every_window_once(shards):
    kw = dict(eot=np.zeros(64, dtype=np.float32), shuffle=True, seed=0, epoch=2)
    single = _windows(batches(str(shards), 128, 16, **kw))
    split = sum((_windows(batches(str(shards), 128, 16, **kw, rank=r, world_size=2)) for r in range(2)), [])
    assert sorted(split) == single  # no window dropped or duplicated across ranks within an epoch
    with pytest.raises(InputError, match="shards or rows"):
        next(batches(str(shards), 128, 16, **kw, split="files"))


def test_step_batches_weights_give_the_global_mean():
    # One process: weights are exactly 1, grad_accum groups consecutive batches and the last group may be short.
    valid = [torch.ones(2, n, dtype=torch.bool) for n in (3, 5, 4)]
    steps = list(step_batches(((torch.zeros(2, v.shape[1], 8), v) for v in valid), 2, 1, 8, torch.device("cpu")))
    assert [len(s) for s in steps] == [2, 1]
    # targets per micro-batch: 4, 8 | 6 -> weights n_local / n_step_total
    assert [w for s in steps for *_, w in s] == [4 / 12, 8 / 12, 1.0]
    # an empty slice (fewer rows than ranks) becomes a placeholder that runs with weight 0
    (step,) = step_batches([(torch.zeros(0, 2, 8), torch.zeros(0, 2, dtype=torch.bool))], 1, 1, 8, torch.device("cpu"))
    assert step[0][0].shape == (1, 2, 8) and step[0][3] == 0.0


def test_activation_checkpointing_recomputes_layers_and_keeps_gradients():
    from lcm.model.concept_model import build_model
    from lcm.training.distributed import checkpoint_layers

    recipe = load_recipe(TINY)
    torch.manual_seed(0)
    plain = build_model(recipe)
    recomputing = build_model(recipe)
    recomputing.load_state_dict(plain.state_dict())
    calls = []
    for block in recomputing.backbone.blocks:  # count real executions of each layer's forward
        block.forward = (lambda f: lambda *a, **k: calls.append(1) or f(*a, **k))(block.forward)
    checkpoint_layers(recomputing)
    concepts, valid = torch.randn(3, 6, 64), torch.ones(3, 6, dtype=torch.bool)
    valid[1, 4:] = False
    for model in (plain, recomputing):
        model(concepts, valid)[0].backward()
    assert len(calls) == 2 * len(recomputing.backbone.blocks)  # once in forward, once more in backward
    assert list(recomputing.state_dict()) == list(plain.state_dict())  # parameter names unchanged
    for (name, p), q in zip(plain.named_parameters(), recomputing.parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-6), name


# ---------- presets ------------------------------------------------------------------------------------------------

# Paper sizes (LCM paper: "1.6B" models, "7B" Two-Tower). Counted: every parameter of the built model (PreNet, backbone,
# head; buffers such as the normalizer are not parameters); the denoiser has Meta's diagonal self-attention.
PAPER_SIZES = [("base_lcm_1_6b", 1.6e9), ("two_tower_1_6b", 1.6e9), ("two_tower_7b", 7.0e9)]


@pytest.mark.parametrize("name,paper", PAPER_SIZES, ids=[p[0] for p in PAPER_SIZES])
def test_paper_presets_have_the_paper_sizes_on_the_meta_device(name, paper):
    from lcm.model.concept_model import build_model
    from lcm.model.presets import PRESETS

    recipe = PRESETS[name]()
    with torch.device("meta"):
        model = build_model(recipe)
    assert all(p.is_meta for p in model.parameters())  # nothing was allocated
    counted = model.num_parameters()
    assert abs(counted - paper) / paper < 0.05, (name, counted)  # within 5% of the paper's size (Meta's: 1%, test_meta_parity)
    cfg = recipe.model
    d, L = cfg.d_model, cfg.n_layers
    f = -(-int(cfg.ffn_mult * d * 2 / 3) // cfg.ffn_multiple_of) * cfg.ffn_multiple_of  # 5632 at d 2048
    backbone = sum(p.numel() for p in model.backbone.parameters())
    assert backbone == L * (4 * d * d + 3 * d * f + 2 * d) + (d if L else 0)  # the analytic count: attn, SwiGLU, norms


def test_presets_load_by_name_with_overrides():
    from lcm.model.presets import load

    recipe = load("two_tower_7b", ["train.steps=10", "train.betas=0.8,0.9", "diffusion.n_layers=2"])
    assert (recipe.train.steps, recipe.train.betas, recipe.diffusion.n_layers, recipe.model.d_model) == (10, (0.8, 0.9), 2, 4096)
    assert load(str(TINY)).model.d_model == 64  # a path is still a YAML recipe
    with pytest.raises(InputError, match="not found"):
        load("two_tower_9b")


@pytest.mark.parametrize("name", ["base_lcm_tiny", "two_tower_tiny"])
def test_tiny_presets_train_a_step(name, shards, tmp_path):
    from lcm.model.io import load_model
    from lcm.model.presets import PRESETS
    from lcm.training.loop import train

    recipe = PRESETS[name]()
    recipe.data.train, recipe.train.out_dir, recipe.train.steps = str(shards), str(tmp_path / "run"), 2
    _, _, meta = load_model(train(recipe, show_progress=False))
    assert meta["provenance"]["trained_steps"] == 2


# ---------- SLURM ----------------------------------------------------------------------------------------------------

def test_sbatch_script_runs_torchrun_on_every_node(tmp_path):
    from lcm.config import SlurmConfig
    from lcm.training.slurm import main, sbatch_script

    text = sbatch_script(SlurmConfig(nodes=4, gpus_per_node=8, partition="gpu", time="2-00:00:00",
                                     setup="source .venv/bin/activate"), "recipes/x y.yaml", ["train.steps=10"])
    lines = text.splitlines()
    assert lines[0] == "#!/bin/bash"
    for directive in ("--nodes=4", "--ntasks-per-node=1", "--gpus-per-node=8", "--partition=gpu", "--time=2-00:00:00", "--requeue"):
        assert f"#SBATCH {directive}" in lines
    assert not any("--account" in ln for ln in lines)  # empty fields are left to the cluster's defaults
    assert lines.index("source .venv/bin/activate") < next(i for i, ln in enumerate(lines) if ln.startswith("srun"))
    launch = lines[next(i for i, ln in enumerate(lines) if ln.startswith("srun"))]
    assert "--nproc_per_node=8" in launch and '--nnodes="$SLURM_NNODES"' in launch and "--rdzv_backend=c10d" in launch
    assert launch.endswith("-m lcm train 'recipes/x y.yaml' train.steps=10 --quiet")  # shell-quoted
    with pytest.raises(InputError, match="HH:MM:SS"):
        sbatch_script(SlurmConfig(time="forever"), "r.yaml")
    # from a recipe's train.resources section, a flag overriding it, written atomically
    out = tmp_path / "job.sbatch"
    logs = tmp_path / "logs"
    assert main([str(TINY), "train.resources.nodes=2", "--gpus-per-node", "4", "--log-dir", str(logs), "-o", str(out)]) == 0
    text = out.read_text()
    assert "#SBATCH --nodes=2" in text and "--nproc_per_node=4" in text and os.access(out, os.X_OK)
    assert logs.is_dir()  # SLURM needs the log folder before the job starts
    assert subprocess.run(["bash", "-n", str(out)]).returncode == 0  # the script parses as bash
    assert main([str(TINY), "--time", "soon", "-o", str(tmp_path / "bad.sbatch")]) == 2
    assert not (tmp_path / "bad.sbatch").exists()


# ---------- torchrun: 2 processes, gloo ------------------------------------------------------------------------------

CASES = [("ddp", 1, False), ("ddp", 2, False), ("fsdp", 1, True)]


@pytest.mark.slow
@pytest.mark.parametrize("strategy,accum,recompute", CASES, ids=[f"{s}-accum{a}{'-ac' * r}" for s, a, r in CASES])
def test_two_processes_match_one_process(strategy, accum, recompute, shards, tmp_path):
    from lcm.training.loop import train

    extra = [f"train.strategy={strategy}", f"train.grad_accum={accum}", "train.steps=10", "train.checkpoint_every=4",
             f"data.valid={shards}", "train.eval_every=5"]  # every rank evaluates (FSDP gathers its shards to do so)
    # the reference never recomputes activations: checkpointing under FSDP must not change the result either
    ref = load_recipe(TINY, _train_args(shards, tmp_path / "one", *extra))
    extra.append(f"train.activation_checkpointing={recompute}")
    proc = _torchrun(2, "-m", "lcm", "train", TINY, *_train_args(shards, tmp_path / "two", *extra), "--quiet")
    train(ref, show_progress=False)
    _finish(proc)
    one, two = _losses(tmp_path / "one"), _losses(tmp_path / "two")
    assert [r["step"] for r in two] == list(range(1, 11))
    assert [r["concepts"] for r in one] == [r["concepts"] for r in two]  # the same global batches
    np.testing.assert_allclose([r["loss"] for r in two], [r["loss"] for r in one], rtol=1e-4)
    valid = [[(r["step"], r["valid_loss"]) for r in run if "valid_loss" in r] for run in (one, two)]
    assert [s for s, _ in valid[1]] == [5, 10] and [s for s, _ in valid[0]] == [5, 10]
    np.testing.assert_allclose([v for _, v in valid[1]], [v for _, v in valid[0]], rtol=1e-3)
    _assert_same_weights(_weights(tmp_path / "two" / "model"), _weights(tmp_path / "one" / "model"), atol=1e-4)
    if strategy == "fsdp":  # checkpoints hold full tensors whatever the sharding: a 1-process run resumes from them
        ckpt = _weights(tmp_path / "two" / "checkpoints" / "step_00000008")
        assert ckpt.keys() == _weights(tmp_path / "one" / "model").keys()


def _worker_pids(parent: int) -> list[int]:
    """Children of `parent` (torchrun's workers), from /proc."""
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            kids.append(int(stat.parent.name))
    return sorted(kids)


@pytest.mark.slow
def test_killed_rank_resumes_from_the_last_complete_checkpoint(shards, tmp_path):
    from lcm.training.checkpoints import load_latest_training_state
    from lcm.training.loop import train

    run, steps = tmp_path / "two", 80
    args = _train_args(shards, run, f"train.steps={steps}", "train.checkpoint_every=5", "train.keep_checkpoints=3")
    proc = _torchrun(2, "-m", "lcm", "train", TINY, *args, "--quiet")
    ckpts = run / "checkpoints"
    deadline = time.monotonic() + 90
    while not (ckpts / "step_00000010").exists():
        assert proc.poll() is None and time.monotonic() < deadline, "training ended before it could be killed"
        time.sleep(0.02)
    workers = _worker_pids(proc.pid)
    assert len(workers) == 2
    os.kill(workers[-1], signal.SIGKILL)  # one rank dies mid-training; torchrun tears the job down
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode != 0
    visible = sorted(p.name for p in ckpts.glob("step_*"))
    assert visible and visible[-1] < f"step_{steps:08d}", visible  # it really stopped mid-way
    for name in visible:  # every visible checkpoint is complete and loadable
        assert {"model.safetensors", "optimizer.safetensors", "state.json"} <= {p.name for p in (ckpts / name).iterdir()}
    # A torn checkpoint at a later step (as a non-atomic writer would leave) must be skipped, not loaded.
    torn = ckpts / "step_00000079"
    torn.mkdir()
    (torn / "state.json").write_text(json.dumps({"step": 79}))
    (torn / "model.safetensors").write_bytes(b"\x00" * 10)
    resumed = _finish(_torchrun(2, "-m", "lcm", "train", TINY, *args))
    assert "skipping unreadable checkpoint" in resumed
    assert [r["step"] for r in _losses(run)] == list(range(1, steps + 1))  # no duplicates, no gap
    # and resuming lost nothing: the result equals one uninterrupted single-process run
    train(load_recipe(TINY, _train_args(shards, tmp_path / "one", f"train.steps={steps}", "train.checkpoint_every=1000")),
          show_progress=False)
    _assert_same_weights(_weights(run / "model"), _weights(tmp_path / "one" / "model"), atol=5e-4)
    assert load_latest_training_state(run, *_model_and_optimizer(run))["step"] == steps


def _model_and_optimizer(run: Path):
    from lcm.model.concept_model import build_model
    from lcm.model.export_config import read_model_config
    from encoders.shared.training import make_optimizer

    recipe, _ = read_model_config(run / "model")
    model = build_model(recipe)
    return model, make_optimizer(model, recipe.train)


@pytest.mark.slow
def test_shard_split_with_uneven_shards_sees_each_concept_once_per_epoch(tmp_path):
    shards = _write_shards(tmp_path / "shards", n_docs=30, n_shards=3)  # rank 0 reads 2 shards, rank 1 reads 1
    run = tmp_path / "run"
    args = [f"data.train={shards}", f"train.out_dir={run}", "train.log_every=1", "data.concepts_per_batch=64",
            "train.steps=40", "train.device=cpu", "train.data_split=shards", "data.shuffle=false",
            "train.strategy=fsdp", "train.precision=bf16"]  # and FSDP2 mixed precision runs (bf16 compute, fp32 reduce)
    _finish(_torchrun(2, "-m", "lcm", "train", TINY, *args, "--quiet"))
    log = _losses(run)
    assert all(np.isfinite(r["loss"]) for r in log) and log[-1]["loss"] < log[0]["loss"]
    eot = np.zeros(64, dtype=np.float32)
    per_epoch = sum(int(v.sum()) for _, v in batches(str(shards), 64, 64, eot=eot, shuffle=False, seed=0, epoch=0))
    epochs = {}
    for r in log:
        epochs[r["epoch"]] = epochs.get(r["epoch"], 0) + r["concepts"]
    complete = [e for e in epochs if e < max(epochs)]
    assert complete and all(epochs[e] == per_epoch for e in complete), (epochs, per_epoch)


@pytest.mark.slow
def test_killed_prepare_resumes_to_the_same_shards(tmp_path):
    from lcm.cli import main

    data = tmp_path / "docs.jsonl"
    data.write_text("".join(json.dumps({"id": f"d{i}", "sentences": s, "lang": "en"}) + "\n"
                            for i, s in enumerate(make_documents(30, seed=2))))
    codec = ["--codec", "hashing", "--codec-opt", "dim=64"]
    # reference: one uninterrupted process (the output must not depend on the number of processes either)
    assert main(["prepare", str(data), "-o", str(tmp_path / "ref"), "--docs-per-shard", "3", *codec]) == 0
    # a 2-process run whose rank 1 is SIGKILLed after its second shard; rank 0 is torn down by torchrun
    crash = tmp_path / "crash.py"
    crash.write_text(
        "import os, signal\nfrom encoders import load_codec\nfrom lcm.data.prepare import prepare\n"
        "rank, world = int(os.environ['RANK']), int(os.environ['WORLD_SIZE'])\n"
        "def progress(index, n):\n"
        "    if rank == 1 and index == 3:\n        os.kill(os.getpid(), signal.SIGKILL)\n"
        f"prepare({str(data)!r}, {str(tmp_path / 'out')!r}, load_codec('hashing', dim=64), docs_per_shard=3,\n"
        "        rank=rank, world_size=world, progress=progress)\n"
        "import torch.distributed as dist\ndist.init_process_group('gloo')\ndist.barrier()\n")
    proc = _torchrun(2, crash)
    proc.communicate(timeout=120)
    assert proc.returncode != 0
    out = tmp_path / "out"
    partial = sorted(p.name for p in out.glob("shard_*.parquet"))
    assert "shard_00003.parquet" in partial and "shard_00009.parquet" not in partial and not (out / "manifest.json").exists()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout
    (out / f".shard_00005.tmp-{int(dead)}-x1y2.parquet").write_bytes(b"PAR1 torn")  # what a kill mid-write leaves
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("shard_*.parquet")}
    _finish(_torchrun(2, "-m", "lcm", "prepare", data, "-o", out, "--docs-per-shard", "3", *codec))
    assert all(p.stat().st_mtime_ns == before[p.name] for p in out.glob("shard_*.parquet") if p.name in before)  # skipped
    ref = json.loads((tmp_path / "ref" / "manifest.json").read_text())
    got = json.loads((out / "manifest.json").read_text())
    assert len(ref["shards"]) == 10 and got == ref  # same files, counts and sha256: byte-identical shards
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in (tmp_path / "ref").iterdir())  # no .tmp left
