"""Trace files: one JSON line per event of a run, written off the run's thread.

`TraceFile(path)` is an event handler; it serialises events in batches and hands
them to one background writer thread, so a run never waits on the disk.
`wait_for_traces()` blocks until everything handed over is on disk; `read_trace`
reads a trace back as dicts (see `events.event_from_dict`).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import queue
import threading
import time
from pathlib import Path
from typing import IO, Any

from engine.events import Event, RunFinished

log = logging.getLogger("chainloom.trace")


def _dumps_line(event: Event) -> bytes:
    return json.dumps(event.to_dict(), ensure_ascii=False, default=str).encode() + b"\n"


try:  # orjson serialises the event dataclasses directly, ~10x faster than json
    import orjson

    def _dumps_line(event: Event) -> bytes:
        return orjson.dumps(event, default=str, option=orjson.OPT_APPEND_NEWLINE)
except ImportError:  # pragma: no cover - orjson is a declared dependency
    pass


class _Writer:
    """One background thread that owns trace-file I/O, so runs never wait on the disk."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Path, bytes, bool, threading.Event | None]] = \
            queue.SimpleQueue()
        self._files: dict[Path, IO[bytes]] = {}
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, path: Path, data: bytes, last: bool) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="chainloom-trace", daemon=True)
                self._thread.start()
                atexit.register(self.drain)
        self._jobs.put((path, data, last, None))

    def drain(self) -> None:
        """Block until everything submitted so far is on disk."""
        if self._thread is None:
            return
        done = threading.Event()
        self._jobs.put((Path(), b"", False, done))
        done.wait(timeout=30)

    def _loop(self) -> None:
        while True:
            path, data, last, done = self._jobs.get()
            if done is not None:
                done.set()
                continue
            try:
                fh = self._files.get(path)
                if fh is None:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    fh = self._files[path] = path.open("wb")
                fh.write(data)
                if last:
                    self._files.pop(path).close()
                else:
                    fh.flush()
            except OSError:
                log.exception("cannot write trace file %s", path)


_WRITER = _Writer()


def wait_for_traces() -> None:
    """Block until every trace file written so far is complete on disk."""
    _WRITER.drain()


class TraceFile:
    """Handler writing one JSON object per event to a file.

    Events are serialised in batches (at most `flush_every` seconds apart, and at
    the end of the run) and handed to a background writer, so tracing costs the run
    a few microseconds per node and no disk waits. `wait_for_traces()` waits for the disk.
    """

    def __init__(self, path: str | os.PathLike[str], flush_every: float = 0.2) -> None:
        self.path = Path(path)
        self._pending: list[Event] = []
        self._flush_every = flush_every
        self._last_flush = time.monotonic()
        self._closed = False

    def __call__(self, event: Event) -> None:
        if self._closed:
            return
        self._pending.append(event)
        if isinstance(event, RunFinished):
            self._closed = True
            self.flush(last=True)
        elif time.monotonic() - self._last_flush > self._flush_every:
            self.flush()

    def flush(self, last: bool = False) -> None:
        if self._pending or last:
            # Serialise here (orjson: ~1 µs an event); the writer thread only does the I/O,
            # so it needs the GIL for moments, not for whole batches.
            _WRITER.submit(self.path, b"".join(_dumps_line(e) for e in self._pending), last)
        self._pending = []
        self._last_flush = time.monotonic()


def read_trace(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    wait_for_traces()
    with Path(path).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
