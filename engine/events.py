"""Typed run events and the handlers that receive them.

Every run emits, in order: RunStarted, then per node NodeStarted, NodeToken*,
NodeStep*, and one of NodeFinished / NodeFailed (possibly several times with
retries) / NodeSkipped / NodeCancelled, then RunFinished. A handler is any
callable taking one event; the trace of a run (its events) is enough to show it
again. Values in events are JSON-safe previews, never live objects.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

log = logging.getLogger("chainloom.events")

PREVIEW_CHARS = 400
PREVIEW_ITEMS = 8


@dataclass(kw_only=True, slots=True)
class Event:
    kind: str = field(init=False, default="event")
    run_id: str
    seq: int = 0
    t: float = 0.0  # seconds since the run started

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in _fields(type(self))}


_FIELDS: dict[type, tuple[str, ...]] = {}


def _fields(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


@dataclass(kw_only=True, slots=True)
class RunStarted(Event):
    kind: str = field(init=False, default="run.started")
    flow_id: str
    flow_name: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    nodes: list[str] = field(default_factory=list)
    session_id: str | None = None


@dataclass(kw_only=True, slots=True)
class NodeStarted(Event):
    kind: str = field(init=False, default="node.started")
    node: str
    type: str
    inputs: dict[str, Any] = field(default_factory=dict)
    attempt: int = 1


@dataclass(kw_only=True, slots=True)
class NodeToken(Event):
    kind: str = field(init=False, default="node.token")
    node: str
    text: str


@dataclass(kw_only=True, slots=True)
class NodeStep(Event):
    """A named step inside a node (an agent's thought, a tool call, a retrieval)."""

    kind: str = field(init=False, default="node.step")
    node: str
    name: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True, slots=True)
class NodeFinished(Event):
    kind: str = field(init=False, default="node.finished")
    node: str
    type: str
    outputs: dict[str, Any] = field(default_factory=dict)
    duration: float = 0.0
    usage: dict[str, Any] | None = None
    cached: bool = False
    fallback_error: str | None = None  # set when the outputs are the node's fallback


@dataclass(kw_only=True, slots=True)
class NodeFailed(Event):
    kind: str = field(init=False, default="node.failed")
    node: str
    type: str
    error: str
    hint: str = ""
    duration: float = 0.0
    attempt: int = 1
    will_retry: bool = False


@dataclass(kw_only=True, slots=True)
class NodeSkipped(Event):
    kind: str = field(init=False, default="node.skipped")
    node: str
    type: str
    reason: str


@dataclass(kw_only=True, slots=True)
class NodeCancelled(Event):
    kind: str = field(init=False, default="node.cancelled")
    node: str
    type: str
    reason: str


@dataclass(kw_only=True, slots=True)
class RunFinished(Event):
    kind: str = field(init=False, default="run.finished")
    status: str  # succeeded | failed | timeout | cancelled
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    hint: str = ""
    failed_node: str | None = None
    duration: float = 0.0
    usage: dict[str, Any] = field(default_factory=dict)


EVENT_TYPES: dict[str, type[Event]] = {
    str(cls.__dataclass_fields__["kind"].default): cls
    for cls in (RunStarted, NodeStarted, NodeToken, NodeStep, NodeFinished, NodeFailed, NodeSkipped, NodeCancelled,
                RunFinished)
}

Handler = Callable[[Event], None]


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """Rebuild an event from its `to_dict()` form (a trace line, a stored row)."""
    cls = EVENT_TYPES.get(data.get("kind", ""))
    if cls is None:
        raise ValueError(f"unknown event kind {data.get('kind')!r}")
    return cls(**{k: v for k, v in data.items() if k in _fields(cls) and k != "kind"})


def preview(value: Any, limit: int = PREVIEW_CHARS, _depth: int = 0) -> Any:
    """A small JSON-safe picture of a value, cheap to make for large ones."""
    kind = type(value)
    if kind is str:
        return value if len(value) <= limit else value[:limit] + f"… (+{len(value) - limit} chars)"
    if kind is dict and _depth < 3 and len(value) <= PREVIEW_ITEMS and _is_flat(value, limit):
        return value  # small dict of short scalars (the common case): already a preview
    if value is None or kind in (int, float, bool):
        return value
    if isinstance(value, str):
        return str(value)[:limit]
    if isinstance(value, (bool, int, float)):
        return value
    to_preview = getattr(value, "to_preview", None)
    if callable(to_preview):
        return preview(to_preview(), limit, _depth)
    if _depth >= 3:
        return f"<{type(value).__name__}>"
    if isinstance(value, Mapping):
        items = list(value.items())
        out = {str(k): preview(v, limit, _depth + 1) for k, v in items[:PREVIEW_ITEMS * 2]}
        if len(items) > PREVIEW_ITEMS * 2:
            out["…"] = f"+{len(items) - PREVIEW_ITEMS * 2} more keys"
        return out
    if isinstance(value, (list, tuple, set, frozenset)):
        seq = list(value)
        out_list = [preview(v, limit, _depth + 1) for v in seq[:PREVIEW_ITEMS]]
        if len(seq) > PREVIEW_ITEMS:
            out_list.append(f"… (+{len(seq) - PREVIEW_ITEMS} more)")
        return out_list
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"[:limit]
    if hasattr(value, "model_dump"):
        return preview(value.model_dump(mode="json"), limit, _depth)
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _is_flat(value: dict[Any, Any], limit: int) -> bool:
    for k, v in value.items():
        t = type(v)
        if type(k) is not str or not (v is None or t is int or t is float or t is bool
                                        or (t is str and len(v) <= limit)):
            return False
    return True


def dispatch(handlers: list[Handler], event: Event) -> None:
    """Call each handler; a broken handler is logged and never breaks the run."""
    for handler in handlers:
        try:
            handler(event)
        except Exception:  # observers must not change the run's outcome
            log.exception("event handler %r failed on %s", handler, event.kind)


class EventLog:
    """The events of one run, in order: numbers and times each one and hands it to the handlers.

    `record` is for code on the run's event loop; `emit` may be called from any thread
    (a node's worker thread streaming tokens) and hops onto the loop first.
    """

    def __init__(self, handlers: list[Handler]) -> None:
        self.events: list[Event] = []
        self.handlers = handlers
        self.t0 = perf_counter()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0

    def start(self) -> None:
        """Bind to the running loop and start the clock (call on the loop, before the first event)."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self.t0 = perf_counter()

    def emit(self, event: Event) -> None:
        if self._loop is not None and threading.get_ident() != self._loop_thread:
            self._loop.call_soon_threadsafe(self.record, event)
        else:
            self.record(event)

    def record(self, event: Event) -> None:
        event.seq = len(self.events) + 1
        event.t = perf_counter() - self.t0
        self.events.append(event)
        if self.handlers:
            dispatch(self.handlers, event)
