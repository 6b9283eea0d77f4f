"""Audio file -> Transcript (text, language, word times), one bounded window at a time."""

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional

from encoders.errors import InputError
from encoders.languages import normalize_lang, short_code
from encoders.speech.audio import SAMPLE_RATE, probe, stream_windows
from encoders.speech.models import INSTALL_BASE, AsrModel, load_model

Progress = Callable[[float, Optional[float]], None]  # (seconds transcribed, total seconds or None)


@dataclass
class Word:
    """One recognised word (with the punctuation Whisper attached to it) and its time span in seconds."""

    text: str
    start: float
    end: float
    probability: float = 1.0


@dataclass
class Segment:
    """One Whisper segment: a stretch of speech the model decoded at once (not a sentence)."""

    text: str
    start: float
    end: float


@dataclass
class Transcript:
    """What was said in a recording. `text` is the words joined as Whisper spells them."""

    text: str
    language: str  # ISO 639-1 (Whisper's code); "en" for English-only models
    language_probability: float
    duration: float  # seconds of audio decoded
    words: list = field(default_factory=list)  # list[Word], in time order
    segments: list = field(default_factory=list)  # list[Segment]
    model: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class AsrOptions:
    """How to run the recogniser. Windows bound memory (peak RSS grows ~1.1 MB per second of window: the model's
    feature extractor holds a window's whole spectrogram); VAD skips silence (and the words Whisper invents there).

    Each window starts without a text prompt: feeding the previous window's last words made Whisper repeat and
    invent text (WER 1.4% -> 19% on an 8-minute reading), so windows are independent, cut at quiet points."""

    window_s: float = 60.0
    beam_size: int = 5
    vad: bool = True
    threads: int = 1


def whisper_language(language: "str | None", asr: AsrModel) -> "str | None":
    """The Whisper code for a user's language code (`de`, `deu_Latn`), or None to detect it."""
    if language is None:
        return None if asr.multilingual else "en"
    supported = set(asr.whisper.supported_languages) if asr.multilingual else {"en"}
    code = language.strip().lower()
    if code not in supported:
        try:
            code = short_code(normalize_lang(language))
        except InputError:
            pass
    if code in supported:
        return code
    if not asr.multilingual:
        raise InputError(f"the ASR model {asr.name} understands English only; for {language!r} install the "
                         f"multilingual model once (`{INSTALL_BASE}`) and use the model 'base'")
    raise InputError(f"the ASR model does not know the language {language!r}; give an ISO 639-1 code such as de, fr "
                     "or es, or leave the language out to detect it")


def transcribe(path: "str | Path", *, model: "str | Path | AsrModel | None" = None, language: "str | None" = None,
               progress: "Progress | None" = None, options: "AsrOptions | None" = None) -> Transcript:
    """Transcribe an audio file with word timestamps, streaming it window by window (bounded memory).

    `model`: a name (tiny.en, the default; base), a CTranslate2 Whisper folder, or a loaded AsrModel. `language`:
    None detects it (multilingual models). `progress(done_s, total_s)` is called as segments arrive.
    Raises InputError with the fix for unreadable files, 0-second files and recordings with no speech.
    """
    options = options or AsrOptions()
    info = probe(path)
    asr = load_model(model, options.threads)
    language = whisper_language(language, asr)
    probability = 1.0 if language else 0.0
    transcript = Transcript("", language or "", probability, 0.0, model=asr.name)
    for offset, audio in stream_windows(info.path, options.window_s):
        length = len(audio) / SAMPLE_RATE
        segments, found = asr.whisper.transcribe(audio, language=language, beam_size=options.beam_size,
                                                 word_timestamps=True, vad_filter=options.vad)
        heard = False
        for segment in segments:  # a lazy generator: each segment is decoded as it is asked for
            heard = _add_segment(transcript, segment, offset, length) or heard
            if progress:
                progress(min(offset + segment.end, offset + length), info.duration)
        if heard and language is None:  # detected in the first window with speech, then kept for the rest
            language, transcript.language, transcript.language_probability = (
                found.language, found.language, float(found.language_probability))
        transcript.duration = offset + length
        if progress:
            progress(transcript.duration, info.duration)
    _check_heard(transcript, info.path)
    return transcript


def _add_segment(transcript: Transcript, segment, offset: float, length: float) -> bool:
    """Append a Whisper segment's words, shifted to file time and kept in order; False when it holds no words."""
    raw = ([(w.word, w.start, w.end, w.probability) for w in segment.words] if segment.words
           else [(segment.text, segment.start, segment.end, 1.0)])
    last_end = transcript.words[-1].end if transcript.words else 0.0
    added = []
    for text, start, end, probability in raw:
        if not text.strip():
            continue
        start = min(max(offset + float(start), offset, last_end), offset + length)
        end = min(max(offset + float(end), start), offset + length)
        added.append(Word(text, round(start, 3), round(end, 3), round(float(probability), 4)))
        last_end = end
    if not added:
        return False
    transcript.words.extend(added)
    text = "".join(word.text for word in added)
    transcript.segments.append(Segment(text.strip(), added[0].start, added[-1].end))
    transcript.text = (transcript.text + text).strip()
    return True


def _check_heard(transcript: Transcript, path: Path) -> None:
    if transcript.duration <= 0:
        raise InputError(f"{path} holds 0 seconds of audio; re-record or re-export it")
    if not transcript.words:
        raise InputError(f"no speech heard in {path} ({transcript.duration:.1f} s of silence or noise); check that "
                         "this is the recording you meant and that its sound track is not muted")


def read_audio_sentences(path: "str | Path", lang: "str | None" = None, model=None,
                         progress: "Progress | None" = None) -> "tuple[list, str]":
    """(sentences with their time spans, ISO 639-1 language) of a recording: the one call the CLI needs."""
    from encoders.speech.align import sentences

    transcript = transcribe(path, model=model, language=lang, progress=progress)
    return sentences(transcript, lang or transcript.language), transcript.language
