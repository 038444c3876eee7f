"""Runs: start one (blocking JSON or Server-Sent Events), read it, read its events, cancel it.

A run executes in the worker that received the request; everything about it is
in the database as it happens (the engine's run store), so GET and cancel work
from any worker. A streaming client that goes away cancels its run.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from engine.lease import OWNED_STATUSES, interrupt
from engine.scheduler import RunResult
from engine.store import RunRecord
from server import sse
from server.errors import ApiError
from server.execution import RunJob, queued_items, start_streamed
from server.running import job, prepare
from server.schemas import RUN_ID_PATTERN, SESSION_PATTERN, CancelOut, RunEvents, RunOut, RunRequest, errors
from server.state import AppState, app_state
from server.tables import events_after, request_cancel, run_orphaned, runs_of

router = APIRouter(tags=["runs"])

RunId = Annotated[str, Path(pattern=RUN_ID_PATTERN, description="The run's id (or a unique prefix "
                                                               "of at least 6 characters).")]
FlowRef = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$",
                              description="The saved flow's id or unique name.")]
RUN_STATUS = r"^(running|waiting_approval|succeeded|failed|timeout|cancelled|interrupted)$"
KEEPALIVE_SECONDS = 15.0
TAIL_POLL = 0.25


def run_body(result: RunResult, flow_version: int | None, session_id: str | None) -> dict[str, Any]:
    return {**result.to_dict(), "flow_version": flow_version, "session_id": session_id}


def record_body(record: RunRecord) -> dict[str, Any]:
    out = record.to_dict()
    out["run_id"] = out.pop("id")
    return out


def wants_stream(request: Request, body: RunRequest) -> bool:
    return body.stream or "text/event-stream" in request.headers.get("accept", "").lower()


@router.post("/flows/{flow_id}/run", summary="Run a saved flow",
             responses={200: {"model": RunOut, "description": "The finished run (blocking), or "
                              "`text/event-stream` frames, one per engine event (streaming).",
                              "content": {"text/event-stream": {}}}, **errors(404)})
async def run_flow(request: Request, flow_id: FlowRef, body: RunRequest) -> Response:
    state = app_state(request)
    prepared = prepare(state, flow_id, body)  # a read or two; cheaper here than a hop to a thread
    if wants_stream(request, body):
        return await stream_run(state, job(state, prepared, body))
    run = job(state, prepared, body)
    async with state.run_slots:
        result = await run.run(state.cancels)
    if result is None:
        raise ApiError(409, "cancelled", "the run was cancelled before it started")
    return Response(sse.dumps(run_body(result, prepared.version, body.session_id)),
                    media_type="application/json")


async def stream_run(state: AppState, run: RunJob) -> StreamingResponse:
    """Start the run; answer once it is recorded (so its id can be read anywhere), then stream."""
    queue: asyncio.Queue[Any] = asyncio.Queue()
    run.on_event = queue.put_nowait  # events are recorded on this loop (the engine hops them here)

    first = await start_streamed(state, run, queue, "internal")
    await run.recorded_start()
    return StreamingResponse(frames(first, queue, run), media_type=sse.MEDIA_TYPE,
                             headers={**sse.HEADERS, "X-Run-Id": run.run_id})


async def frames(first: dict[str, Any], queue: asyncio.Queue[Any], run: RunJob) -> AsyncIterator[bytes]:
    finished = False
    try:
        yield sse.frame(first)
        async for item in queued_items(queue, KEEPALIVE_SECONDS):
            if item is None:
                yield sse.KEEPALIVE
                continue
            finished = item.get("kind") == "run.finished"
            if finished:
                await run.recorded_end()  # a client that sees the end can read the whole run anywhere
            yield sse.frame(item)
            if finished:
                break
        if not finished:
            yield sse.error_frame(f"run {run.run_id} ended without a result; see GET /runs/{run.run_id}")
    finally:
        if not finished:
            run.cancel()  # the client went away (or the run broke): stop it


@router.get("/runs", response_model=list[RunOut], summary="Recent runs, newest first",
            responses=errors())
def list_runs(request: Request,
              flow_id: Annotated[str | None, Query(max_length=200)] = None,
              session_id: Annotated[str | None, Query(pattern=SESSION_PATTERN)] = None,
              status: Annotated[str | None, Query(pattern=RUN_STATUS)] = None,
              limit: Annotated[int, Query(ge=1, le=500)] = 50) -> Response:
    records = runs_of(app_state(request).store.engine, flow_id=flow_id, session_id=session_id,
                      status=status, limit=limit)
    return Response(sse.dumps([record_body(r) for r in records]), media_type="application/json")


@router.get("/runs/{run_id}", response_model=RunOut, summary="A run, as recorded so far",
            responses=errors(404))
def get_run(request: Request, run_id: RunId) -> Response:
    record = app_state(request).store.get_run(run_id)
    return Response(sse.dumps(record_body(record)), media_type="application/json")


@router.get("/runs/{run_id}/events", response_model=RunEvents,
            summary="A run's events after a sequence number (JSON), or followed live (SSE)",
            responses={200: {"content": {"text/event-stream": {}}}, **errors(404)})
async def run_events(request: Request, run_id: RunId,
                     after: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
                     limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
                     follow: Annotated[bool, Query(description="Stream as SSE until the run ends "
                                                   "(also chosen by Accept: text/event-stream).")] = False
                     ) -> Response:
    state = app_state(request)
    record = await anyio.to_thread.run_sync(state.store.get_run, run_id)
    if follow or "text/event-stream" in request.headers.get("accept", "").lower():
        return StreamingResponse(tail(state, record, after), media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)
    events = await anyio.to_thread.run_sync(events_after, state.store.engine, record.id, after, limit)
    body = {"run_id": record.id, "status": record.status, "events": events,
            "next_after": events[-1]["seq"] if events else after}
    return Response(sse.dumps(body), media_type="application/json")


async def tail(state: AppState, record: RunRecord, after: int) -> AsyncIterator[bytes]:
    """Recorded events of a run as SSE, polling the database until its run.finished."""
    engine = state.store.engine
    give_up = record.started_at + timedelta(seconds=state.settings.max_run_timeout + 60)
    idle = 0.0
    while True:
        events = await anyio.to_thread.run_sync(events_after, engine, record.id, after, 500)
        for event in events:
            after = event["seq"]
            yield sse.frame(event)
            if event.get("kind") == "run.finished":
                return
        if events:
            idle = 0.0
            continue
        status = (await anyio.to_thread.run_sync(state.store.get_run, record.id)).status
        if status not in OWNED_STATUSES and not await anyio.to_thread.run_sync(
                events_after, engine, record.id, after, 1):
            return
        if datetime.now(UTC) > give_up:
            yield sse.error_frame("the run is still marked running long after its time limit; "
                                  "its worker may have stopped", code="stalled")
            return
        await asyncio.sleep(TAIL_POLL)
        idle += TAIL_POLL
        if idle >= KEEPALIVE_SECONDS:
            idle = 0.0
            yield sse.KEEPALIVE


@router.post("/runs/{run_id}/cancel", status_code=202, response_model=CancelOut,
             summary="Ask a running run to stop (from any worker)",
             responses={200: {"model": CancelOut, "description": "The run's process was gone: the "
                              "run is now settled as `interrupted`."}, **errors(404, 409)})
def cancel_run(request: Request, run_id: RunId) -> Response:
    state = app_state(request)
    record = state.store.get_run(run_id)
    if record.status not in OWNED_STATUSES:
        raise ApiError(409, "run_finished", f"run '{record.id}' already ended ({record.status})",
                       hint="only a running run can be cancelled")
    if run_orphaned(state.store.engine, record.id):
        # Nobody would ever see the flag: settle the run here, so followers end now.
        interrupt(state.store.engine, record.id, reason="its process stopped (settled by a cancel request)")
        body = CancelOut(run_id=record.id, status="interrupted")
        return Response(sse.dumps(body.model_dump()), status_code=200, media_type="application/json")
    request_cancel(state.store.engine, record.id, datetime.now(UTC))
    body = CancelOut(run_id=record.id, status="cancelling")
    return Response(sse.dumps(body.model_dump()), status_code=202, media_type="application/json")
