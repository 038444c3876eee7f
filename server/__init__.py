"""chainloom's REST API: saved flows served over FastAPI, thin over the engine.

    from server import create_app
    app = create_app()            # settings from the environment, keys required

`chainloom serve` runs it under uvicorn (`server.cli`); `chainloom keys create NAME`
makes the API keys it asks for. Routes: flows (CRUD with versions, import/export,
validate), runs (blocking or Server-Sent Events, read, events, cancel), nodes, health.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from server.app import create_app
    from server.settings import Settings

__all__ = ["Settings", "create_app"]


def __getattr__(name: str) -> Any:
    # Lazy, so that `chainloom keys ...` does not import FastAPI.
    if name == "create_app":
        from server.app import create_app  # noqa: PLC0415

        return create_app
    if name == "Settings":
        from server.settings import Settings  # noqa: PLC0415

        return Settings
    raise AttributeError(f"module 'server' has no attribute '{name}'")
