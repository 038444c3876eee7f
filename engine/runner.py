"""The one way to run a flow, used by the Python API, the CLI, the UI and the server.

`Runner(registry, ...).run(flow, inputs)` validates, runs and records: events go
to the caller's handlers, to a JSON-lines trace file and to the run store when
those are configured. `arun` is the same for callers already inside an event loop.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from engine.control import RunControl
from engine.events import Handler
from engine.flow import Flow
from engine.home import default_home
from engine.registry import Registry
from engine.scheduler import NodeCache, RunOptions, RunResult, execute
from engine.trace import TraceFile, read_trace, wait_for_traces
from engine.validate import Plan, compile_flow

# RunControl, default_home and the trace functions have their own modules; they stay
# importable from here for code written against earlier versions.
__all__ = ["RunControl", "RunRecorder", "Runner", "TraceFile", "default_home", "read_trace",
           "wait_for_traces"]

PLAN_CACHE_SIZE = 64  # compiled plans kept per registry, least recently used out
# Shared by every Runner on a registry, so `chainloom.run(flow)` (a Runner per call) compiles once.
_PLANS: weakref.WeakKeyDictionary[Registry, OrderedDict[str, Plan]] = weakref.WeakKeyDictionary()
_PLANS_LOCK = threading.Lock()


class RunRecorder(Protocol):
    """What the run store offers the runner: a handler per run, opened before it starts."""

    def recorder(self, run_id: str, flow: Flow, inputs: Mapping[str, Any],
                 flow_version: int | None = None) -> Handler: ...


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
        """Blocking form of `arun`, for scripts and threads without an event loop.

        Each thread keeps one event loop for its runs: making and closing a loop per run
        (asyncio.run) cost milliseconds, more than a whole small flow.
        """
        return thread_loop().run(self.arun(flow, inputs, **kwargs))


_THREAD = threading.local()


def thread_loop() -> asyncio.Runner:
    """This thread's asyncio.Runner, made on first use (raises inside a running loop, as asyncio.run)."""
    loop_runner: asyncio.Runner | None = getattr(_THREAD, "runner", None)
    if loop_runner is None:
        loop_runner = _THREAD.runner = asyncio.Runner()
        if threading.current_thread() is threading.main_thread():
            atexit.register(loop_runner.close)
    return loop_runner
