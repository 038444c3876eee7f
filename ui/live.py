"""Live run state: a run executed off the Streamlit script thread, watched by the UI.

`LiveRun.start(runner, flow, inputs)` runs the flow in a daemon thread with the
Runner's event handlers; `handle` folds each engine event into per-node state
(status, inputs, outputs, duration, usage, streamed tokens, steps, error and
hint) under a lock, and `snapshot()` hands the script thread a consistent copy.
`LiveRun.replay(events)` rebuilds the same view from a stored trace.
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from engine.control import RunControl
from engine.errors import ChainloomError, ValidationFailed
from engine.events import Event, event_from_dict
from engine.flow import Flow
from engine.run_state import NodeState, RunState


class FlowRunner(Protocol):
    def run(self, flow: Any, inputs: Mapping[str, Any] | None = None, **kwargs: Any) -> Any: ...


NodeTrace = NodeState    # one node of a run, as the UI shows it (the engine's fold)
RunSnapshot = RunState   # a consistent copy of the whole run


class LiveRun:
    """Thread-safe state of one run, fed by engine events."""

    def __init__(self, run_id: str | None = None, node_ids: Iterable[str] = (),
                 inputs: Mapping[str, Any] | None = None) -> None:
        self.run_id = run_id or uuid.uuid4().hex
        self._lock = threading.Lock()
        self._snap = RunSnapshot(self.run_id, "starting", {nid: NodeTrace() for nid in node_ids}, {},
                                 inputs=dict(inputs or {}))
        self.thread: threading.Thread | None = None
        self.result: Any = None
        self.control = RunControl()

    # ------------------------------------------------------------- running
    def start(self, runner: FlowRunner, flow: Flow, inputs: Mapping[str, Any], *,
              session_id: str | None = None, flow_version: int | None = None,
              timeout: float | None = None) -> LiveRun:
        """Run `flow` in a daemon thread; returns self at once."""
        kwargs: dict[str, Any] = {"handlers": [self.handle], "run_id": self.run_id, "control": self.control}
        if session_id:
            kwargs["session_id"] = session_id
        if flow_version is not None:
            kwargs["flow_version"] = flow_version
        if timeout:
            kwargs["timeout"] = timeout

        def work() -> None:
            try:
                self.result = runner.run(flow, dict(inputs), **kwargs)
            except ValidationFailed as err:
                self.fail("the flow has problems, nothing was run:\n" +
                          "\n".join(f"- {i}" for i in err.issues), "fix the problems listed under Validation")
            except ChainloomError as err:
                self.fail(err.message, err.hint)
            except Exception as err:  # noqa: BLE001 - shown to the user, never swallowed silently
                self.fail(f"{type(err).__name__}: {err}", "this is a chainloom bug; please report it")

        self.thread = threading.Thread(target=work, name=f"chainloom-ui-run-{self.run_id[:8]}", daemon=True)
        self.thread.start()
        return self

    def cancel(self) -> None:
        """Stop the run: in-flight nodes are cancelled and it ends as "cancelled"."""
        self.control.cancel()

    def fail(self, error: str, hint: str = "") -> None:
        """Record a run that ended before or outside the scheduler (bad inputs, invalid flow)."""
        with self._lock:
            snap = self._snap
            if snap.finished:
                return
            snap.status, snap.error, snap.hint = "failed", error, hint
            snap.events += 1

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run's thread ends (for tests and scripts); True when finished."""
        if self.thread is not None:
            self.thread.join(timeout)
        return self.snapshot().finished

    # ------------------------------------------------------------- events
    def handle(self, event: Event) -> None:
        """Fold one engine event in; called from the run's thread."""
        with self._lock:
            self._snap.apply(event)

    def snapshot(self) -> RunSnapshot:
        with self._lock:
            return copy.deepcopy(self._snap)

    @classmethod
    def replay(cls, events: Iterable[Event | Mapping[str, Any]], run_id: str | None = None) -> LiveRun:
        """A finished LiveRun rebuilt from a stored trace (events or their dicts)."""
        live = cls(run_id)
        first = run_id is None
        for ev in events:
            event = ev if isinstance(ev, Event) else event_from_dict(ev)
            if first:
                live.run_id = live._snap.run_id = event.run_id
                first = False
            live.handle(event)
        return live
