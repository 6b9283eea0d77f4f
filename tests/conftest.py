import functools
import importlib.util
import os
import random

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

torch.set_num_threads(1)  # the suite runs on 2 shared cores: one thread per process avoids oversubscription

WORDS = ("river stone lantern harbor winter garden bridge market candle forest letter window mountain violin "
         "orchard station ribbon meadow castle silver").split()


def make_documents(n_docs: int = 12, seed: int = 0) -> list[list[str]]:
    """Small synthetic documents whose sentences repeat in patterns, so a toy model can learn them."""
    rng = random.Random(seed)
    docs = []
    for d in range(n_docs):
        start = rng.randrange(len(WORDS))
        docs.append([f"The {WORDS[(start + i) % len(WORDS)]} was near the {WORDS[(start + i + 1) % len(WORDS)]}."
                     for i in range(rng.randint(4, 9))])
    return docs


@pytest.fixture()
def tiny_shards(tmp_path):
    """Parquet shards of synthetic documents, encoded with the weightless hashing codec (64-d)."""
    from encoders.retrieval import HashingCodec
    from lcm.data.documents import EOT_SENTENCE, Document
    from lcm.data.shards import write_shard

    codec = HashingCodec(64)
    meta = {"codec": "hashing", "dim": 64, "eot": codec.encode([EOT_SENTENCE], "en")[0].tolist()}
    docs = [Document(f"doc{i}", "eng_Latn", s, codec.encode(s, "en").numpy()) for i, s in enumerate(make_documents())]
    out = tmp_path / "shards"
    out.mkdir()
    write_shard(out / "shard_00000.parquet", docs[:6], 64, meta)
    write_shard(out / "shard_00001.parquet", docs[6:], 64, meta)
    return out


@pytest.fixture()
def tiny_recipe(tiny_shards, tmp_path):
    from lcm.config import load_recipe

    root = os.path.dirname(os.path.dirname(__file__))
    return load_recipe(os.path.join(root, "recipes", "base_lcm_tiny.yaml"),
                       [f"data.train={tiny_shards}", f"train.out_dir={tmp_path / 'run'}"])


@functools.cache
def load_script(relpath: str):
    """A script under bench/ or scripts/ (folders of scripts, not packages) loaded as a module by its path."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), relpath)
    spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(path))[0], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
