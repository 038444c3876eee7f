"""Recording a run into the store as it happens: the Runner's store handler.

The run row is written when the run starts; events are buffered and written in one
transaction at most every FLUSH_EVERY seconds (from a timer thread, so the event
loop never waits on the disk mid-run) and once more, synchronously, with the
outcome when the run finishes.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, update

from engine.events import Event, RunFinished, RunStarted
from engine.flow import Flow
from engine.store import _dumps, _now, events_table, runs_table

if TYPE_CHECKING:
    from engine.store import Store

FLUSH_EVERY = 0.25  # seconds between batched event writes during a run


def _event_row(event: Event) -> dict[str, Any]:
    body = event.to_dict()
    return {"run_id": event.run_id, "seq": event.seq, "kind": event.kind,
            "node": body.get("node"), "body": _dumps(body)}


class RunRecording:
    """The handler for one run: the run row at start, events in batches, the outcome at the end.

    Events are buffered and written in one transaction at most every FLUSH_EVERY
    seconds (from a timer thread, so the event loop never waits on the disk during
    the run) and once more, synchronously, on RunFinished.
    """

    def __init__(self, store: Store, run_id: str, flow: Flow, flow_version: int | None) -> None:
        self.store = store
        self.run_id = run_id
        self.flow_id = flow.id
        self.flow_version = flow_version
        self._buffer: list[dict[str, Any]] = []
        self._lock = threading.Lock()        # guards _buffer and _timer
        self._write_lock = threading.Lock()  # one batch at a time, in order
        self._timer: threading.Timer | None = None
        self._started = False

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self._start(event)
            return
        if not self._started:
            return  # the run row could not be written; events would have nowhere to go
        with self._lock:
            self._buffer.append(_event_row(event))
        if isinstance(event, RunFinished):
            self._finish(event)
        else:
            self._schedule()

    def _start(self, event: RunStarted) -> None:
        row = {"id": self.run_id, "flow_id": self.flow_id, "flow_version": self.flow_version,
               "status": "running", "started_at": _now(), "inputs": _dumps(event.inputs),
               "outputs": "{}", "hint": "", "usage": "{}",
               "session_id": event.session_id}
        with self.store.engine.begin() as conn:
            conn.execute(insert(runs_table).values(**row))
            conn.execute(insert(events_table).values(**_event_row(event)))
        self._started = True

    def _schedule(self) -> None:
        with self._lock:
            if self._timer is None:
                self._timer = threading.Timer(FLUSH_EVERY, self._timed_flush)
                self._timer.daemon = True
                self._timer.start()

    def _timed_flush(self) -> None:
        with self._lock:
            self._timer = None
        self.flush()

    def flush(self, finished: RunFinished | None = None) -> None:
        """Write buffered events (and the run's outcome, when given) in one transaction."""
        with self._write_lock:
            with self._lock:
                batch, self._buffer = self._buffer, []
            if not batch and finished is None:
                return
            with self.store.engine.begin() as conn:
                if batch:
                    conn.execute(insert(events_table), batch)
                if finished is not None:
                    conn.execute(update(runs_table).where(runs_table.c.id == self.run_id)
                                 .values(**_outcome(finished)))

    def _finish(self, event: RunFinished) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        self.flush(event)


def _outcome(event: RunFinished) -> dict[str, Any]:
    return {"status": event.status, "finished_at": _now(), "duration": event.duration,
            "outputs": _dumps(event.outputs), "error": event.error, "hint": event.hint or "",
            "failed_node": event.failed_node, "usage": _dumps(event.usage)}
