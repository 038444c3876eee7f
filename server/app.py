"""`create_app(settings)`: the FastAPI app that serves saved flows.

Layers, outside in: CORS (only when origins are configured), body limits (413,
400), routing, then the API-key dependency on every API route, then the route.
Each uvicorn worker calls `app_from_env()` and gets its own app over the same
database; no request depends on another worker's memory.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy.exc import OperationalError

from engine import lease
from engine.approvals import StoreApprovals
from engine.errors import StoreUnavailable
from engine.registry import Registry
from engine.runner import Runner
from engine.store import Store
from server import errors, routes_approvals, routes_flows, routes_meta, routes_runs
from server.auth import require_key
from server.execution import CancelWatch
from server.keys import KeyCache
from server.limits import BodyLimits
from server.routes_openai import create_openai_app
from server.settings import Settings
from server.state import AppState, PlanCache
from server.tables import create_tables

DESCRIPTION = """Run saved chainloom flows from your own applications.

Every route except `/health` and these docs needs an API key (`chainloom keys create NAME`),
sent as `Authorization: Bearer <key>` or `X-API-Key: <key>`. Errors always look like
`{"error": {"code", "message", "hint", "issues"}}`; a 422 lists every problem, naming the
node and the field. `POST /flows/{id}/run` answers with JSON, or with Server-Sent Events
when the body says `"stream": true` or the request accepts `text/event-stream`.
Flows with a chat input are also served as OpenAI models: `GET /v1/models` and
`POST /v1/chat/completions` (OpenAI's request, response, streaming and error shapes).
"""


log = logging.getLogger("chainloom.server")


async def sweep_forever(store: Store, interval: float) -> None:
    """At start and every `interval` seconds: end runs whose process is gone as `interrupted`."""
    while True:
        try:
            ended = await anyio.to_thread.run_sync(store.sweep_orphans)
            if ended:
                log.warning("runs whose process stopped, now interrupted: %s", ", ".join(ended))
        except Exception:
            log.exception("cannot sweep for orphaned runs")
        await asyncio.sleep(interval)


def connect_store(url: str, attempts: int = 5) -> Store:
    """The run store at `url`, tolerating another worker creating the tables at the same moment."""
    for attempt in range(attempts):
        try:
            return Store(url)
        except OperationalError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.1 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


def _version() -> str:
    try:
        from importlib.metadata import version  # noqa: PLC0415

        return version("chainloom")
    except Exception:  # noqa: BLE001 - not installed as a distribution
        return "0.0.0"


def create_app(settings: Settings | None = None, *, registry: Registry | None = None,
               store: Store | None = None) -> FastAPI:
    """A ready app. `settings` default to the environment; `registry` to the node catalog."""
    settings = settings or Settings.from_env()
    if registry is None:
        from nodes.registry import default_registry  # noqa: PLC0415 - the whole catalog loads on first use

        registry = default_registry()
    if settings.enable_code:
        from nodes.code import enable_code  # noqa: PLC0415 - only servers that allow code need it

        enable_code()
    own_store = store is None
    store = store or connect_store(settings.url)
    create_tables(store.engine)
    home = settings.home_path
    runner = Runner(registry, store=store, trace_dir=home / "traces" if settings.traces else None,
                    services={"home": home, "store": store,
                              "approvals": StoreApprovals(store.engine, poll=settings.cancel_poll)})
    state = AppState(settings=settings, store=store, registry=registry, runner=runner,
                     plans=PlanCache(registry), run_slots=anyio.CapacityLimiter(settings.max_concurrent_runs),
                     keys=KeyCache(store.engine), cancels=CancelWatch(store.engine, settings.cancel_poll))

    if settings.lease_seconds:
        lease.configure(settings.lease_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sweeper = asyncio.create_task(sweep_forever(store, settings.sweep_interval))
        try:
            yield
        finally:
            sweeper.cancel()
            if own_store:
                store.close()

    public_docs = settings.public_docs
    app = FastAPI(title="chainloom", version=_version(), description=DESCRIPTION, lifespan=lifespan,
                  docs_url="/docs" if public_docs else None, redoc_url="/redoc" if public_docs else None,
                  openapi_url="/openapi.json" if public_docs else None)
    app.state.chainloom = state
    errors.install(app)
    keyed = [Depends(require_key)]
    app.include_router(routes_flows.router, dependencies=keyed)
    app.include_router(routes_runs.router, dependencies=keyed)
    app.include_router(routes_approvals.router, dependencies=keyed)
    app.include_router(routes_meta.router, dependencies=keyed)
    app.include_router(routes_meta.public)
    if not public_docs:
        add_keyed_docs(app)
    app.mount("/v1", create_openai_app(state))  # OpenAI-compatible: flows as models, OpenAI's error shape
    app.add_middleware(BodyLimits, max_bytes=settings.max_body_bytes, max_depth=settings.max_json_depth)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_methods=["GET", "POST", "PUT", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "X-API-Key", "Accept"],
                           expose_headers=["X-Run-Id", "Location"], allow_credentials=False)
    return app


def add_keyed_docs(app: FastAPI) -> None:
    """The schema and docs behind the API key (when the operator turned public docs off)."""
    keyed = [Depends(require_key)]

    async def openapi(request: Request) -> JSONResponse:
        return JSONResponse(app.openapi())

    async def docs(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="chainloom API")

    async def redoc(request: Request) -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title="chainloom API")

    for path, endpoint in (("/openapi.json", openapi), ("/docs", docs), ("/redoc", redoc)):
        app.add_api_route(path, endpoint, methods=["GET"], include_in_schema=False, dependencies=keyed)


def app_from_env() -> FastAPI:
    """The factory each uvicorn worker calls (`uvicorn server.app:app_from_env --factory`).

    A database that cannot be opened ends the worker with the one-line reason, not a traceback.
    """
    try:
        return create_app(Settings.from_env())
    except StoreUnavailable as err:
        print(f"✗ {err.message}", file=sys.stderr)
        raise SystemExit(1) from err
