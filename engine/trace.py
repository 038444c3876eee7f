"""Trace files: one JSON line per event of a run, written off the run's thread.

`TraceFile(path)` is an event handler that only appends each event; the process's
store writer (engine.recording) serialises the events in rounds, once for the trace
file and the run store, and writes them, so a run never waits on the disk.
`wait_for_traces()` blocks until everything recorded is on disk; `read_trace` reads a
trace back as dicts (see `events.event_from_dict`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from engine.recording import TraceRecording, flush_recordings


class TraceFile(TraceRecording):
    """Handler writing one JSON object per event to a file, through the store's writer."""


def wait_for_traces() -> None:
    """Block until every trace file written so far is complete on disk."""
    flush_recordings()


def read_trace(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    wait_for_traces()
    with Path(path).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
