"""The one way to run a flow, used by the Python API, the CLI, the UI and the server.

`Runner(registry, ...).run(flow, inputs)` validates, runs and records: events go
to the caller's handlers, to a JSON-lines trace file and to the run store when
those are configured. `arun` is the same for callers already inside an event loop.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import os
import queue
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Protocol

from engine.events import Event, Handler, RunFinished
from engine.flow import Flow
from engine.registry import Registry
from engine.scheduler import NodeCache, RunOptions, RunResult, execute
from engine.validate import Plan, compile_flow

log = logging.getLogger("chainloom.trace")

PLAN_CACHE_SIZE = 64  # compiled plans kept per registry, least recently used out
# Shared by every Runner on a registry, so `chainloom.run(flow)` (a Runner per call) compiles once.
_PLANS: weakref.WeakKeyDictionary[Registry, OrderedDict[str, Plan]] = weakref.WeakKeyDictionary()
_PLANS_LOCK = threading.Lock()


class RunRecorder(Protocol):
    """What the run store offers the runner: a handler per run, opened before it starts."""

    def recorder(self, run_id: str, flow: Flow, inputs: Mapping[str, Any],
                 flow_version: int | None = None) -> Handler: ...


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


def default_home() -> Path:
    """The data dir: $CHAINLOOM_HOME, else ~/.chainloom."""
    return Path(os.environ.get("CHAINLOOM_HOME") or Path.home() / ".chainloom")


class RunControl:
    """Lets another thread stop a run: pass `control=` to `Runner.run`, then `cancel()`.

    The run ends with status "cancelled"; in-flight nodes are cancelled and every
    node gets a terminal event, as with any other stop.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._target: tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]] | None = None
        self.cancelled = False

    def bind(self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]) -> None:
        with self._lock:
            self._target = (loop, task)
            if self.cancelled:
                loop.call_soon_threadsafe(task.cancel)

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            if self._target is not None:
                loop, task = self._target
                loop.call_soon_threadsafe(task.cancel)


class Runner:
    """Validates and runs flows against one registry, recording what happens."""

    def __init__(self, registry: Registry, *, store: RunRecorder | None = None,
                 trace_dir: str | os.PathLike[str] | None = None, cache: NodeCache | None = None,
                 services: Mapping[str, Any] | None = None, max_concurrency: int = 16) -> None:
        self.registry = registry
        self.store = store
        self.trace_dir = Path(trace_dir) if trace_dir else None
        self.cache = cache
        self.services = dict(services or {})
        self.max_concurrency = max_concurrency

    def plan(self, flow: Flow | Plan) -> Plan:
        """The compiled plan (raises ValidationFailed); the same flow content compiles once."""
        if isinstance(flow, Plan):
            return flow
        # Keyed by content, not identity: a Flow is mutable, and its JSON costs ~1 µs a node,
        # where validating it again costs ~100.
        key = flow.model_dump_json()
        with _PLANS_LOCK:
            plans = _PLANS.setdefault(self.registry, OrderedDict())
            plan = plans.get(key)
            if plan is not None:
                plans.move_to_end(key)
                return plan
        plan = compile_flow(flow, self.registry)
        with _PLANS_LOCK:
            plans[key] = plan
            while len(plans) > PLAN_CACHE_SIZE:
                plans.popitem(last=False)
        return plan

    async def arun(self, flow: Flow | Plan, inputs: Mapping[str, Any] | None = None, *,
                   handlers: Sequence[Handler] = (), run_id: str | None = None,
                   session_id: str | None = None, timeout: float | None = None,
                   trace: bool = True, flow_version: int | None = None,
                   control: RunControl | None = None) -> RunResult:
        """Validate (raises ValidationFailed), then run; node failures land in the result."""
        plan = self.plan(flow)
        inputs = dict(inputs or {})
        options = RunOptions(run_id=run_id, timeout=timeout, trace=trace, session_id=session_id,
                             services=self.services, cache=self.cache,
                             max_concurrency=self.max_concurrency)
        all_handlers = list(handlers)
        options.run_id = options.run_id or uuid.uuid4().hex
        if self.trace_dir is not None:
            all_handlers.append(TraceFile(self.trace_dir / f"{options.run_id}.jsonl"))
        if self.store is not None:
            all_handlers.append(self.store.recorder(options.run_id, plan.flow, inputs, flow_version))
        if control is not None:
            task = asyncio.current_task()
            if task is not None:
                control.bind(asyncio.get_running_loop(), task)
        return await execute(plan, inputs, all_handlers, options)

    def run(self, flow: Flow | Plan, inputs: Mapping[str, Any] | None = None, **kwargs: Any) -> RunResult:
        """Blocking form of `arun`, for scripts and threads without an event loop."""
        return asyncio.run(self.arun(flow, inputs, **kwargs))
