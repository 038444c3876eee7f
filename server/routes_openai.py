"""Saved flows as OpenAI models: `GET /v1/models` and `POST /v1/chat/completions`.

A flow is served when it has an `input.chat` node (or an `input.messages` node); its id
is the model name. Each request is a normal recorded run under the same API keys. The
routes live in a sub-app mounted at /v1 so that every error there, auth included, has
OpenAI's shape `{"error": {"message", "type", "param", "code"}}`, which OpenAI clients read.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import Depends, FastAPI, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.errors import ChainloomError, NotFound
from engine.flow import Flow
from engine.scheduler import RunResult
from engine.validate import Plan
from server import errors, sse
from server.auth import require_key
from server.execution import RunJob, queued_items, start_streamed
from server.openai_shapes import (
    ChatRequest,
    ChunkMaker,
    ServedFlow,
    answer_text,
    bad_request,
    completion,
    flow_inputs,
    openai_error,
    served,
)
from server.running import Prepared, job, prepare
from server.schemas import SESSION_PATTERN, RunRequest
from server.state import AppState, app_state
from server.tables import version_text

SESSION_HEADER = "X-Chainloom-Session"
KEEPALIVE_SECONDS = 15.0
_SESSION = re.compile(SESSION_PATTERN)


def unknown_model(model: str) -> errors.ApiError:
    return errors.ApiError(404, "model_not_found", f"the model '{model[:200]}' does not exist",
                           hint="a model is a saved flow's id with an input.chat node; GET /v1/models lists them",
                           param="model")


def servable_flow(state: AppState, model: str) -> tuple[Flow, ServedFlow]:
    """The saved flow named by `model` and how it takes a chat, or a 404 naming the fix."""
    try:
        flow_id = state.store.resolve_flow_id(model)
        version, text = version_text(state.store.engine, flow_id, None)
        flow, _ = state.plans.get(text, f"saved flow '{flow_id}' v{version}")
    except NotFound as err:
        raise unknown_model(model) from err
    shape = served(flow)
    if not shape.servable:
        raise errors.ApiError(404, "model_not_found", f"the flow '{flow.id}' has no chat input, so it "
                              "is not served as a model", hint="add an input.chat node to the flow "
                              "(or an input.messages node) and save it", param="model")
    return flow, shape


def session_of(body: ChatRequest, header: str | None) -> str:
    """The header's session, else `user`, else a new one (stateless, like OpenAI)."""
    given, param = (header, SESSION_HEADER) if header else (body.user, "user")
    if not given:
        return f"openai-{uuid.uuid4().hex}"
    if not _SESSION.match(given):
        raise bad_request("the session id has characters a session cannot hold", param,
                          hint="use letters, digits and _ . : @ - (at most 200)")
    return given


def start(state: AppState, body: ChatRequest, header: str | None) -> tuple[Prepared, RunRequest, ServedFlow]:
    if body.n not in (None, 1):
        raise bad_request("a flow gives one answer per request", "n", hint="leave out `n` or send 1")
    flow, shape = servable_flow(state, body.model)
    run = RunRequest(inputs=flow_inputs(shape, body.messages), session_id=session_of(body, header))
    return prepare(state, flow.id, run), run, shape


def run_failure(result: RunResult) -> errors.ApiError:
    out = result.to_dict()
    node = out["failed_node"]
    where = f" at node '{node}'" if node else ""
    return errors.ApiError(500, f"run_{result.status}", f"the flow's run {result.run_id} {result.status}{where}: "
                           f"{out['error'] or 'no error recorded'}", hint=out["hint"] or
                           f"see GET /runs/{result.run_id}/events for its trace", param=None)


async def chat_completions(request: Request, body: ChatRequest,
                           session: Annotated[str | None, Header(alias=SESSION_HEADER, max_length=300)] = None
                           ) -> Response:
    state = app_state(request)
    prepared, run_request, shape = await anyio.to_thread.run_sync(start, state, body, session)
    run = job(state, prepared, run_request)
    model = prepared.plan.flow.id
    if body.stream:
        include = bool(body.stream_options and body.stream_options.include_usage)
        chunks = ChunkMaker(run.run_id, model, prepared.version, include)
        return await stream_chat(state, run, chunks, shape, answer_nodes(prepared.plan, shape))
    async with state.run_slots:
        result = await run.run(state.cancels)
    if result is None:
        raise errors.ApiError(500, "run_cancelled", f"the run {run.run_id} was cancelled before it started")
    if not result.ok:
        raise run_failure(result)
    content = answer_text(result.to_dict()["outputs"], shape.answer)
    out = completion(run.run_id, model, content, result.usage, prepared.version)
    return Response(sse.dumps(out), media_type="application/json", headers={"X-Run-Id": run.run_id})


def answer_nodes(plan: Plan, shape: ServedFlow) -> set[str]:
    """The nodes upstream of the answer output: only their tokens are streamed as the answer."""
    flow = plan.flow
    target = next((n.id for n in flow.nodes if n.type.startswith("output.")
                   and str(n.config.get("name") or n.id) == shape.answer), None)
    found: set[str] = set()
    todo = [target] if target else [n.id for n in flow.nodes]
    while todo:
        node = todo.pop()
        if node in found:
            continue
        found.add(node)
        todo.extend(e.source_node for e in flow.edges if e.target_node == node)
    return found


async def stream_chat(state: AppState, run: RunJob, chunks: ChunkMaker, shape: ServedFlow,
                      upstream: set[str]) -> StreamingResponse:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    outcome: list[RunResult | None] = []

    def deliver(event: dict[str, Any]) -> None:  # on the run's thread
        if event.get("kind") in ("node.token", "run.started"):
            loop.call_soon_threadsafe(queue.put_nowait, event)

    run.on_event = deliver

    await start_streamed(state, run, queue, "run_not_started", outcome)
    body = chunk_frames(queue, run, chunks, shape, upstream, outcome)
    return StreamingResponse(body, media_type=sse.MEDIA_TYPE, headers={**sse.HEADERS, "X-Run-Id": run.run_id})


def data(value: Any) -> bytes:
    return b"data: " + sse.dumps(value) + b"\n\n"


async def chunk_frames(queue: asyncio.Queue[Any], run: RunJob, chunks: ChunkMaker, shape: ServedFlow,
                       upstream: set[str], outcome: list[RunResult | None]) -> AsyncIterator[bytes]:
    """The role chunk, a content chunk per token of the answer's model, the rest, the finish, usage."""
    ended = False
    streamed: list[str] = []
    speaker: str | None = None  # the first upstream node that streams tokens is the answer's model
    try:
        yield data(chunks.chunk({"role": "assistant", "content": ""}))
        async for item in queued_items(queue, KEEPALIVE_SECONDS):
            if item is None:
                yield sse.KEEPALIVE
                continue
            node = item.get("node")
            if item.get("kind") == "node.token" and node in upstream and speaker in (None, node):
                speaker = node
                streamed.append(str(item.get("text", "")))
                yield data(chunks.chunk({"content": streamed[-1]}))
        ended = True
        for frame in finish_frames(chunks, shape, "".join(streamed), outcome[0] if outcome else None, run):
            yield frame
    finally:
        if not ended:
            run.cancel()  # the client went away: stop the run


def finish_frames(chunks: ChunkMaker, shape: ServedFlow, streamed: str, result: RunResult | None,
                  run: RunJob) -> list[bytes]:
    if result is None:
        err = errors.ApiError(500, "run_cancelled", f"the run {run.run_id} was cancelled")
        return [data(openai_error(err)), b"data: [DONE]\n\n"]
    if not result.ok:
        return [data(openai_error(run_failure(result))), b"data: [DONE]\n\n"]
    content = answer_text(result.to_dict()["outputs"], shape.answer)
    # A node after the model (a cleanup, a memory save) may change the text; send what the
    # tokens did not say yet, so the joined deltas are the answer whenever they can be.
    rest = content[len(streamed):] if content.startswith(streamed) else ""
    frames = [data(chunks.chunk({"content": rest}))] if rest else []
    frames.append(data(chunks.chunk({}, finish="stop")))
    if chunks.include_usage:
        frames.append(data(chunks.usage_chunk(result.usage)))
    frames.append(b"data: [DONE]\n\n")
    return frames


def model_object(flow_id: str, created: int) -> dict[str, Any]:
    return {"id": flow_id, "object": "model", "created": created, "owned_by": "chainloom"}


def servable_models(state: AppState) -> list[dict[str, Any]]:
    models = []
    for record in state.store.list_flows():
        try:
            version, text = version_text(state.store.engine, record.id, None)
            flow, _ = state.plans.get(text, f"saved flow '{record.id}' v{version}")
        except ChainloomError:
            continue  # a flow that no longer loads is not served
        if served(flow).servable:
            models.append(model_object(record.id, int(record.created_at.timestamp())))
    return models


async def list_models(request: Request) -> JSONResponse:
    models = await anyio.to_thread.run_sync(servable_models, app_state(request))
    return JSONResponse({"object": "list", "data": models})


async def get_model(request: Request, model: str) -> JSONResponse:
    state = app_state(request)
    models = await anyio.to_thread.run_sync(servable_models, state)
    found = next((m for m in models if m["id"] == model), None)
    if found is None:
        raise unknown_model(model)
    return JSONResponse(found)


# ------------------------------------------------------------ errors in OpenAI's shape
def as_openai(err: errors.ApiError) -> JSONResponse:
    if err.status == 422:
        err = errors.ApiError(400, "invalid_request", err.message, hint=err.hint, issues=err.issues,
                              param=(err.issues[0].get("field") if err.issues else None))
    if err.status == 401:
        err.code = "invalid_api_key"
    return JSONResponse(openai_error(err), status_code=err.status, headers=err.headers)


async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
    return as_openai(errors._handled(exc, errors.ApiError))


async def on_chainloom_error(request: Request, exc: Exception) -> JSONResponse:
    return as_openai(errors.from_chainloom(errors._handled(exc, ChainloomError)))


async def on_request_validation(request: Request, exc: Exception) -> JSONResponse:
    exc = errors._handled(exc, RequestValidationError)
    issues = [errors.request_issue(e, exc.body) for e in exc.errors()]
    return as_openai(errors.invalid("the request is not a valid chat completion request", issues))


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    http = errors._handled(exc, StarletteHTTPException)
    message = "no route matches this path" if http.status_code == 404 else "this method is not allowed here"
    return as_openai(errors.ApiError(http.status_code, "not_found" if http.status_code == 404 else "bad_method",
                                     message, hint="the routes are /v1/models and /v1/chat/completions",
                                     headers=http.headers))


async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    ref = uuid.uuid4().hex[:12]
    errors.log.error("internal error ref=%s on %s %s", ref, request.method, request.url.path, exc_info=exc)
    return as_openai(errors.ApiError(500, "internal", f"internal error (reference {ref}); details are in "
                                     "the server log"))


def create_openai_app(state: AppState) -> FastAPI:
    """The /v1 sub-app over the same state, keys and run store as the main app."""
    sub = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    sub.state.chainloom = state
    keyed = [Depends(require_key)]
    sub.add_api_route("/models", list_models, methods=["GET"], dependencies=keyed)
    sub.add_api_route("/models/{model}", get_model, methods=["GET"], dependencies=keyed)
    sub.add_api_route("/chat/completions", chat_completions, methods=["POST"], dependencies=keyed)
    sub.add_exception_handler(RequestValidationError, on_request_validation)
    sub.add_exception_handler(errors.ApiError, on_api_error)
    sub.add_exception_handler(ChainloomError, on_chainloom_error)
    sub.add_exception_handler(StarletteHTTPException, on_http_error)
    sub.add_exception_handler(Exception, on_unexpected)
    return sub
