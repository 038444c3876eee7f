"""The app factory live test servers run: the real app with the test node types added.

`uvicorn tests.server.liveapp:create --factory` (settings from the environment).
"""

from __future__ import annotations

from fastapi import FastAPI

from server.app import create_app
from server.settings import Settings
from tests.server.nodes import registry


def create() -> FastAPI:
    return create_app(Settings.from_env(), registry=registry())
