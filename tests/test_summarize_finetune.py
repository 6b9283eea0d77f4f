"""Summarization fine-tuning: document -> separator -> summary sequences, loss on the summary only, init_from."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from encoders.errors import InputError
from lcm.config import load_recipe
from lcm.data.batches import batches
from lcm.data.documents import Document, load_documents
from lcm.data.shards import read_shard, write_shard
from lcm.model.concept_model import build_model
from lcm.model.export_config import read_model_config
from lcm.model.io import load_model
from lcm.training.finetune import architecture_mismatch
from lcm.training.loop import train
from tests.conftest import load_script, make_documents

ROOT = Path(__file__).resolve().parent.parent
SEPARATOR = "In summary:"


def _builder():
    return load_script("scripts/make_summary_data.py")


def _codec_and_meta():
    from encoders.retrieval import HashingCodec
    from lcm.data.documents import EOT_SENTENCE

    codec = HashingCodec(64)
    return codec, {"codec": "hashing", "dim": 64, "eot": codec.encode([EOT_SENTENCE], "en")[0].tolist()}


def _summary_shards(out: Path, n_docs: int = 8) -> Path:
    """Shards of [document, separator, summary] rows (loss_start = first summary sentence), hashing codec."""
    codec, meta = _codec_and_meta()
    docs = []
    for i, sentences in enumerate(make_documents(n_docs, seed=3)):
        row = sentences + [SEPARATOR] + sentences[:2]
        docs.append(Document(f"pair{i}", "eng_Latn", row, codec.encode(row, "en").numpy(), loss_start=len(sentences) + 1))
    out.mkdir(parents=True)
    write_shard(out / "shard_00000.parquet", docs, 64, meta)
    return out


def test_training_sequence_fits_max_len_and_marks_the_summary():
    build = _builder()
    doc, summary = [f"Body sentence {i}." for i in range(200)], ["First summary.", "Second summary."]
    sentences, loss_start = build.training_sequence(doc, summary, SEPARATOR, max_len=128)
    assert len(sentences) + 1 == 128  # + the end-of-text concept the loader appends
    assert sentences[:loss_start - 1] == doc[:loss_start - 1]  # the first document sentences, in order
    assert sentences[loss_start - 1] == SEPARATOR and sentences[loss_start:] == summary
    short, start = build.training_sequence(doc[:5], summary, SEPARATOR, max_len=128)
    assert short == doc[:5] + [SEPARATOR] + summary and start == 6
    assert build.training_sequence(doc, ["s."] * 125, SEPARATOR, max_len=128) is None  # no room left for the document


def test_licence_follows_the_anthology_year():
    build = _builder()
    assert build.paper_year("2020.acl-main.47") == 2020 and build.paper_year("P16-1001") == 2016
    assert build.paper_year("D09-1016") == 2009 and build.paper_year("H89-2001") == 1989
    assert build.is_cc_by("N16-1012") and not build.is_cc_by("P15-1001")
    rows = [{"source": "aclsum", "doc_id": f"aclsum/{pid}#{kind}", "split": "train", "lang": "en",
             "document": "One sentence here. Another one there. A third one too.", "summary": "The summary."}
            for pid in ("P15-1001", "2021.acl-long.3") for kind in ("abstract", "outcome")]
    sequences, pairs, counts = build.build(rows, ("abstract",), "cc-by", 128, SEPARATOR)
    assert [s["doc_id"] for s in sequences["train"]] == ["aclsum/2021.acl-long.3#abstract"]
    assert counts["skipped_licence"] == 1 and counts["skipped_kind"] == 2
    assert len(pairs[("train", "abstract")]) == 2  # eval pairs keep every paper
    assert len(build.build(rows, ("abstract", "outcome"), "any", 128, SEPARATOR)[0]["train"]) == 4


def test_loss_start_goes_from_jsonl_through_prepare_into_shards(tmp_path):
    from lcm.data.prepare import prepare

    codec, _ = _codec_and_meta()
    rows = [{"doc_id": "a", "lang": "en", "sentences": ["Doc one.", "", "Doc two.", SEPARATOR, "Sum."], "loss_start": 4},
            {"doc_id": "b", "lang": "en", "sentences": ["Plain one.", "Plain two."]}]
    src = tmp_path / "pairs.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (shard,) = prepare(str(src), str(tmp_path / "shards"), codec)
    a, b = read_shard(shard)
    assert a.sentences[a.loss_start:] == ["Sum."] and a.sentences[a.loss_start - 1] == SEPARATOR  # empty one dropped
    assert b.loss_start == 0  # a row without loss_start in a shard that has the column: every sentence is a target
    src.write_text(json.dumps({**rows[0], "loss_start": 9}) + "\n")
    with pytest.raises(InputError, match="loss_start"):
        list(load_documents([str(src)], "en"))


def test_plain_shards_keep_their_schema_and_batches(tiny_shards):
    import pyarrow.parquet as pq

    for path in sorted(tiny_shards.glob("*.parquet")):
        assert pq.read_schema(path).names == ["doc_id", "lang", "sentences", "concepts"]
        assert all(d.loss_start is None for d in read_shard(path))
    kw = dict(eot=np.zeros(64, np.float32), shuffle=True, seed=1, epoch=0)
    plain = list(batches(str(tiny_shards), 24, 6, **kw))
    with_targets = list(batches(str(tiny_shards), 24, 6, **kw, targets=True))
    assert len(plain) == len(with_targets) > 2
    for (c, v), (c2, v2, t) in zip(plain, with_targets):
        assert torch.equal(c, c2) and torch.equal(v, v2) and torch.equal(t, v)  # every valid position is a target


def test_batches_mark_summary_targets_and_skip_windows_without_one(tmp_path):
    shards = _summary_shards(tmp_path / "sum")
    docs = list(read_shard(next(shards.glob("*.parquet"))))
    eot = np.full(64, 7.0, np.float32)
    (concepts, valid, targets), = batches(str(shards), 10_000, 64, eot=eot, shuffle=False, seed=0, epoch=0, targets=True)
    for i, doc in enumerate(docs):
        n = len(doc.concepts) + 1  # + end of text
        assert valid[i].sum() == n and torch.equal(concepts[i, n - 1], torch.from_numpy(eot))
        assert not targets[i, :doc.loss_start].any() and targets[i, doc.loss_start:n].all() and not targets[i, n:].any()
    # Windows of 4 concepts (overlap 1): only those reaching the summary are kept, each with its targets.
    windowed = list(batches(str(shards), 10_000, 4, eot=eot, shuffle=False, seed=0, epoch=0, targets=True))
    assert all(t[:, 1:].any(dim=1).all() for _, _, t in windowed)
    expected = sum(sum(1 for s in range(0, len(d.concepts), 3) if s + min(4, len(d.concepts) + 1 - s) - 1 >= d.loss_start)
                   for d in docs)
    assert sum(len(v) for _, v, _ in windowed) == expected
    # Every summary concept (and the end of text) is predicted exactly once across the overlapping windows.
    assert sum(int(t[:, 1:].sum()) for _, _, t in windowed) == sum(len(d.concepts) + 1 - d.loss_start for d in docs)


def test_masked_positions_get_no_gradient():
    from encoders.shared.recipes import from_dict
    from lcm.config import RecipeConfig

    recipe = from_dict(RecipeConfig, {"codec": "hashing", "model": {"concept_dim": 16, "d_model": 32, "n_layers": 2,
                                                                     "n_heads": 4, "dropout": 0.0}})
    torch.manual_seed(0)
    model = build_model(recipe)
    model.normalizer.fit(torch.randn(200, 16))
    concepts, valid = torch.randn(2, 7, 16), torch.ones(2, 7, dtype=torch.bool)
    targets = valid.clone()
    targets[0, :4] = False  # row 0: loss on positions 4..6 only
    targets[1] = False  # row 1: context only
    # Unmasked, the default is every valid position, exactly as before the targets argument existed.
    assert torch.equal(model(concepts, valid)[0], model(concepts, valid, valid)[0])
    kept = {}

    def keep_hidden(module, inputs, output):  # hidden (B, T-1, d) as the head receives it
        output[0].retain_grad()
        kept["hidden"] = output[0]

    hook = model.backbone.register_forward_hook(keep_hidden)
    concepts.requires_grad_(True)
    loss, _ = model(concepts, valid, targets)
    loss.backward()
    hook.remove()
    grad = kept["hidden"].grad  # (2, 6, d): position t predicts concept t + 1
    assert torch.all(grad[0, :3] == 0) and torch.all(grad[0, 3:].abs().sum(-1) > 0)
    assert torch.all(grad[1] == 0) and torch.all(concepts.grad[1] == 0)  # a context-only row adds nothing
    # The masked loss is the plain loss over the kept positions only.
    with torch.no_grad():
        pred = model.head.postnet(model.hidden(concepts[:1, :-1], valid[:1, :-1])[0])[0, 3:]  # (3, D)
        manual = (pred - model.normalizer.normalize(concepts[0, 4:])).pow(2).sum(-1).mean()
    assert torch.allclose(loss, manual, atol=1e-5)


def test_fine_tune_from_a_pretrained_model(tiny_recipe, tmp_path):
    tiny_recipe.train.steps = 10
    pretrained_dir = train(tiny_recipe, show_progress=False)
    pretrained, _, _ = load_model(pretrained_dir)
    recipe = load_recipe(ROOT / "recipes" / "base_lcm_tiny.yaml", [
        f"data.train={_summary_shards(tmp_path / 'sum')}", f"train.out_dir={tmp_path / 'ft0'}",
        f"train.init_from={pretrained_dir}", "train.steps=3", "train.lr=0", "train.weight_decay=0"])
    tuned, _, meta = load_model(train(recipe, show_progress=False))  # lr 0: the weights must come back unchanged
    for (name, a), b in zip(pretrained.state_dict().items(), tuned.state_dict().values()):
        assert torch.equal(a, b), name  # normalizer and end-of-text concept included (not refitted on the new data)
    assert meta["provenance"]["trained_steps"] == 3  # a fresh run (and optimizer): its own step count, not the pretrained one's
    recipe.train.lr, recipe.train.out_dir = 1e-3, str(tmp_path / "ft1")
    tuned, _, _ = load_model(train(recipe, show_progress=False))
    assert not torch.equal(tuned.head.postnet.weight, pretrained.head.postnet.weight)
    assert torch.equal(tuned.normalizer.center, pretrained.normalizer.center)
    log = [json.loads(line) for line in open(tmp_path / "ft1" / "loss_log.jsonl")]
    assert all(np.isfinite(r["loss"]) for r in log)


def test_init_from_refuses_another_architecture(tiny_recipe, tmp_path):
    tiny_recipe.train.steps = 2
    pretrained_dir = train(tiny_recipe, show_progress=False)
    recipe = load_recipe(ROOT / "recipes" / "base_lcm_tiny.yaml", [
        f"data.train={tiny_recipe.data.train}", f"train.out_dir={tmp_path / 'ft'}", f"train.init_from={pretrained_dir}",
        "model.d_model=32", "model.dropout=0.2", "model.max_len=32"])  # dropout and max_len may change; d_model may not
    with pytest.raises(InputError, match=r"init_from.*set model\.d_model=64 .*drop train\.init_from"):
        train(recipe, show_progress=False)
    recipe.train.init_from = str(tmp_path / "missing")
    with pytest.raises(InputError, match="not a model directory"):
        train(recipe, show_progress=False)


def test_summarize_recipe_matches_the_shipped_base_lcm():
    recipe = load_recipe(ROOT / "recipes" / "base_lcm_summarize.yaml")
    pretrained, _ = read_model_config(ROOT / recipe.train.init_from)
    assert recipe.train.init_from and architecture_mismatch(recipe, pretrained) == []
    assert os.path.basename(recipe.data.train.rstrip("/")) == "sum_train"


def test_step_weights_count_summary_targets_only(tmp_path):
    from lcm.training.distributed import step_batches

    shards = _summary_shards(tmp_path / "sum", n_docs=6)
    local = batches(str(shards), 30, 64, eot=np.zeros(64, np.float32), shuffle=False, seed=0, epoch=0, targets=True)
    steps = list(step_batches(local, 2, 1, 64, torch.device("cpu")))
    assert len(steps) >= 2 and len(steps[0]) == 2
    for micro in steps:
        n = [int((v[:, 1:] & v[:, :-1] & t[:, 1:]).sum()) for _, v, t, _ in micro]  # what the model's loss averages over
        assert all((t <= v).all() for _, v, t, _ in micro) and any((t != v).any() for _, v, t, _ in micro)
        assert [w for *_, w in micro] == pytest.approx([k / sum(n) for k in n])
