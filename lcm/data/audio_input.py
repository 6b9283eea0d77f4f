"""Audio files as input to every command that reads text: speech -> Whisper -> the toolkit's sentences -> concepts.

This is a cascade (speech -> text -> concepts); `--codec sonar` with `codec.encode_speech` is the direct speech ->
concept route. The readers call in here when `is_audio(path)`:

    read_source(path, lang, asr_model, progress) -> (timed sentences, ISO 639-1 language)   the one transcription call
    audio_text(path)            the sentences joined, for readers of plain text (lcm.cli.common.read_input_text)
    audio_document(path, lang)  (id, language, sentences) of a Document (lcm.data.documents.load_documents)
    heard_language(text)        Whisper's language when `text` came from audio (`--src-lang auto`)
    time_span(doc_id, indices)  {"start", "end"} of input sentences of an audio document (`lcm summarize --json`)
    prefetch_audio(paths)       transcribe (or refuse) every recording before a writer creates anything (`lcm encode`)

Each recording is transcribed once per process (the language check and the command read the same file). The CLI sets
the model, the language to ask Whisper for and the progress display with `configure`; the recogniser is imported only
when a recording is read, so `import lcm` stays light.
"""

from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from encoders.errors import InputError
from encoders.speech.formats import AUDIO_SUFFIXES, HEADERLESS_SUFFIXES

__all__ = ["AUDIO_SUFFIXES", "AudioSettings", "Heard", "audio_document", "audio_text", "clock", "configure",
           "heard_language", "is_audio", "prefetch_audio", "progress_bar", "read_source", "settings", "time_span",
           "transcribed_notes"]

CALLER = "caller"  # AudioSettings.lang: ask Whisper for the language the reader was given


@dataclass
class AudioSettings:
    """What the CLI chose: the ASR model (None: tiny.en), the language to ask Whisper for (None: detect it; CALLER:
    the reader's own language argument) and whether to show a progress bar on stderr."""

    asr_model: "str | None" = None
    lang: "str | None" = CALLER
    show_progress: bool = False


@dataclass
class Heard:
    """One transcribed recording: its sentences with times, Whisper's language and the model that heard it."""

    timed: list  # list[encoders.speech.TimedSentence]
    language: str  # ISO 639-1
    model: str
    asked: "str | None"  # the language Whisper was asked for (None: detected)
    text: str = field(init=False)

    def __post_init__(self):
        self.text = " ".join(s.text for s in self.timed)


_SETTINGS = [AudioSettings()]
_HEARD: "dict[tuple, Heard]" = {}  # (file, size, mtime, model) -> what was heard
_BY_DOC: "dict[str, Heard]" = {}  # document id -> what was heard, for time spans
_USED: "set[str]" = set()  # the models whose transcripts the current command used


def is_audio(path: "str | Path") -> bool:
    """True for a recording by its name: a decodable suffix, or headerless PCM (refused with the fix when read)."""
    return Path(path).suffix.lower() in AUDIO_SUFFIXES | HEADERLESS_SUFFIXES


def settings() -> AudioSettings:
    return _SETTINGS[0]


def configure(asr_model: "str | None" = None, lang: "str | None" = CALLER, show_progress: bool = False) -> None:
    """Set the model, the language hint and the progress display for the audio read from now on (one CLI command)."""
    _SETTINGS[0] = AudioSettings(asr_model, lang, show_progress)
    _BY_DOC.clear()
    _USED.clear()


def _key(path: Path, model: "str | None") -> tuple:
    from encoders.speech.models import DEFAULT_MODEL

    stat = path.stat()
    return str(path.resolve()), stat.st_size, stat.st_mtime_ns, str(model or DEFAULT_MODEL)


def _same_language(a: "str | None", b: "str | None") -> bool:
    """Two user or Whisper language codes name the same language (en == eng_Latn)."""
    from encoders.languages import normalize_lang

    try:
        return normalize_lang(a) == normalize_lang(b)
    except InputError:
        return False


def read_source(path: "str | Path", lang: "str | None" = None, asr_model: "str | None" = None,
                progress=None) -> "tuple[list, str]":
    """(sentences with their time spans, ISO 639-1 language) of a recording, transcribed once per process.

    `lang`: the spoken language, None to detect it. A recording already heard is reused when it was asked for the
    same language, or detected as it. Bad audio raises InputError with one line naming the fix.
    """
    heard = _hear(Path(path), lang, asr_model, progress)
    return heard.timed, heard.language


def _hear(path: Path, lang: "str | None", asr_model: "str | None", progress=None) -> Heard:
    from encoders.speech.formats import check_file

    check_file(path)  # missing, folder, empty, unsupported suffix: before the recogniser loads
    key = _key(path, asr_model)
    cached = _HEARD.get(key)
    if cached and (lang is None or cached.asked == lang or _same_language(lang, cached.language)):
        _USED.add(cached.model)
        return cached
    from encoders.speech.align import sentences
    from encoders.speech.transcribe import transcribe

    with (nullcontext(progress) if progress else progress_bar(path, settings().show_progress)) as show:
        transcript = transcribe(path, model=asr_model, language=lang, progress=show)
    timed = sentences(transcript, lang or transcript.language)
    if not timed:
        raise InputError(f"no sentences heard in {path}; check that this is the recording you meant")
    _HEARD[key] = Heard(timed, transcript.language, transcript.model, lang)
    _USED.add(transcript.model)
    return _HEARD[key]


@contextmanager
def progress_bar(path: "str | Path", enabled: bool = True):
    """A progress callback drawing a transient rich bar on stderr (None when disabled or another display is live)."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.errors import LiveError
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    if not console.is_terminal:  # a log or a pipe: no bar (rich would still leave an empty line)
        yield None
        return
    bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[done]}"),
                   TimeRemainingColumn(), console=console, transient=True)
    try:
        bar.start()
    except LiveError:  # a command's own progress display is live: transcribe without a bar
        yield None
        return
    task = bar.add_task(f"transcribing {Path(path).name}", total=None, done="")

    def show(done: float, total: "float | None") -> None:
        bar.update(task, completed=done, total=total, done=f"{clock(done)} / {clock(total)}" if total else "")

    try:
        yield show
    finally:
        bar.stop()


def clock(seconds: "float | None") -> str:
    """00:04.8, or 1:02:03.4 past an hour."""
    minutes, secs = divmod(max(0.0, float(seconds or 0.0)), 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}:{minutes:02d}:{secs:04.1f}" if hours else f"{minutes:02d}:{secs:04.1f}"


def _hint(lang: "str | None") -> "str | None":
    """The language to ask Whisper for: the CLI's choice, or the reader's own `lang` when the CLI made none."""
    chosen = settings().lang
    return lang if chosen == CALLER else chosen


def audio_text(path: "str | Path", lang: "str | None" = None) -> str:
    """The recording's sentences joined by spaces: what a text reader gets for an audio file."""
    return _hear(Path(path), _hint(lang), settings().asr_model).text


def audio_document(path: "str | Path", lang: "str | None" = None) -> "tuple[str, str, list[str]]":
    """(document id: the file name, the language Whisper heard, the recording's sentences): a Document's fields."""
    path = Path(path)
    heard = _hear(path, _hint(lang), settings().asr_model)
    _BY_DOC[path.name] = heard
    return path.name, heard.language, [s.text for s in heard.timed]


def prefetch_audio(paths, lang: "str | None" = None) -> None:
    """Transcribe the recordings among `paths` (files, or folders searched recursively) now: a writer calls this before
    it creates anything, so bad audio leaves nothing half-written."""
    for given in paths:
        given = Path(given)
        for path in sorted(given.rglob("*")) if given.is_dir() else [given]:
            if is_audio(path) and not path.is_dir():
                _hear(path, _hint(lang), settings().asr_model)


def heard_language(text: "str | None") -> "str | None":
    """Whisper's language (ISO 639-1) when `text` is what a recording read in this process gave, else None."""
    if not text:
        return None
    for heard in _HEARD.values():
        if heard.text == text:
            return heard.language
    return None


def time_span(doc_id: str, indices: "list[int]") -> dict:
    """{"start", "end"} (seconds) of the first of `indices` and {"input_spans"} of each, for an audio document;
    {} for a document that did not come from audio."""
    heard = _BY_DOC.get(doc_id)
    if heard is None or not indices or max(indices) >= len(heard.timed):
        return {}
    spans = [[heard.timed[i].start, heard.timed[i].end] for i in indices]
    return {"start": spans[0][0], "end": spans[0][1], "closest_input_spans": spans}


def transcribed_notes() -> "list[str]":
    """One note per model whose transcripts the current command used: the cascade says so."""
    return [f"note: audio transcribed with Whisper {model} (cascade: speech -> text -> concepts)"
            for model in sorted(_USED)]
