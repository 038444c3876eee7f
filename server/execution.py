"""One run of a flow for one request, on the worker's own event loop.

The engine records runs through the store's writer thread, so a run never waits
on the database mid-run and can share the server's loop (blocking nodes still go
to the thread pool): no thread hop and no new event loop per request. A run
answers, and forwards run.started / run.finished, only once the writer has
committed them, so any worker can read the run by then. One `CancelWatch` per
app polls the database for the cancel flags of all its live runs at once, so a
cancel sent to any worker reaches the worker that runs it.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from engine.events import Event, Handler
from engine.recording import RunRecording
from engine.runner import Runner
from engine.scheduler import RunResult
from engine.validate import Plan
from server.errors import ApiError
from server.tables import cancels_among

if TYPE_CHECKING:
    from server.state import AppState

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
    on_event: EventSink | None = None
    _loop: asyncio.AbstractEventLoop | None = field(default=None, init=False)
    _task: asyncio.Task[RunResult] | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _cancelled: bool = field(default=False, init=False)
    _recording: RunRecording | None = field(default=None, init=False)

    async def run(self, watch: CancelWatch | None = None) -> RunResult | None:
        """Run to the end on this loop; None if cancelled before the engine started it.

        Returns once the run's outcome is in the database, so any worker can read it."""
        runner, handlers = self._handlers()
        task = asyncio.ensure_future(runner.arun(
            self.plan, self.inputs, handlers=handlers, run_id=self.run_id,
            session_id=self.session_id, timeout=self.timeout, flow_version=self.flow_version))
        with self._lock:
            self._loop, self._task = asyncio.get_running_loop(), task
            cancelled = self._cancelled
        await asyncio.sleep(0)  # let the engine start (and record) the run before any cancel
        if cancelled:
            task.cancel()
        if watch is not None:
            watch.add(self)
        try:
            result = await task
        except asyncio.CancelledError:
            if not task.cancelled():
                task.cancel()  # our caller was cancelled: stop the run too
                raise
            return None
        finally:
            if watch is not None:
                watch.discard(self)
        await self.recorded_end()
        return result

    async def recorded_start(self) -> None:
        """Wait (without blocking the loop) until the run's row is in the database."""
        if self._recording is not None:
            await self._recording.written.until(RECORDED_WITHIN)

    async def recorded_end(self) -> None:
        """Wait until the run's outcome and every event are in the database."""
        if self._recording is not None:
            await self._recording.complete.until(RECORDED_WITHIN)

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
        """A runner without a store, and the store's recorder placed first among the handlers."""
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

    def _forward(self, event: Event) -> None:
        if self.on_event is None:
            return
        self.on_event(event.to_dict())


class CancelWatch:
    """Polls the cancel flags of one app's live runs, all in one query, every `every` seconds."""

    def __init__(self, engine: Engine, every: float) -> None:
        self.engine = engine
        self.every = every
        self._jobs: dict[str, RunJob] = {}
        self._task: asyncio.Task[None] | None = None

    def add(self, job: RunJob) -> None:
        self._jobs[job.run_id] = job
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._task = loop.create_task(self._poll())

    def discard(self, job: RunJob) -> None:
        self._jobs.pop(job.run_id, None)

    async def _poll(self) -> None:
        while self._jobs:
            await asyncio.sleep(self.every)
            ids = list(self._jobs)
            if not ids:
                return
            try:
                flagged = await asyncio.to_thread(cancels_among, self.engine, ids)
            except Exception:
                log.exception("cannot read the cancel flags of %d run(s)", len(ids))
                continue
            for run_id in flagged:
                job = self._jobs.get(run_id)
                if job is not None:
                    job.cancel()


END = object()  # put on a streamed run's queue once the run has ended


async def start_streamed(state: AppState, run: RunJob, queue: asyncio.Queue[Any], code: str,
                         outcome: list[RunResult | None] | None = None) -> Any:
    """Start `run` in the background (within the app's run slots; END goes on `queue` when
    it ends) and return the first item its events put on `queue`. A run that ends before
    putting anything there re-raises what stopped it, or gives a 500 with `code`."""

    async def execute() -> None:
        try:
            async with state.run_slots:
                result = await run.run(state.cancels)
            if outcome is not None:
                outcome.append(result)
        finally:
            queue.put_nowait(END)

    task = asyncio.create_task(execute())
    state.background.add(task)
    task.add_done_callback(state.background.discard)
    first = await queue.get()
    if first is END:
        await task  # re-raises what stopped the run from starting
        raise ApiError(500, code, "the run did not start; details are in the server log")
    return first


async def queued_items(queue: asyncio.Queue[Any], keepalive: float) -> AsyncIterator[Any]:
    """What a streamed run puts on `queue`, until END; None after each `keepalive` seconds
    with nothing new (the caller sends its keep-alive then)."""
    while True:
        try:
            item = await asyncio.wait_for(queue.get(), keepalive)
        except TimeoutError:
            yield None
            continue
        if item is END:
            return
        yield item
