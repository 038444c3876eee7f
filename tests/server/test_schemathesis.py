"""Property-based requests generated from the app's own OpenAPI schema: none may cause a 500.

Bounded (a few examples per operation) so the whole run stays well under a minute.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from server.app import create_app
from server.keys import create_key
from server.settings import Settings
from tests.server.conftest import chain, save

KEY: dict[str, str] = {}


@pytest.fixture
def api_schema(tmp_path: Path) -> schemathesis.BaseSchema:
    app: FastAPI = create_app(Settings(home=str(tmp_path), run_timeout=10))
    KEY["value"] = create_key(app.state.chainloom.store.engine, "schemathesis")[1]
    with TestClient(app, headers={"X-API-Key": KEY["value"]}) as client:
        save(client, chain())  # so some generated requests find a flow (ids are often 'chain'-free)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_request_causes_a_server_error(case: schemathesis.Case) -> None:
    response = case.call(headers={"X-API-Key": KEY["value"]})
    assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:500])
