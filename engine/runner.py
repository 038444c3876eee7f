"""The one way to run a flow, used by the Python API, the CLI, the UI and the server.

`Runner(registry, ...).run(flow, inputs)` validates, runs and records: events go
to the caller's handlers, to a JSON-lines trace file and to the run store when
those are configured. `arun` is the same for callers already inside an event loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Protocol

from engine.events import Event, Handler, RunFinished
from engine.flow import Flow
from engine.registry import Registry
from engine.scheduler import NodeCache, RunOptions, RunResult, execute
from engine.validate import Plan, compile_flow


class RunRecorder(Protocol):
    """What the run store offers the runner: a handler per run, opened before it starts."""

    def recorder(self, run_id: str, flow: Flow, inputs: Mapping[str, Any],
                 flow_version: int | None = None) -> Handler: ...


class TraceFile:
    """Handler writing one JSON object per event to a file (buffered, flushed per node)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[str] | None = self.path.open("w", encoding="utf-8")

    def __call__(self, event: Event) -> None:
        if self._fh is None:
            return
        self._fh.write(json.dumps(event.to_dict(), ensure_ascii=False, default=str) + "\n")
        if isinstance(event, RunFinished):
            self._fh.close()
            self._fh = None


def read_trace(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    with Path(path).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def default_home() -> Path:
    """The data dir: $CHAINLOOM_HOME, else ~/.chainloom."""
    return Path(os.environ.get("CHAINLOOM_HOME") or Path.home() / ".chainloom")


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
        return flow if isinstance(flow, Plan) else compile_flow(flow, self.registry)

    async def arun(self, flow: Flow | Plan, inputs: Mapping[str, Any] | None = None, *,
                   handlers: Sequence[Handler] = (), run_id: str | None = None,
                   session_id: str | None = None, timeout: float | None = None,
                   trace: bool = True, flow_version: int | None = None) -> RunResult:
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
        return await execute(plan, inputs, all_handlers, options)

    def run(self, flow: Flow | Plan, inputs: Mapping[str, Any] | None = None, **kwargs: Any) -> RunResult:
        """Blocking form of `arun`, for scripts and threads without an event loop."""
        return asyncio.run(self.arun(flow, inputs, **kwargs))
