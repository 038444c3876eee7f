"""Keys on every route, one path for auth and routing, body limits, CORS, error bodies."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from server.app import create_app
from server.keys import create_key, revoke_key
from server.settings import Settings, SettingsError
from tests.server.conftest import chain, save
from tests.server.nodes import registry

UNAUTHORIZED = {"error": {"code": "unauthorized", "message": "an API key is required",
                          "hint": "send `Authorization: Bearer <key>`; an operator creates keys with "
                                  "`chainloom keys create NAME`"}}
PUBLIC = {"/health", "/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"}


def api_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) of the API with its path parameters filled in."""
    out = []
    for path, item in app.openapi()["paths"].items():
        filled = re.sub(r"\{version\}", "1", re.sub(r"\{[a-z_]+\}", "abcdef12", path))
        out.extend((method.upper(), filled) for method in item if path not in PUBLIC)
    return out


def test_every_api_route_needs_a_key(app: FastAPI, anon: TestClient) -> None:
    routes = api_routes(app)
    assert len(routes) == 20
    for method, path in routes:
        r = anon.request(method, path, json={})
        assert (method, path, r.status_code, r.json()) == (method, path, 401, UNAUTHORIZED)
        assert r.headers["www-authenticate"] == "Bearer"


def test_wrong_revoked_and_header_keys(app: FastAPI, anon: TestClient) -> None:
    engine = app.state.chainloom.store.engine
    record, key = create_key(engine, "temp")
    assert anon.get("/flows", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert anon.get("/flows", headers={"X-API-Key": key}).status_code == 200
    for bad in (key + "x", key[:-1], "clk_", "nonsense", key.upper()):
        r = anon.get("/flows", headers={"Authorization": f"Bearer {bad}"})
        assert (r.status_code, r.json()["error"]["message"]) == (401, "the API key is not valid, or it was revoked")
        assert bad not in r.text
    assert anon.get("/flows", headers={"Authorization": f"Basic {key}"}).status_code == 401
    revoke_key(engine, record.id)
    r = anon.get("/flows", headers={"Authorization": f"Bearer {key}"})
    assert (r.status_code, r.json()["error"]["message"]) == (401, "the API key is not valid, or it was revoked")


def test_a_revoked_key_is_refused_at_once_by_every_app_sharing_the_database(settings: Settings) -> None:
    """Each app (a worker) keeps verified keys in memory; a revocation made elsewhere (here
    the CLI's revoke_key on its own engine) must empty those caches on the next request."""
    first, second = create_app(settings, registry=registry()), create_app(settings, registry=registry())
    record, key = create_key(first.state.chainloom.store.engine, "shared")
    _, other = create_key(first.state.chainloom.store.engine, "other")
    auth = {"Authorization": f"Bearer {key}"}
    with TestClient(first) as a, TestClient(second) as b:
        for _ in range(2):  # the second round is served from each app's cache
            assert (a.get("/flows", headers=auth).status_code, b.get("/flows", headers=auth).status_code) == (200, 200)
        assert first.state.chainloom.keys.verify(key) == record
        from engine.store import make_engine

        cli_engine = make_engine(settings.url)
        revoke_key(cli_engine, "shared")
        cli_engine.dispose()
        for client in (a, b):
            r = client.get("/flows", headers=auth)
            assert (r.status_code, r.json()["error"]["message"]) == (401, "the API key is not valid, or it was revoked")
            assert client.get("/flows", headers={"Authorization": f"Bearer {other}"}).status_code == 200


def test_keys_are_stored_only_as_hashes(app: FastAPI) -> None:
    from sqlalchemy import text

    _, key = create_key(app.state.chainloom.store.engine, "hashed")
    with app.state.chainloom.store.engine.connect() as conn:
        rows = [tuple(map(str, r)) for r in conn.execute(text("SELECT * FROM api_keys"))]
    assert rows and all(key not in cell and key.split("_", 2)[2] not in cell for row in rows for cell in row)


@pytest.mark.parametrize("path", ["/FLOWS", "/Flows", "/%66lows", "/flows/", "//flows", "/./flows",
                                  "/health/../flows", "/flows%2F", "/%2Fflows", "/flows;x", "/flows%00"])
def test_no_spelling_of_a_path_reaches_a_route_without_a_key(anon: TestClient, client: TestClient,
                                                             path: str) -> None:
    r = anon.get(path)
    assert r.status_code in (401, 404), (path, r.status_code)
    keyed = client.get(path)
    # Whatever the router makes of the spelling, auth made the same: 401 exactly where a route matched.
    assert (r.status_code == 401) == (keyed.status_code == 200), (path, r.status_code, keyed.status_code)


def test_public_routes(anon: TestClient) -> None:
    assert anon.get("/health").json() == {"status": "ok"}
    assert anon.get("/openapi.json").status_code == 200
    assert "swagger" in anon.get("/docs").text.lower()


def test_private_docs_need_a_key(tmp_path: Path) -> None:
    app = create_app(Settings(home=str(tmp_path), public_docs=False), registry=registry())
    _, key = create_key(app.state.chainloom.store.engine, "docs")
    with TestClient(app) as c:
        assert c.get("/openapi.json").status_code == 401
        assert c.get("/docs").status_code == 401
        assert c.get("/openapi.json", headers={"X-API-Key": key}).json()["info"]["title"] == "chainloom"
        assert c.get("/health").status_code == 200


def test_unknown_route_and_method(client: TestClient) -> None:
    r = client.get("/nope/secret-token-in-path")
    assert r.status_code == 404
    assert r.json() == {"error": {"code": "not_found", "message": "no route matches this path",
                                  "hint": "the routes are listed at /docs"}}
    r = client.patch("/flows")
    assert r.status_code == 405
    assert r.json()["error"]["code"] == "method_not_allowed"


# ------------------------------------------------------------ auth off
def _open_app(tmp_path: Path, host: str = "127.0.0.1") -> FastAPI:
    return create_app(Settings(home=str(tmp_path), auth=False, host=host), registry=registry())


@pytest.mark.parametrize("peer", ["127.0.0.1", "127.8.9.10", "::1"])
def test_auth_off_serves_loopback_clients(tmp_path: Path, peer: str) -> None:
    with TestClient(_open_app(tmp_path), client=(peer, 40000)) as c:
        assert c.get("/flows").status_code == 200


@pytest.mark.parametrize("peer", ["10.0.0.5", "192.168.1.2", "testclient", "8.8.8.8"])
def test_auth_off_refuses_other_clients(tmp_path: Path, peer: str) -> None:
    with TestClient(_open_app(tmp_path), client=(peer, 40000)) as c:
        r = c.get("/flows")
    assert r.status_code == 403
    assert r.json() == {"error": {"code": "forbidden", "message": "this server runs without API keys, so it "
                                  "serves only clients on this machine", "hint": "ask the operator for a key"}}


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.2", "example.com", "::"])
def test_auth_off_refused_on_non_loopback_hosts(tmp_path: Path, host: str) -> None:
    with pytest.raises(SettingsError, match="auth can be turned off only on a loopback address"):
        _open_app(tmp_path, host)


# ------------------------------------------------------------ limits
@pytest.fixture
def small(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(Settings(home=str(tmp_path), max_body_bytes=2000, max_json_depth=10), registry=registry())
    _, key = create_key(app.state.chainloom.store.engine, "small")
    with TestClient(app, headers={"X-API-Key": key}) as c:
        yield c


TOO_LARGE = {"error": {"code": "too_large", "message": "the request body is over the 2000-byte limit",
                       "hint": "send a smaller body; the operator sets the limit with --max-body-bytes"}}


def test_body_over_the_limit_is_413(small: TestClient) -> None:
    r = small.post("/validate", content=b"{" + b" " * 3000 + b"}", headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()) == (413, TOO_LARGE)


def test_chunked_body_over_the_limit_is_413(small: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b" " * 500

    r = small.post("/validate", content=chunks(), headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()) == (413, TOO_LARGE)


def test_unauthenticated_large_body_is_413_before_anything_else(anon: TestClient) -> None:
    r = anon.post("/flows", content=b"x", headers={"Content-Length": str(10**9)})
    assert r.status_code == 413


def test_deep_json_is_400(small: TestClient) -> None:
    body = "[" * 11 + "]" * 11
    r = small.post("/validate", content=body, headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()) == (400, {"error": {
        "code": "too_deep", "message": "the JSON body is nested more than 10 levels deep",
        "hint": "flatten the document"}})
    r = small.post("/validate", content="[" * 990 + "]" * 990, headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()["error"]["code"]) == (400, "too_deep")
    ok = "[" * 10 + "]" * 10
    assert small.post("/validate", content=ok, headers={"Content-Type": "application/json"}).status_code == 422


@pytest.mark.parametrize("body", ['{"a": NaN}', '{"a": Infinity}', '{"a": 1', "\xff"])
def test_not_json_is_400(small: TestClient, body: str) -> None:
    r = small.post("/validate", content=body.encode("latin-1"), headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()["error"]["code"]) == (400, "bad_json")
    assert r.json()["error"]["message"] == "the request body is not valid JSON (NaN and Infinity are not JSON either)"


def test_nan_in_a_flow_config_never_reaches_the_store(client: TestClient) -> None:
    body = '{"flow": {"schema_version": 1, "id": "n", "nodes": [{"id": "a", "type": "input.text", ' \
           '"config": {"name": "q", "x": NaN}}]}}'
    r = client.post("/flows", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert client.get("/flows").json() == []


def test_bad_content_length_is_400(anon: TestClient) -> None:
    r = anon.post("/validate", content=b"{}", headers={"Content-Length": "abc"})
    assert r.status_code == 400


# ------------------------------------------------------------ CORS
def test_cors_closed_by_default(client: TestClient) -> None:
    r = client.options("/flows", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in r.headers
    r = client.get("/flows", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers


def test_cors_allows_only_configured_origins(tmp_path: Path) -> None:
    app = create_app(Settings(home=str(tmp_path), cors_origins=("https://app.example",)), registry=registry())
    with TestClient(app) as c:
        ok = c.options("/flows", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET",
                                          "Access-Control-Request-Headers": "authorization"})
        assert (ok.status_code, ok.headers["access-control-allow-origin"]) == (200, "https://app.example")
        bad = c.options("/flows", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
        assert "access-control-allow-origin" not in bad.headers
        assert c.get("/flows", headers={"Origin": "https://app.example"}).headers["access-control-allow-origin"] \
            == "https://app.example"


# ------------------------------------------------------------ 500s
def test_unexpected_errors_are_a_bare_500(app: FastAPI, key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise RuntimeError("database password is hunter2-PLANTED")

    monkeypatch.setattr(app.state.chainloom.store, "list_flows", broken)
    with TestClient(app, raise_server_exceptions=False, headers={"X-API-Key": key}) as c:
        r = c.get("/flows")
    assert r.status_code == 500
    assert "PLANTED" not in r.text
    message = r.json()["error"]["message"]
    assert re.fullmatch(r"internal error \(reference [0-9a-f]{12}\); details are in the server log", message)


def test_settings_round_trip_through_the_environment() -> None:
    s = Settings(home="/x", database_url="sqlite:///y.db", cors_origins=("https://a", "https://b"),
                 max_body_bytes=10, run_timeout=5, traces=True)
    assert Settings.from_env(s.to_env()) == s
    with pytest.raises(SettingsError, match="is not a valid int"):
        Settings.from_env({"CHAINLOOM_SERVER_MAX_BODY_BYTES": "lots"})


def test_saved_flows_survive_a_second_app_on_the_same_database(client: TestClient, settings: Settings) -> None:
    save(client, chain())
    other = create_app(settings, registry=registry())
    _, key = create_key(other.state.chainloom.store.engine, "second")
    with TestClient(other, headers={"X-API-Key": key}) as c:
        assert [f["id"] for f in c.get("/flows").json()] == ["chain"]
