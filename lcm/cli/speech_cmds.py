"""`lcm transcribe`, and audio input for every command that reads text (encode, summarize, generate, story, infill,
xling): `--asr-model` on each, the language to ask Whisper for, the progress bar and the cascade's note.

Registered last: `register` adds `transcribe`, then gives the text-reading commands their `--asr-model` option and
wraps their function so each run configures `lcm.data.audio_input` first and notes the cascade after.
"""

import json
from functools import wraps

from lcm.cli.common import NOTES, add_command

# command -> (the argument naming its input language: "auto" or absent lets Whisper detect it, an example with audio)
AUDIO_COMMANDS = {
    "encode": ("lang", "lcm encode talk.flac recordings/ notes.txt -o shards/   # audio: one document per recording"),
    "summarize": ("src_lang", "lcm summarize talk.wav --tgt-lang fr --json   # each entry gets the talk's start/end"),
    "generate": ("src_lang", "lcm generate interview.mp3 -n 2 --asr-model base"),
    "story": ("src_lang", "lcm story premise.ogg -n 5"),
    "infill": ("src_lang", "lcm infill before.wav after.txt"),
    "xling": (None, "lcm xling recordings/ --langs en,de --asr-model base   # each recording in the language heard"),
}
ASR_HELP = ("speech recogniser for audio inputs (.wav .flac .mp3 .ogg ...): tiny.en (English, default), base "
            "(99 languages; `python -m encoders.speech install-base`) or a CTranslate2 Whisper folder. Audio goes "
            "speech -> text -> concepts; --codec sonar's encode_speech (Python) is the direct route")


def asr_arg(p) -> None:
    p.add_argument("--asr-model", metavar="DIR|NAME", help=ASR_HELP)


def register(sub) -> None:
    """Add transcribe, and audio input to the commands that read text (must run after their groups)."""
    p = add_command(sub, "transcribe", "what was said in a recording: its sentences with start and end times")
    p.add_argument("audio", help="an audio file (.wav .flac .mp3 .ogg .opus .m4a ...; any sample rate)")
    p.add_argument("--json", action="store_true", help="one JSON object: language, duration, model and the sentences")
    p.add_argument("--lang", help="the spoken language (default: detected; tiny.en hears English only)")
    asr_arg(p)
    p.set_defaults(func=cmd_transcribe)
    for name, (lang_arg, example) in AUDIO_COMMANDS.items():
        parser = sub.choices.get(name)
        if parser is None:
            continue
        asr_arg(parser)
        parser.epilog = (parser.epilog or "examples:") + "\n  " + example
        for action in parser._actions:  # the positional inputs say that audio is read too
            if not action.option_strings and action.dest in ("input", "inputs", "before", "after", "data"):
                action.help = f"{action.help}; or audio (.wav .flac .mp3 .ogg ...), transcribed"
        parser.set_defaults(func=with_audio(parser.get_default("func"), lang_arg))


def with_audio(func, lang_arg: "str | None"):
    """`func` run with audio input configured from its arguments, and the cascade's note added after."""
    from lcm.data.audio_input import configure, transcribed_notes

    @wraps(func)
    def run(args) -> None:
        spoken = getattr(args, lang_arg, None) if lang_arg else None
        configure(asr_model=args.asr_model, lang=None if spoken in (None, "auto") else spoken, show_progress=True)
        func(args)
        NOTES.extend(transcribed_notes())

    return run


def cmd_transcribe(args) -> None:
    from encoders.speech.align import sentences
    from encoders.speech.formats import check_file
    from encoders.speech.transcribe import transcribe
    from lcm.data.audio_input import clock, progress_bar

    check_file(args.audio)
    with progress_bar(args.audio) as show:
        transcript = transcribe(args.audio, model=args.asr_model, language=args.lang, progress=show)
    timed = sentences(transcript, args.lang or transcript.language)
    if args.json:
        print(json.dumps({"audio": args.audio, "language": transcript.language,
                          "language_probability": round(transcript.language_probability, 4),
                          "duration": round(transcript.duration, 3), "model": transcript.model,
                          "sentences": [{"start": s.start, "end": s.end, "text": s.text} for s in timed]},
                         ensure_ascii=False, indent=1))
    else:
        for s in timed:
            print(f"[{clock(s.start)} - {clock(s.end)}] {s.text}")

