"""Which files are audio, and the checks that need no decoder: existence, size, suffix, a WAV header's promise."""

import struct
from pathlib import Path

from encoders.errors import InputError

# Containers whose audio track the bundled FFmpeg decodes (video containers count: their sound track is used).
AUDIO_SUFFIXES = frozenset({
    ".wav", ".wave", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".wma", ".aiff", ".aif", ".amr",
    ".mka", ".webm", ".mp4", ".mov", ".mkv",
})
# Sample data with no header: the decoder cannot know rate, width or channels.
HEADERLESS_SUFFIXES = frozenset({".raw", ".pcm", ".sln"})
_WAV_UNKNOWN_SIZES = (0, 0xFFFFFFFF)  # what streaming writers put in the header when the length is not known yet


def is_audio(path: "str | Path") -> bool:
    """True when `path` names a file of a supported audio suffix (by name only: nothing is opened)."""
    return Path(path).suffix.lower() in AUDIO_SUFFIXES


def check_file(path: "str | Path") -> Path:
    """The path, after the checks that need no decoder; raise InputError naming the fix otherwise."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"audio file not found: {path}; check the path")
    if path.is_dir():
        raise InputError(f"{path} is a folder; give an audio file ({' '.join(sorted(AUDIO_SUFFIXES))})")
    suffix = path.suffix.lower()
    if suffix in HEADERLESS_SUFFIXES:
        raise InputError(f"{path} is headerless PCM ({suffix}): its rate and sample format are unknown; give it a "
                         f"header first, e.g. `sox -t raw -r 16000 -e signed -b 16 -c 1 {path} out.wav`")
    if suffix not in AUDIO_SUFFIXES:
        raise InputError(f"{path}: unsupported audio format {suffix or '(no suffix)'!r}; convert it to one of "
                         f"{', '.join(sorted(AUDIO_SUFFIXES))} (e.g. `sox in.xyz out.wav`)")
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty (0 bytes); re-record or re-export it")
    return path


def looks_like_text(path: Path, probe_bytes: int = 4096) -> bool:
    """True when the file's first bytes decode as printable UTF-8 text (a text file given an audio name)."""
    with open(path, "rb") as handle:
        head = handle.read(probe_bytes)
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return bool(text) and all(ch.isprintable() or ch in "\r\n\t" for ch in text)


def wav_shortfall(path: Path) -> "tuple[float, float] | None":
    """(seconds the WAV header promises, seconds present) when a RIFF/WAVE file stops before its data chunk ends.

    FFmpeg trusts the file size and quietly decodes what is there, so a cut-off WAV would otherwise look whole.
    None for non-WAV files, headers that do not know their length, and complete files.
    """
    size = path.stat().st_size
    with open(path, "rb") as handle:
        if handle.read(4) != b"RIFF":
            return None
        handle.read(4)
        if handle.read(4) != b"WAVE":
            return None
        byte_rate = None
        while True:
            header = handle.read(8)
            if len(header) < 8:
                return None
            chunk_id, chunk_size = header[:4], struct.unpack("<I", header[4:])[0]
            if chunk_id == b"fmt ":
                fmt = handle.read(min(chunk_size, 16))
                byte_rate = struct.unpack("<I", fmt[8:12])[0] if len(fmt) >= 12 else None
                handle.seek(chunk_size - len(fmt) + (chunk_size & 1), 1)
            elif chunk_id == b"data":
                present = size - handle.tell()
                if chunk_size in _WAV_UNKNOWN_SIZES or present >= chunk_size or not byte_rate:
                    return None
                return chunk_size / byte_rate, present / byte_rate
            else:
                handle.seek(chunk_size + (chunk_size & 1), 1)
