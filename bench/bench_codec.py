"""Benchmark the embedded concept codec on held-out parallel data (the test split of parallel.jsonl).

    python bench/bench_codec.py [--quick] [--out results.json] [--weights DIR] [--parallel PATH] [--device cpu|cuda]

Measures: round-trip AutoBLEU of decode(encode(s)) per language; xsim (cross-lingual retrieval error vs English);
X -> English decoding BLEU against the English reference; encode/decode sentences/s and peak RSS; codec load time.
"""

import argparse
import json
import random
import sys
import time

from encoders.languages import CJK_LANGS, normalize_lang, short_code
from encoders.shared.atomic import atomic_write_text
from lcm.bench.measure import peak_rss_mb


def bleu(hyps: list[str], refs: list[str], lang: str) -> float:
    import sacrebleu

    flores = normalize_lang(lang)
    # Chinese: sacrebleu's zh tokenizer; Japanese: per character (mecab is not installed); others: 13a.
    tokenize = "zh" if flores == "zho_Hans" else ("char" if flores in CJK_LANGS else "13a")
    return round(sacrebleu.corpus_bleu(hyps, [refs], tokenize=tokenize).score, 2)


def xsim_error(src, tgt) -> float:
    """Share of rows i whose nearest target (cosine) is not target i (LASER's xsim, margin-free)."""
    import torch

    src = torch.nn.functional.normalize(src, dim=-1)
    tgt = torch.nn.functional.normalize(tgt, dim=-1)
    nearest = (src @ tgt.T).argmax(dim=1)
    return round(100.0 * float((nearest != torch.arange(len(src))).float().mean()), 2)


def load_units(path: str, langs: list[str], per_source: int, seed: int) -> list[dict]:
    from encoders.embedded.data import read_parallel

    units = read_parallel(path, langs, "test")
    rng = random.Random(seed)
    rng.shuffle(units)
    if per_source:
        kept, count = [], {}
        for unit in units:
            if count.get(unit["source"], 0) < per_source:
                kept.append(unit)
                count[unit["source"]] = count.get(unit["source"], 0) + 1
        units = kept
    return units


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="8 units per source, greedy, xsim on the sample only")
    ap.add_argument("--out", default="", help="write the results as JSON here")
    ap.add_argument("--weights", default="", help="codec weights dir (default: the shipped weights)")
    ap.add_argument("--parallel", default="~/.cache/lcm-toolkit/corpora/parallel.jsonl")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--per-source", type=int, default=0, help="test units per source to decode (0 = all; --quick: 8)")
    ap.add_argument("--beam", type=int, default=1, help="beam size for the round trip (1 = greedy)")
    ap.add_argument("--rerank", type=int, default=0, help="also measure beam+rerank with this many candidates")
    ap.add_argument("--rerank-langs", default="en", help="comma-separated languages that get the rerank figure")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    ap.add_argument("--no-repeat-ngram", type=int, default=0, help="greedy decoding: forbid repeating n-grams")
    ap.add_argument("--langs", default="", help="comma-separated languages to measure (default: all the codec's)")
    ap.add_argument("--skip-speed", action="store_true", help="quality figures only")
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args(argv)
    per_source = args.per_source or (8 if args.quick else 0)

    import torch

    from encoders.embedded import load_embedded_codec

    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.time()
    codec = load_embedded_codec(args.weights or None, device=args.device)
    codec._load_decoder()  # the decoder loads lazily; count it in the load time
    load_s = time.time() - t0
    t0 = time.time()
    codec.encode(["warm-up"], "en")
    use_load_s = time.time() - t0
    langs = sorted(short_code(flores) for flores in codec.languages)
    if args.langs:
        langs = [short_code(normalize_lang(lang, codec.languages)) for lang in args.langs.split(",")]
        langs = langs if "en" in langs else langs + ["en"]  # English is the pivot of xsim and X -> en
    units = load_units(args.parallel, langs, per_source, seed=0)
    all_units = units if args.quick else load_units(args.parallel, langs, 0, seed=0)  # xsim pool
    results = {"weights": str(codec.weights_dir), "device": args.device, "units": len(units),
               "options": {"beam": args.beam, "no_repeat_ngram": args.no_repeat_ngram, "rerank": args.rerank},
               "units_for_xsim": len(all_units), "torch_threads": torch.get_num_threads(),
               "load_s": round(load_s, 3), "use_first_encode_s": round(use_load_s, 3),
               "info": codec.meta.get("info", {}), "round_trip": {}, "xsim_vs_en": {}, "to_en": {}}
    results["info"].pop("recipe", None)

    def decode(vectors, lang, **opts):
        if opts.get("beam", 1) == 1 and not opts.get("rerank"):
            opts["no_repeat_ngram"] = args.no_repeat_ngram
        return codec.decode(vectors, lang, batch_size=args.batch_size, **opts)

    vectors = {}
    for lang in langs:
        texts = [u["texts"][lang] for u in units if lang in u["texts"]]
        sources = [u["source"] for u in units if lang in u["texts"]]
        if not texts:
            continue
        vectors[lang] = codec.encode(texts, lang)
        hyps = decode(vectors[lang], lang, beam=args.beam)
        entry = {"n": len(texts), "bleu": bleu(hyps, texts, lang), "bleu_by_source": {
            src: bleu([h for h, s in zip(hyps, sources) if s == src], [t for t, s in zip(texts, sources) if s == src], lang)
            for src in sorted(set(sources))}}
        if args.rerank and not args.quick and lang in args.rerank_langs.split(","):
            reranked = decode(vectors[lang], lang, beam=args.rerank, rerank=args.rerank)
            entry[f"bleu_rerank{args.rerank}"] = bleu(reranked, texts, lang)
        entry["example"] = [texts[0], hyps[0]]
        results["round_trip"][lang] = entry
        print(f"round trip {lang}: {entry}", flush=True)

    for lang in langs:
        if lang == "en":
            continue
        # xsim over every test unit that has both texts (encoding only, cheap); decoding on the sample.
        pool = [u for u in all_units if lang in u["texts"] and "en" in u["texts"]]
        if len(pool) >= 2:
            src = codec.encode([u["texts"][lang] for u in pool], lang)
            en = codec.encode([u["texts"]["en"] for u in pool], "en")
            results["xsim_vs_en"][lang] = {"n": len(pool), "error_pct": xsim_error(src, en)}
        pair_units = [u for u in units if lang in u["texts"] and "en" in u["texts"]]
        if not pair_units:
            continue
        src = codec.encode([u["texts"][lang] for u in pair_units], lang)
        ref = [u["texts"]["en"] for u in pair_units]
        hyps = decode(src, "en")
        results["to_en"][lang] = {"n": len(pair_units), "bleu": bleu(hyps, ref, "en"),
                                  "example": [pair_units[0]["texts"][lang], hyps[0], ref[0]]}
        print(f"{lang}: xsim {results['xsim_vs_en'].get(lang)}, ->en {results['to_en'][lang]}", flush=True)

    if not args.skip_speed:
        sentences = [u["texts"]["en"] for u in units if "en" in u["texts"]][: 300 if args.quick else 2000]
        rss0 = peak_rss_mb()
        t0 = time.time()
        enc = codec.encode(sentences, "en")
        enc_s = time.time() - t0
        rss_enc = peak_rss_mb()
        n_dec = min(len(sentences), 64 if args.quick else 256)
        t0 = time.time()
        decode(enc[:n_dec], "en")
        dec_s = time.time() - t0
        speed = {"encode_sent_per_s": round(len(sentences) / enc_s, 1), "decode_greedy_sent_per_s": round(n_dec / dec_s, 1),
                 "torch_threads": torch.get_num_threads(), "peak_rss_mb_before": round(rss0),
                 "peak_rss_mb_after_encode": round(rss_enc), "peak_rss_mb_after_decode": round(peak_rss_mb())}
        if not args.quick:
            t0 = time.time()
            decode(enc[:64], "en", beam=4)
            speed["decode_beam4_sent_per_s"] = round(64 / (time.time() - t0), 1)
        results["speed"] = speed
    print_table(results)
    if args.out:
        atomic_write_text(args.out, json.dumps(results, indent=1, ensure_ascii=False))
    return 0


def print_table(results: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"embedded codec, test split: {results['units']} units decoded, "
                        f"{results['units_for_xsim']} for xsim ({results['device']})")
    for col in ("lang", "n", "round-trip BLEU (/ rerank)", "xsim vs en % (n)", "-> en BLEU"):
        table.add_column(col)
    for lang, entry in results["round_trip"].items():
        xs_entry = results["xsim_vs_en"].get(lang)
        xs = f"{xs_entry['error_pct']} ({xs_entry['n']})" if xs_entry else ""
        to_en = results["to_en"].get(lang, {}).get("bleu", "")
        extra = "".join(f" / {v}" for k, v in entry.items() if k.startswith("bleu_rerank"))
        table.add_row(lang, str(entry["n"]), f"{entry['bleu']}{extra}", str(xs), str(to_en))
    Console().print(table)
    print(f"load {results['load_s']} s (USE first encode {results['use_first_encode_s']} s)")
    if "speed" in results:
        print("speed:", json.dumps(results["speed"]))


if __name__ == "__main__":
    sys.exit(main())
