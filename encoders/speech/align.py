"""Transcript -> the toolkit's sentences, each with the time span of the words it covers.

Whisper's segments are stretches of audio, not sentences: the words are joined and split by `encoders.segment`
(the same segmenter text input goes through, so "Mr. Smith" stays whole), then each sentence is mapped back to its
words by counting non-space characters, which survives any whitespace the segmenter normalises.
"""

from bisect import bisect_right
from dataclasses import dataclass

from encoders.errors import InputError
from encoders.segment import segment

# A language the toolkit has no code for (Whisper knows 99) is split by punctuation alone: "und_Zyyy" is the
# ISO code pair for "undetermined language, common script", which the segmenter accepts and splits by regex.
_ANY_LANGUAGE = "und_Zyyy"


@dataclass
class TimedSentence:
    """A sentence of the recording and when it was said (seconds from the start)."""

    text: str
    start: float
    end: float


def split_sentences(text: str, lang: str) -> "list[str]":
    """The toolkit's segmenter for `lang`, falling back to punctuation rules for languages it has no code for."""
    try:
        return segment(text, lang)
    except InputError:
        return segment(text, _ANY_LANGUAGE)


def _nonspace(text: str) -> int:
    return sum(1 for ch in text if not ch.isspace())


def sentences(transcript, lang: "str | None" = None) -> "list[TimedSentence]":
    """Split a Transcript into sentences (language `lang`, default the transcript's) with their time spans."""
    words = [word for word in transcript.words if _nonspace(word.text)]
    if not words:
        return []
    ends, total = [], 0  # ends[i]: non-space characters up to and including word i
    for word in words:
        total += _nonspace(word.text)
        ends.append(total)
    text = "".join(word.text for word in words)
    out, position = [], 0
    for sentence in split_sentences(text, lang or transcript.language or "en"):
        first = min(bisect_right(ends, position), len(words) - 1)
        position += _nonspace(sentence)
        last = max(first, min(bisect_right(ends, position - 1), len(words) - 1))
        out.append(TimedSentence(sentence, words[first].start, words[last].end))
    return out


def closest_spans(summary, inputs, timed: "list[TimedSentence]", k: int = 1) -> "list[tuple[float, float]]":
    """For each summary concept, the time span covering its `k` most similar input concepts (cosine similarity).

    `summary` (m, d) and `inputs` (n, d) are array-likes of concept vectors; `timed[i]` is input sentence i.
    """
    import numpy as np

    summary, inputs = np.asarray(summary, dtype=np.float32), np.asarray(inputs, dtype=np.float32)
    if len(inputs) != len(timed):
        raise ValueError(f"{len(inputs)} input concepts for {len(timed)} timed sentences")

    def unit(x):
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    similarity = unit(summary) @ unit(inputs).T
    spans = []
    for row in similarity:
        best = np.argsort(-row, kind="stable")[: max(1, k)]
        spans.append((min(timed[i].start for i in best), max(timed[i].end for i in best)))
    return spans
