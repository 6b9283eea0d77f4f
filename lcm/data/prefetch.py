"""Background prefetching of training batches, so reading parquet and padding overlap with the model's step.

The trainer's loader is a plain generator (lcm.data.batches). Reading a shard (pyarrow) and building padded tensors
release the GIL, so one thread is enough to keep `depth` batches ready while the main thread trains; on a GPU the
batches are also put in pinned memory, so the copy to the device can run asynchronously (`non_blocking=True`).
"""

import queue
import threading
from typing import Iterator

import torch

_DONE = object()


class Prefetcher:
    """Iterate `source` in a daemon thread, `depth` items ahead. Errors in the thread are raised in the caller."""

    def __init__(self, source: Iterator, depth: int = 2, pin_memory: bool = False):
        if depth < 1:
            raise ValueError(f"prefetch depth must be at least 1, got {depth}")
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._pin = pin_memory
        self._thread = threading.Thread(target=self._fill, args=(source,), daemon=True, name="lcm-prefetch")
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _fill(self, source: Iterator) -> None:
        try:
            for item in source:
                if self._pin:
                    item = tuple(t.pin_memory() if isinstance(t, torch.Tensor) else t for t in item)
                if not self._put(item):
                    return
            self._put(_DONE)
        except BaseException as err:  # handed to the consumer, which re-raises it with its traceback
            self._put(err)

    def __iter__(self):
        return self

    def __next__(self):
        item = self._queue.get()
        if item is _DONE:
            self._queue.put(_DONE)  # later calls keep ending
            raise StopIteration
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        """Stop the thread early (e.g. the step budget ended mid-epoch)."""
        self._stop.set()
        self._thread.join(timeout=5)


def prefetch(source: Iterator, depth: int = 2, device: "torch.device | None" = None) -> Prefetcher:
    """Prefetch `source` in the background; pins memory when training on CUDA."""
    return Prefetcher(source, depth, pin_memory=device is not None and device.type == "cuda")
