"""Reading ahead: the next batch of a source is read in a thread while the caller works on this one."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

_END = object()


def ahead(frames: Iterator[T], go: threading.Event | None) -> Iterator[T]:
    """The frames, each read and converted in a thread while the caller works on the one before.

    GDAL's reading, Arrow's conversion and GEOS's WKB parsing let go of the GIL, so on two cores the next
    batch is read while this one is repaired, harmonised and encoded; one batch ahead, so memory stays
    bounded. The thread waits for `go` (Source.batches), so that it never reads while `read` is still
    collecting the first batch's GDAL warnings. An exception in the thread is raised here, as it was.
    """
    handoff: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        while go is not None and not go.wait(0.1):
            if stop.is_set():
                return
        try:
            for frame in frames:
                if not put((frame, None)):
                    return
            put((_END, None))
        except BaseException as exc:  # noqa: BLE001 (handed to the caller's thread, raised there)
            put((None, exc))

    worker = threading.Thread(target=work, name="sdi-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            frame, exc = handoff.get()
            if exc is not None:
                raise exc
            if frame is _END:
                return
            yield frame
    finally:
        stop.set()
        worker.join()  # before the dataset is closed under it
