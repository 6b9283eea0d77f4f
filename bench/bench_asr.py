"""Speech recognition with the [speech] extra: WER, real-time factor and peak memory, on one CPU thread.

    python bench/bench_asr.py [--manifest TSV ...] [--models tiny.en base] [--long-minutes 4 16] [--out asr.json]

A manifest is a TSV with the header `file lang kind text` (files relative to it); the default is the real clips of
tests/data/speech/transcripts.tsv, and bench/asr_manifests.py writes manifests for more recordings.
Per clip: WER (normalised: case, punctuation, Mr -> mister, digits) and RTF (transcription s / audio s).
Concatenated: a manifest's clips joined with 0.5 s gaps into one file, transcribed in one call: WER and RTF.
Memory: peak RSS (VmHWM) of a child process that loads the model and transcribes the concatenated file, then of one
per --long-minutes that transcribes the clips repeated to that length: equal peaks for 4 and 16 minutes mean memory
does not grow with the length of the recording (it grows with --window, the seconds of audio decoded at once).
Models that are not installed (base before `python -m encoders.speech install-base`) are skipped.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from encoders.errors import InputError  # noqa: E402
from encoders.speech import AsrOptions, transcribe  # noqa: E402
from encoders.speech.audio import SAMPLE_RATE, decode_chunks  # noqa: E402
from encoders.speech.models import load_model  # noqa: E402
from encoders.speech.wer import edit_distance, normalize  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MANIFEST = ROOT / "tests/data/speech/transcripts.tsv"


def read_manifest(path: Path, kinds: "set[str] | None") -> "list[dict]":
    lines = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    header, rows = lines[0], [dict(zip(lines[0], row)) for row in lines[1:]]
    assert header[:4] == ["file", "lang", "kind", "text"], f"{path}: header must be file lang kind text"
    for row in rows:
        row["path"] = (path.parent / row["file"]).resolve()
    return [row for row in rows if kinds is None or row["kind"] in kinds]


def vm_hwm_mb() -> float:
    """Peak resident memory of this process so far (VmHWM), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def write_concat(rows: "list[dict]", out: Path, gap_s: float = 0.5, min_seconds: float = 0.0) -> "tuple[float, int]":
    """Write the clips one after another (16 kHz mono WAV, streamed), repeated until `min_seconds`.

    Returns (seconds written, number of repetitions)."""
    import numpy as np

    gap = np.zeros(int(gap_s * SAMPLE_RATE), dtype=np.int16).tobytes()
    frames, reps = 0, 0
    with wave.open(str(out), "wb") as wav:
        wav.setnchannels(1), wav.setsampwidth(2), wav.setframerate(SAMPLE_RATE)
        while True:
            for row in rows:
                for chunk in decode_chunks(row["path"]):
                    pcm = (np.clip(chunk, -1, 1) * 32767).astype(np.int16)
                    wav.writeframes(pcm.tobytes())
                    frames += len(pcm)
                wav.writeframes(gap)
                frames += len(gap) // 2
            reps += 1
            if frames / SAMPLE_RATE >= min_seconds:
                return frames / SAMPLE_RATE, reps


def run_clip(path: Path, model, lang: "str | None", options: AsrOptions) -> dict:
    start = time.perf_counter()
    transcript = transcribe(path, model=model, language=lang, options=options)
    seconds = time.perf_counter() - start
    return {"text": transcript.text, "language": transcript.language,
            "language_probability": round(transcript.language_probability, 3),
            "duration": round(transcript.duration, 2), "seconds": round(seconds, 2),
            "rtf": round(seconds / transcript.duration, 3)}


def wer_counts(reference: str, hypothesis: str) -> "tuple[int, int]":
    ref = normalize(reference)
    return edit_distance(ref, normalize(hypothesis)), len(ref)


def child(audio: str, model: str, lang: "str | None", options: AsrOptions) -> None:
    """Run in a fresh process: load, transcribe, print peak memory (and the text) as JSON."""
    asr = load_model(model)
    after_load = vm_hwm_mb()
    start = time.perf_counter()
    transcript = transcribe(audio, model=asr, language=lang, options=options)
    print(json.dumps({"hwm_after_load_mb": round(after_load, 1), "hwm_mb": round(vm_hwm_mb(), 1),
                      "duration": round(transcript.duration, 1),
                      "rtf": round((time.perf_counter() - start) / transcript.duration, 3), "text": transcript.text}))


def measure_memory(audio: Path, model: str, lang: "str | None", window_s: float, reference: str) -> dict:
    cmd = [sys.executable, __file__, "--child", str(audio), "--models", model, "--window", str(window_s)]
    out = subprocess.run(cmd + (["--lang", lang] if lang else []), capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    e, n = wer_counts(reference, result.pop("text"))
    return {**result, "wer": round(e / n, 4)}


def bench_model(model: str, manifests: "list[Path]", args, tmp: Path) -> dict:
    asr = load_model(model)
    options = AsrOptions(window_s=args.window)
    report = {}
    for manifest in manifests:
        rows = read_manifest(manifest, set(args.kinds) if args.kinds else None)
        rows = [row for row in rows if asr.multilingual or row["lang"] == "en"]
        if not rows:
            continue
        forced = args.force_lang or not asr.multilingual
        langs = {row["lang"] for row in rows}
        lang = next(iter(langs)) if forced else None  # for the concatenated file (one language only)
        clips, errors, words = [], 0, 0
        for row in rows:
            result = run_clip(row["path"], asr, row["lang"] if forced else None, options)
            e, n = wer_counts(row["text"], result["text"])
            errors, words = errors + e, words + n
            clips.append({"file": row["file"], "lang": row["lang"], "wer": round(e / n, 3), **result})
            print(f"  {model:8s} {Path(row['file']).name:40s} WER {e / n:6.1%}  RTF {result['rtf']:.3f}  "
                  f"lang {result['language']} ({result['language_probability']:.2f})  {result['text'][:70]}")
        total_s = sum(clip["duration"] for clip in clips)
        entry = {"clips": clips, "clip_wer": round(errors / words, 4),
                 "clip_rtf": round(sum(c["seconds"] for c in clips) / total_s, 3),
                 "lang_detected_ok": round(sum(c["language"] == c["lang"] for c in clips) / len(clips), 3)}
        print(f"  {model:8s} {manifest.name}: per-clip WER {entry['clip_wer']:.1%} (RTF {entry['clip_rtf']}), "
              f"language right in {entry['lang_detected_ok']:.0%} of clips")
        report[manifest.name] = entry
        if len(langs) > 1:
            continue  # one file in several languages: Whisper keeps the first language it hears
        concat = tmp / f"{manifest.stem}-concat.wav"
        write_concat(rows, concat)
        whole = run_clip(concat, asr, lang, options)
        reference = " ".join(row["text"] for row in rows)
        e, n = wer_counts(reference, whole["text"])
        entry["concat"] = {"wer": round(e / n, 4), **whole}
        print(f"  {model:8s} {manifest.name}: concatenated {whole['duration']} s: WER {e / n:.1%} (RTF {whole['rtf']})")
        if args.long_minutes and manifest == manifests[0]:
            entry["memory"] = {"concatenated": measure_memory(concat, model, lang, args.window, reference)}
            for minutes in args.long_minutes:
                long = tmp / f"{manifest.stem}-{minutes}min.wav"
                _, reps = write_concat(rows, long, min_seconds=minutes * 60)
                entry["memory"][f"{minutes} min"] = measure_memory(long, model, lang, args.window,
                                                                   " ".join([reference] * reps))
                long.unlink()
            for name, m in entry["memory"].items():
                print(f"  {model:8s} {name}: {m['duration']} s, peak RSS {m['hwm_mb']} MiB (after loading the model "
                      f"{m['hwm_after_load_mb']} MiB), WER {m['wer']:.1%}, RTF {m['rtf']}")
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifest", action="append", type=Path, help="TSV of clips (repeatable)")
    ap.add_argument("--kinds", nargs="*", default=None, help="only rows of these kinds (default: real, for the "
                    "default manifest; all otherwise)")
    ap.add_argument("--models", nargs="+", default=["tiny.en", "base"])
    ap.add_argument("--force-lang", action="store_true", help="give the manifest's language instead of detecting it")
    ap.add_argument("--window", type=float, default=AsrOptions.window_s, help="seconds of audio per window")
    ap.add_argument("--long-minutes", type=float, nargs="*", default=[8.0],
                    help="lengths of the memory test files (none: skip the memory test)")
    ap.add_argument("--out", type=Path, help="write the figures as JSON here")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--lang", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child, args.models[0], args.lang, AsrOptions(window_s=args.window))
    manifests = args.manifest or [DEFAULT_MANIFEST]
    if args.manifest is None and args.kinds is None:
        args.kinds = ["real"]
    report = {"threads": 1, "window_s": args.window}
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            try:
                load_model(model)
            except InputError as err:
                print(f"skipping {model}: {err}")
                continue
            report[model] = bench_model(model, manifests, args, Path(tmp))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
