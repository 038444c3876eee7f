"""One run of a flow for one request, in its own thread and event loop.

The engine's store records a run with short synchronous writes; running each
run on a worker thread keeps those writes (and any SQLite lock waits) off the
server's event loop. The job watches the database for the run's cancel flag, so
a cancel sent to any worker reaches the worker that runs it. Events are handed
to `on_event` as the engine's dicts, from the run's thread.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.events import Event, Handler, RunFinished, RunStarted
from engine.recording import RunRecording
from engine.runner import Runner
from engine.scheduler import RunResult
from engine.validate import Plan
from server.tables import cancel_requested

log = logging.getLogger("chainloom.server")

EventSink = Callable[[dict[str, Any]], None]
RECORDED_WITHIN = 30.0  # seconds to wait for the store's writer before answering anyway


@dataclass
class RunJob:
    runner: Runner
    plan: Plan
    inputs: Mapping[str, Any]
    run_id: str
    session_id: str | None
    timeout: float
    flow_version: int | None
    cancel_poll: float
    on_event: EventSink | None = None
    _loop: asyncio.AbstractEventLoop | None = field(default=None, init=False)
    _task: asyncio.Task[RunResult] | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _cancelled: bool = field(default=False, init=False)
    _recording: RunRecording | None = field(default=None, init=False)

    def run(self) -> RunResult | None:
        """Run to the end in this thread; None if cancelled before the engine started it.

        Returns once the run's outcome is in the database, so any worker can read it."""
        result = asyncio.run(self._main())
        if self._recording is not None and result is not None:
            self._recording.complete.wait(RECORDED_WITHIN)
        return result

    def cancel(self) -> None:
        """Stop the run (thread-safe, idempotent): the engine records it as cancelled."""
        with self._lock:
            if self._cancelled:
                return
            self._cancelled = True
            loop, task = self._loop, self._task
        if loop is not None and task is not None:
            loop.call_soon_threadsafe(task.cancel)

    def _handlers(self) -> tuple[Runner, list[Handler]]:
        """A runner without a store, and the store's recorder placed first among the handlers,
        so an event reaches `on_event` only after the store has written it (a client that
        sees run.started can read the run from any worker)."""
        runner = copy.copy(self.runner)
        runner.store = None
        handlers: list[Handler] = []
        if self.runner.store is not None:
            recording = self.runner.store.recorder(self.run_id, self.plan.flow, self.inputs,
                                                   self.flow_version)
            self._recording = recording if isinstance(recording, RunRecording) else None
            handlers.append(recording)
        if self.on_event is not None:
            handlers.append(self._forward)
        return runner, handlers

    async def _main(self) -> RunResult | None:
        runner, handlers = self._handlers()
        task = asyncio.create_task(runner.arun(
            self.plan, self.inputs, handlers=handlers, run_id=self.run_id,
            session_id=self.session_id, timeout=self.timeout, flow_version=self.flow_version))
        with self._lock:
            self._loop, self._task = asyncio.get_running_loop(), task
            cancelled = self._cancelled
        await asyncio.sleep(0)  # let the engine start (and record) the run before any cancel
        if cancelled:
            task.cancel()
        watcher = asyncio.create_task(self._watch(task))
        try:
            return await task
        except asyncio.CancelledError:
            return None
        finally:
            watcher.cancel()

    async def _watch(self, task: asyncio.Task[RunResult]) -> None:
        """Poll the run's cancel flag in the database (set by any worker) until the run ends."""
        engine = getattr(self.runner.store, "engine", None)
        if engine is None:
            return
        while not task.done():
            await asyncio.sleep(self.cancel_poll)
            try:
                flagged = cancel_requested(engine, self.run_id)
            except Exception:  # a failed poll must not end the run
                log.exception("cannot read the cancel flag of run %s", self.run_id)
                continue
            if flagged:
                self.cancel()
                return

    def _forward(self, event: Event) -> None:
        if self.on_event is None:
            return
        if self._recording is not None:
            # A client that sees run.started (or run.finished) may read the run from any worker.
            if isinstance(event, RunStarted):
                self._recording.written.wait(RECORDED_WITHIN)
            elif isinstance(event, RunFinished):
                self._recording.complete.wait(RECORDED_WITHIN)
        self.on_event(event.to_dict())
