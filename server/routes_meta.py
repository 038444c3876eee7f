"""The node catalog (behind a key) and the health check (public, for load balancers)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import text

from server import sse
from server.errors import ApiError
from server.schemas import errors
from server.state import app_state

router = APIRouter(tags=["catalog"])
public = APIRouter(tags=["health"])


@router.get("/nodes", summary="Every node type this server can run",
            responses={200: {"description": "Node descriptions: type, config schema, ports.",
                             "content": {"application/json": {}}}, **errors()})
def list_nodes(request: Request) -> Response:
    state = app_state(request)
    described: list[dict[str, Any]] = [spec.describe() for spec in state.registry]
    return Response(sse.dumps(described), media_type="application/json")


@public.get("/health", summary="Liveness and database check (needs no key)",
            responses={503: {"description": "The database cannot be reached."}})
def health(request: Request) -> dict[str, str]:
    try:
        with app_state(request).store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as err:  # any database failure means unhealthy
        raise ApiError(503, "unavailable", "the database cannot be reached") from err
    return {"status": "ok"}
