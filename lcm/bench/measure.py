"""Measuring: wall time and peak RSS per phase, best-of-N timings, and a codec wrapper that times encode/decode."""

from __future__ import annotations

import math
import time
from contextlib import contextmanager


def _status_mb(key: str) -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def rss_mb() -> float:
    """This process's resident memory now, in MB (VmRSS)."""
    return _status_mb("VmRSS")


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB: VmHWM, the kernel's high-water mark (since the start, or since
    reset_peak_rss), else ru_maxrss where /proc is missing."""
    peak, current = _status_mb("VmHWM"), rss_mb()
    if math.isnan(peak):  # no /proc (not Linux)
        import resource
        import sys

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (2**20 if sys.platform == "darwin" else 1024)
    return max(peak, current)  # the high-water mark lags RSS by a page-counter batch


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter (VmHWM) of this process; False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class PhaseMeter:
    """Wall time and peak RSS of named phases. Peak RSS is per phase where Linux lets us reset VmHWM, else the
    process peak so far, and the report says which."""

    def __init__(self, log=print):
        self.phases: dict[str, dict] = {}
        self.log = log

    @contextmanager
    def phase(self, name: str):
        self.log(f"[bench] {name} ...")
        per_phase = reset_peak_rss()
        start_rss, start = rss_mb(), time.perf_counter()
        yield
        peak = max(peak_rss_mb(), start_rss)
        self.phases[name] = {"seconds": time.perf_counter() - start, "start_rss_mb": start_rss, "peak_rss_mb": peak,
                             "peak_over_start_mb": peak - start_rss, "peak_is_per_phase": per_phase}


def best_time(fn, repeats: int):
    """(fastest wall time of `repeats` calls, last result): the minimum is the least disturbed by other load."""
    best, result = math.inf, None
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


class TimedCodec:
    """Wraps a codec and adds up the time spent in encode and decode (summarize calls both internally)."""

    def __init__(self, codec):
        self.codec, self.encode_s, self.decode_s = codec, 0.0, 0.0
        self.name, self.dim, self.languages = codec.name, codec.dim, codec.languages

    def encode(self, sentences, lang):
        start = time.perf_counter()
        out = self.codec.encode(sentences, lang)
        self.encode_s += time.perf_counter() - start
        return out

    def decode(self, concepts, lang):
        start = time.perf_counter()
        out = self.codec.decode(concepts, lang)
        self.decode_s += time.perf_counter() - start
        return out
