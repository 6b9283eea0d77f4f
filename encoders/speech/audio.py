"""Audio decoding that streams: any FFmpeg-readable file -> 16 kHz mono float32 windows of bounded length.

A whole recording is never held in memory: decoding yields small chunks, and `stream_windows` keeps at most one
window (plus one decoded chunk) at a time, so a 3-hour file needs the same memory as a 5-minute one.
"""

import gc
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from encoders.errors import InputError
from encoders.speech.formats import check_file, looks_like_text, wav_shortfall

SAMPLE_RATE = 16000  # what Whisper listens at
# Containers whose duration FFmpeg estimates from the bitrate (no length in the header): no truncation check there.
_ESTIMATED_DURATION = {"mp3", "aac"}
EXTRA_HINT = 'speech input needs the [speech] extra: run `pip install -e ".[speech]"`'


@dataclass(frozen=True)
class AudioInfo:
    """What the container says about a file before it is decoded."""

    path: Path
    duration: "float | None"  # seconds, from the header; None when the container does not say
    codec: str
    container: str


def require_av():
    """The PyAV module (bundles FFmpeg), or InputError naming the extra that brings it."""
    try:
        import av
    except ImportError:
        raise InputError(EXTRA_HINT) from None
    return av


def _open(path: Path):
    av = require_av()
    try:
        return av.open(str(path), metadata_errors="ignore")
    except av.error.FFmpegError:
        if looks_like_text(path):
            raise InputError(f"{path} is a text file, despite its {path.suffix} name; give the real recording") \
                from None
        raise InputError(f"{path} cannot be decoded as audio: it is damaged, cut short or not a recording; re-export "
                         "or re-download it") from None


def probe(path: "str | Path") -> AudioInfo:
    """Check that `path` is a whole, decodable audio file and read its duration; raise InputError otherwise."""
    path = check_file(path)
    short = wav_shortfall(path)
    if short is not None:
        raise _truncated(path, *short)
    with _open(path) as container:
        if not container.streams.audio:
            raise InputError(f"{path} has no audio track; give a recording with sound")
        stream = container.streams.audio[0]
        duration = container.duration / 1e6 if container.duration else None
        if duration is None and stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        info = AudioInfo(path, duration, stream.codec_context.name, container.format.name)
        if duration and container.format.name not in _ESTIMATED_DURATION:
            _check_tail(container, stream, path, duration)
    return info


def _truncated(path: Path, promised: float, present: float) -> InputError:
    return InputError(f"{path} is truncated: its header promises {promised:.1f} s of audio but the data stops at "
                      f"{present:.1f} s; re-export or re-download it")


def _check_tail(container, stream, path: Path, duration: float, tail_s: float = 1.0) -> None:
    """Seek to the last second the header promises and decode it: a cut-off file has no data there."""
    av = require_av()
    reached = 0.0
    try:
        container.seek(int(max(0.0, duration - tail_s) * 1e6), backward=True)
        for frame in container.decode(stream):
            if frame.pts is not None and frame.time_base is not None:
                reached = max(reached, float(frame.pts * frame.time_base) + frame.samples / frame.sample_rate)
    except av.error.FFmpegError:
        pass  # the data ends in the middle of a frame: judged by how far decoding got
    if reached and reached < duration - 2 * tail_s:
        raise _truncated(path, duration, reached)


def decode_chunks(path: Path, sample_rate: int = SAMPLE_RATE) -> Iterator["object"]:
    """Yield the file's audio as 16 kHz mono float32 numpy chunks, a few thousand samples each.

    Frames the decoder rejects in the middle of a stream (a damaged packet) are skipped, as players do.
    """
    av = require_av()
    resampler = av.audio.resampler.AudioResampler(format="flt", layout="mono", rate=sample_rate)
    with _open(path) as container:
        frames = _valid_frames(container.decode(audio=0), av)
        for frame in itertools.chain(frames, [None]):  # None flushes the resampler
            if frame is not None:
                frame.pts = None  # a timestamp jump in the stream must not stop the resampler
            for out in resampler.resample(frame):
                yield out.to_ndarray().reshape(-1)
    del resampler
    gc.collect()  # PyAV's resampler holds buffers until collected


def _valid_frames(frames, av):
    iterator = iter(frames)
    while True:
        try:
            yield next(iterator)
        except StopIteration:
            return
        except av.error.InvalidDataError:
            continue


def quiet_cut(audio, search: int, frame: int = SAMPLE_RATE // 10) -> int:
    """Index at which to end a window: the middle of its quietest `frame`-long stretch within the last `search`
    samples (the latest such stretch on a tie, so digital silence does not shorten the window)."""
    import numpy as np

    start = max(0, len(audio) - search)
    tail = audio[start:]
    n = len(tail) // frame
    if n < 2:
        return len(audio)
    energy = np.square(tail[: n * frame].reshape(n, frame)).mean(axis=1)
    quietest = n - 1 - int(np.argmin(energy[::-1]))
    return start + quietest * frame + frame // 2


def stream_windows(path: Path, window_s: float = 240.0, search_s: float = 10.0,
                   sample_rate: int = SAMPLE_RATE) -> Iterator["tuple[float, object]"]:
    """Yield (start seconds, samples) windows of at most `window_s`, each cut at a quiet point near its end.

    Cutting where the sound is quietest keeps words whole across windows. Memory: one window plus one chunk.
    """
    import numpy as np

    window = int(window_s * sample_rate)
    search = min(int(search_s * sample_rate), window // 2)
    pending, buffered, offset = [], 0, 0
    for chunk in decode_chunks(path, sample_rate):
        pending.append(chunk)
        buffered += len(chunk)
        while buffered >= window:
            audio = np.concatenate(pending)
            cut = quiet_cut(audio[:window], search)
            yield offset / sample_rate, audio[:cut]
            offset += cut
            pending, buffered = [audio[cut:].copy()], len(audio) - cut  # a copy: the window can be freed
    if buffered:
        yield offset / sample_rate, np.concatenate(pending)
