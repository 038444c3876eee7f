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
from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.errors import ChainloomError, ValidationFailed
from engine.events import (
    Event,
    NodeCancelled,
    NodeFailed,
    NodeFinished,
    NodeSkipped,
    NodeStarted,
    NodeStep,
    NodeToken,
    RunFinished,
    RunStarted,
    event_from_dict,
)
from engine.flow import Flow
from engine.runner import RunControl

MAX_TOKEN_CHARS = 20_000   # streamed text kept per node for the live view


class FlowRunner(Protocol):
    def run(self, flow: Any, inputs: Mapping[str, Any] | None = None, **kwargs: Any) -> Any: ...


@dataclass
class NodeTrace:
    status: str = "queued"
    type: str = ""
    inputs: Any = None
    outputs: Any = None
    duration: float | None = None
    usage: dict[str, Any] | None = None
    tokens: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""
    hint: str = ""
    reason: str = ""
    attempts: int = 0
    cached: bool = False
    started_at: float | None = None


@dataclass
class RunSnapshot:
    run_id: str
    status: str                    # starting | running | succeeded | failed | timeout | cancelled
    nodes: dict[str, NodeTrace]
    outputs: dict[str, Any]
    error: str = ""
    hint: str = ""
    failed_node: str | None = None
    duration: float | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    events: int = 0                # how many events were folded in (a change counter)

    @property
    def finished(self) -> bool:
        return self.status not in ("starting", "running")

    def statuses(self) -> dict[str, str]:
        return {nid: n.status for nid, n in self.nodes.items()}


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
            _fold(self._snap, event)

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


def _node(snap: RunSnapshot, node_id: str) -> NodeTrace:
    return snap.nodes.setdefault(node_id, NodeTrace())


def _fold(snap: RunSnapshot, event: Event) -> None:
    snap.events += 1
    if isinstance(event, RunStarted):
        snap.status = "running"
        snap.inputs = dict(event.inputs)
        for nid in event.nodes:
            _node(snap, nid)
    elif isinstance(event, NodeStarted):
        n = _node(snap, event.node)
        n.status, n.type, n.inputs, n.attempts = "running", event.type, event.inputs, event.attempt
        n.started_at, n.error, n.hint = event.t, "", ""
    elif isinstance(event, NodeToken):
        n = _node(snap, event.node)
        if len(n.tokens) < MAX_TOKEN_CHARS:
            n.tokens += event.text
    elif isinstance(event, NodeStep):
        _node(snap, event.node).steps.append({"name": event.name, **event.data})
    elif isinstance(event, NodeFinished):
        n = _node(snap, event.node)
        n.status = "cached" if event.cached else "done"
        n.type, n.outputs, n.duration, n.usage, n.cached = (event.type, event.outputs, event.duration,
                                                            event.usage, event.cached)
        if event.fallback_error:
            n.error, n.hint = event.fallback_error, "the node failed; its fallback outputs were used"
    elif isinstance(event, NodeFailed):
        n = _node(snap, event.node)
        n.status = "running" if event.will_retry else "failed"
        n.type, n.error, n.hint, n.duration = event.type, event.error, event.hint, event.duration
    elif isinstance(event, NodeSkipped):
        n = _node(snap, event.node)
        n.status, n.type, n.reason = "skipped", event.type, event.reason
    elif isinstance(event, NodeCancelled):
        n = _node(snap, event.node)
        n.status, n.type, n.reason = "cancelled", event.type, event.reason
    elif isinstance(event, RunFinished):
        snap.status, snap.outputs = event.status, dict(event.outputs)
        snap.error, snap.hint, snap.failed_node = event.error or "", event.hint, event.failed_node
        snap.duration, snap.usage = event.duration, dict(event.usage)
