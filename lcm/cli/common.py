"""What every `lcm` command shares: usage examples, the parser's common options, codec and model loading, input.

Every user mistake ends in one clear `error:` line and exit code 2 (lcm.cli.main prints it).
"""

import argparse
import errno
import math
import os
import sys
import tempfile
from pathlib import Path

from encoders.errors import InputError
from lcm.model.shipped import DEFAULT_MODELS

EXAMPLES = {  # command -> usage examples; the order is that of `lcm --help`
    "encode": "lcm encode story.txt --lang en -o shards/\n  lcm encode corpus.jsonl docs/ --codec embedded --lang fr -o shards/",
    "decode": "lcm decode shards/shard_00000.parquet --lang de\n  lcm decode concepts.npy --lang zh",
    "prepare": "lcm prepare ~/.cache/lcm-toolkit/corpora/documents.jsonl --split train -o shards/train\n"
               "  torchrun --nproc_per_node 2 -m lcm prepare docs.jsonl -o shards/ --codec embedded",
    "train": "lcm train recipes/base_lcm_tiny.yaml data.train=shards/ train.steps=200\n"
             "  lcm train recipes/two_tower_tiny.yaml train.out_dir=runs/tt model.d_model=384",
    "generate": "lcm generate story.txt -n 3\n  echo 'It was a dark night. The wind howled.' | lcm generate - --tgt-lang fr\n"
                "  lcm generate story.txt --head diffusion --sampler dpmpp --steps 10 --guidance 3",
    "summarize": "lcm summarize examples/prodigal_son.de.txt --src-lang de --tgt-lang en --sentences 3\n"
                 "  lcm summarize paper.txt --model base_lcm_sum --sentences 5   # fine-tuned on paper -> abstract\n"
                 "  cat article.txt | lcm summarize - --ratio 0.1 --json\n  lcm summarize docs.jsonl --extractive",
    "story": "lcm story examples/ruth_1.en.txt -n 5 --plot plan.png\n  lcm story premise.txt --tgt-lang fr --head diffusion\n"
             "  lcm story examples/ruth_1.en.txt -n 8 --head diffusion --parallel 8 --sampler dpmpp --steps 10\n"
             "  lcm story examples/ruth_1.en.txt -n 8 --head diffusion --parallel 4 --passes 2 --strength 0.5",
    "infill": "lcm infill before.txt after.txt -n 1\n  lcm infill before.txt after.txt --head diffusion --candidates 8",
    "interpolate": "lcm interpolate 'The king was angry.' 'The queen laughed.' --steps 5 --tgt-lang fr",
    "eval": "lcm eval shards/test --round-trip 200 --out report.json\n  lcm eval pairs.jsonl --src-lang en --max-docs 20",
    "xling": "lcm xling ~/.cache/lcm-toolkit/lcm-data/docs_test.jsonl --langs en,fr,de,es,zh -o xling/\n"
             "  lcm xling test.jsonl --langs en,de --tgt-lang en --round-trip 50 --head diffusion",
    "bench": "lcm bench --quick --out bench/\n  lcm bench --codec embedded --out bench_full/",
    "plot": "lcm plot loss runs/base_lcm_embedded -o loss.png\n  lcm plot loss runs/a runs/b -o compare.png",
    "info": "lcm info two_tower_1_6b\n  lcm info recipes/two_tower_paper.yaml --json\n  lcm info two_tower   # a shipped model",
    "transcribe": "lcm transcribe talk.mp3 --json\n  lcm transcribe interview.wav --asr-model base --lang de",
}


# OSErrors a user's paths cause (unwritable, missing, full or read-only disk), and decoding errors of their files.
USER_OS_ERRORS = (PermissionError, FileNotFoundError, NotADirectoryError, IsADirectoryError, FileExistsError)
USER_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.ENAMETOOLONG, errno.EACCES, errno.EPERM, errno.ENOTDIR}


def run_command(func, args) -> int:
    """Run one command. Every error a user can cause ends here in one `error: ...` line on stderr and exit code 2;
    commands raise InputError (or let a user-caused OSError / UnicodeError through) and catch nothing themselves."""
    try:
        func(args)
    except InputError as err:
        return fail(str(err))
    except UnicodeError as err:
        return fail(f"cannot decode the input ({err}); give UTF-8 text")
    except OSError as err:
        if not isinstance(err, USER_OS_ERRORS) and err.errno not in USER_ERRNOS:
            raise
        where = f" {err.filename!r}" if err.filename else ""
        return fail(f"cannot use{where}: {err.strerror or err}; check the path and its permissions, or choose another")
    for note in NOTES:
        print(note, file=sys.stderr)
    return 0


def fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def check_writable(path: "str | os.PathLike", flag: str, folder: bool = False) -> Path:
    """Refuse, before any work, an output path that cannot be written: its nearest existing ancestor must be a folder
    in which a file can be created (tried for real, so it holds for root, read-only disks and /proc alike)."""
    target = Path(path).expanduser()
    if target.exists() and folder != target.is_dir():
        raise InputError(f"{flag} {str(path)!r} is {'a file' if folder else 'a folder'}; give "
                         f"{'a folder' if folder else 'a file name'}")
    base = target if folder else target.parent
    while not base.exists() and base != base.parent:
        base = base.parent
    if not base.is_dir():
        raise InputError(f"{flag} {str(path)!r} cannot be written: {str(base)!r} is a file, not a folder; choose another path")
    try:
        handle, probe = tempfile.mkstemp(dir=base, prefix=".lcm-write-check-")
        os.close(handle)
        os.unlink(probe)
    except OSError as err:
        raise InputError(f"{flag} {str(path)!r} cannot be written ({err.strerror}); choose a path you can write to") from None
    if target.is_file() and not os.access(target, os.W_OK):
        raise InputError(f"{flag} {str(path)!r} is read-only; choose another path or make it writable")
    return target


def stderr_progress(*columns, disable: bool = False, **options):
    """A rich Progress on stderr (stdout carries the output), drawn only on a terminal."""
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    return Progress(*columns, console=console, disable=disable or not console.is_terminal, **options)


def add_command(sub, name: str, help_text: str) -> argparse.ArgumentParser:
    """A subcommand parser whose --help ends with the command's EXAMPLES."""
    return sub.add_parser(name, help=help_text, description=help_text, epilog="examples:\n  " + EXAMPLES[name],
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def codec_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--codec", help="concept codec: embedded (default), sonar, minilm, hashing")
    p.add_argument("--codec-opt", action="append", metavar="KEY=VALUE", help="codec option, repeatable")


def generation_args(p: argparse.ArgumentParser, detect: bool = False) -> None:
    """Model, languages and decoding options of every command that runs a model."""
    p.add_argument("--model", help="model folder from `lcm train`, or a shipped model's name: base_lcm, base_lcm_sum "
                                   "(summarization fine-tune, scientific papers), two_tower, quant_lcm "
                                   "(default: the shipped model for --head)")
    p.add_argument("--head", choices=sorted(DEFAULT_MODELS), default="mse", help="which shipped model to use without --model")
    p.add_argument("--src-lang", default="auto" if detect else "en",
                   help="language of the input" + (" (default: auto, detected from the text)" if detect else ""))
    p.add_argument("--tgt-lang", help="language of the output (default: same as input)")
    p.add_argument("--sampler", help="diffusion sampler: ddim, dpmpp, euler")
    p.add_argument("--steps", type=int, help="diffusion sampling steps")
    p.add_argument("--guidance", type=float, help="classifier-free guidance scale")
    p.add_argument("--temperature", type=float, help="quantized head: sampling temperature")
    p.add_argument("--top-k", type=int, help="quantized head: top-k")
    p.add_argument("--head-opt", action="append", metavar="KEY=VALUE", help="any other head option, repeatable")
    p.add_argument("--seed", type=int, default=0, help="random seed: the same seed gives the same output (default 0)")
    codec_args(p)


def _codec_options(pairs: list[str]) -> dict:
    import yaml

    options = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise InputError(f"--codec-opt {pair!r} must look like key=value")
        key, value = pair.split("=", 1)
        options[key] = yaml.safe_load(value)
    return options


def load_codec_for(args, model_codec: "str | None" = None):
    from encoders import load_codec

    name = args.codec or model_codec or "embedded"
    return load_codec(name, **_codec_options(args.codec_opt))


NOTES: "list[str]" = []  # printed to stderr after a command succeeds (an error is the only message otherwise)
_STDIN: "list[str]" = []  # standard input, read once: language detection and the command both look at it


def read_input_text(source: str) -> str:
    from lcm.data.audio_input import audio_text, is_audio
    from lcm.data.documents import read_text_file

    if source != "-" and is_audio(source):  # speech -> Whisper -> sentences, joined (lcm.data.audio_input)
        return audio_text(source)
    if source == "-":
        if not _STDIN:
            if sys.stdin is None or sys.stdin.closed:
                raise InputError("standard input is closed; pipe text in (e.g. `cat doc.txt | lcm ... -`) or give a file")
            _STDIN.append(sys.stdin.read())
        if not _STDIN[0].strip():
            raise InputError("standard input is empty; pipe some text in or give a file")
        return _STDIN[0]
    return read_text_file(source)


def check_sentences(n: int, model) -> None:
    """-n/--sentences must be at least 1 and at most the model's context (the longest sequence it was trained on)."""
    limit = model.cfg.max_len
    if not 1 <= n <= limit:
        raise InputError(f"-n/--sentences must be between 1 and {limit} (this model's context, in concepts), got {n}")


def head_options(args) -> dict:
    """Decoding options the user set explicitly; heads validate them."""
    options = {k: v for k, v in (("sampler", args.sampler), ("steps", args.steps), ("guidance_scale", args.guidance),
                                 ("temperature", args.temperature), ("top_k", args.top_k)) if v is not None}
    options.update(_codec_options(args.head_opt))
    for key, value in options.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(f"{key.replace('guidance_scale', 'guidance')} must be a finite number, got {value}")
    return options


def load_model_codec(args):
    """The model (--model: a folder or a shipped name, else the shipped one for --head) and its codec, loaded by
    lcm.api.load as the Python API loads them (a concept-size mismatch is refused there, naming the fix)."""
    from lcm.api import load

    m = load(args.model, head=args.head, codec=args.codec, codec_options=_codec_options(args.codec_opt))
    return m.model, m.codec, m.path


def source_language(args, sample: "str | None", name: str = "") -> str:
    """--src-lang as a FLORES code; `auto` detects the language of `sample` (a guess is noted after the output), or
    takes the language Whisper heard when `sample` came from a recording."""
    from encoders.languages import AUTO
    from lcm.api import resolve_languages
    from lcm.data.audio_input import heard_language

    heard = heard_language(sample) if args.src_lang == AUTO else None  # audio input: the language Whisper heard
    src, _, note = resolve_languages(heard or args.src_lang, None, sample, name=name)
    if note:
        NOTES.append(note)
    return src


def load_for_generation(args, sample: "str | None" = None):
    """Model, codec, source and target languages, model folder (lcm.api.load, as the Python API loads them).
    `--src-lang auto` detects the language of `sample`; for audio input it takes the language Whisper heard."""
    from encoders.languages import AUTO, normalize_lang

    head_options(args)  # options and language codes are checked before the model loads
    src = source_language(args, sample)
    tgt = normalize_lang(args.tgt_lang) if args.tgt_lang else src
    model, codec, model_dir = load_model_codec(args)
    check_codec_languages(codec, src, tgt, detected=args.src_lang == AUTO)
    return model, codec, src, tgt, model_dir


def check_codec_languages(codec, src: "str | None", tgt: "str | None", detected: bool = False) -> None:
    """Refuse, before any work, a language the codec cannot read or write (lcm.api.check_codec_languages: the CLI and
    the Python API word it the same; imported on use so that `lcm --help` does not load torch)."""
    from lcm.api import check_codec_languages as check

    check(codec, src, tgt, detected=detected)
