"""No credentials inside URL fields, and no URL's user name or password in any message.

Every URL field of the catalog refuses `user:password@` in its spellings (validation
via the CLI, the Python API and the API), saying to use a secret reference; a flow
stored before the rule is shown and exported masked; errors that quote a URL (run
errors, trace files, CLI output, API bodies, validation issues) mask its user-info.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import chainloom
from engine.errors import ValidationFailed
from engine.flow import parse_flow
from engine.redact import redact_urls, url_credentials
from engine.runner import read_trace
from engine.store import open_store
from engine.validate import validate
from nodes.registry import default_registry
from nodes.support.sql_readonly import with_password
from server.app import create_app
from server.keys import create_key
from server.settings import Settings
from tests.server.conftest import save
from tests.test_cli import cli, write

PASSWORD = "hunter2pw"
SPELLINGS = [f"http://bob:{PASSWORD}@db.example/v1", f"HTTPS://bob:{PASSWORD}@db.example",
             f"http://:{PASSWORD}@db.example", f"http://bob:{PASSWORD}%40x@db.example",
             f"http://bob%3A{PASSWORD}%40db.example/", f"http://bob:{PASSWORD}@evil@db.example"]
URL_FIELDS: list[tuple[str, dict[str, Any], str]] = [
    ("llm.chat", {"provider": "openai"}, "base_url"),
    ("embeddings.openai", {}, "base_url"),
    ("embeddings.cohere", {}, "base_url"),
    ("vectorstore.chroma", {}, "url"),
    ("tool.http", {"allowed_hosts": ["db.example"]}, "base_url"),
    ("chain.api", {"allowed_hosts": ["db.example"], "api_docs": "GET /"}, "base_url"),
    ("loader.url", {}, "url"),
    ("loader.sql", {}, "url"),
    ("tool.sql_database", {}, "url"),
]
REGISTRY = default_registry()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CHAINLOOM_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CHAINLOOM_DATABASE_URL", raising=False)
    return tmp_path / "home"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(Settings(home=str(tmp_path / "server-home"), cancel_poll=0.05), registry=REGISTRY)
    key = create_key(app.state.chainloom.store.engine, "tests")[1]
    with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as c:
        yield c


def one_node(node_type: str, config: dict[str, Any], flow_id: str = "creds") -> dict[str, Any]:
    return {"schema_version": 1, "id": flow_id, "nodes": [
        {"id": "n", "type": node_type, "config": config},
        {"id": "answer", "type": "output.text", "config": {"name": "answer"}}]}


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize(("node_type", "config", "field"), URL_FIELDS)
def test_every_url_field_refuses_credentials_in_every_spelling(node_type: str, config: dict[str, Any],
                                                               field: str, spelling: str) -> None:
    if node_type in ("loader.sql", "tool.sql_database"):
        spelling = spelling.replace("http", "postgresql", 1).replace("HTTPS", "postgresql", 1)
    issues = [i for i in validate(parse_flow(one_node(node_type, {**config, field: spelling})), REGISTRY)
              if i.node == "n" and i.severity == "error"]
    assert issues, f"{node_type}.{field} accepted {spelling}"
    assert all(PASSWORD not in str(i) for i in issues)
    assert any(i.field == f"config.{field}" for i in issues)
    mine = [i for i in issues if "credentials never go inside a URL" in i.message]
    if mine:  # fields whose own check did not refuse the value first
        hint = mine[0].hint
        assert ("password_env" in hint) if node_type in ("loader.sql", "tool.sql_database") else \
            ("secret reference" in hint)


def test_a_database_url_may_name_the_user_and_take_the_password_from_a_variable() -> None:
    good = {"url": "postgresql://app@db.example/shop", "password_env": "SHOP_DB_PASSWORD"}
    for node_type in ("loader.sql", "tool.sql_database"):
        found = validate(parse_flow(one_node(node_type, good)), REGISTRY)
        assert [i for i in found if i.node == "n" and i.severity == "error"] == []
    assert with_password("postgresql://app@db.example/shop", "p@ss:w/rd") == \
        "postgresql://app:p%40ss%3Aw%2Frd@db.example/shop"


@pytest.mark.parametrize("key", ["sk_test_FAKE", "AIzaFAKE",
                                 "ghp_FAKE", "hf_FAKE",
                                 "fakekeyfakekeyfakekeyfakekeyfakekey"])
def test_a_key_pasted_into_a_secret_name_field_is_refused_without_echoing_it(key: str) -> None:
    issues = validate(parse_flow(one_node("llm.chat", {"provider": "openai", "api_key_env": key})), REGISTRY)
    assert [(i.code, i.field) for i in issues if i.node == "n" and i.severity == "error"] == [
        ("bad_config", "config.api_key_env")]
    assert all(key not in str(i) for i in issues)


def test_redaction_masks_user_info_of_every_url_in_a_text() -> None:
    text = f"cannot reach http://bob:{PASSWORD}@h/x nor //a:{PASSWORD}@b nor postgresql+psycopg://u:{PASSWORD}@db/x"
    assert redact_urls(text) == "cannot reach http://bob:***@h/x nor //a:***@b nor postgresql+psycopg://u:***@db/x"
    assert redact_urls("clone https://ghp_token123@github.com/x") == "clone https://***@github.com/x"
    assert redact_urls("mail bob@example.com at http://h/a@b") == "mail bob@example.com at http://h/a@b"
    assert url_credentials("sqlite:///data.db") is None and url_credentials("http://u@h") == "user name"


def url_flow() -> dict[str, Any]:
    return {"schema_version": 1, "id": "fetch", "nodes": [
        {"id": "where", "type": "input.text", "config": {"name": "where"}},
        {"id": "page", "type": "loader.url", "config": {}},
        {"id": "answer", "type": "output.json", "config": {"name": "answer"}}],
        "edges": [{"from": "where.text", "to": "page.url"}, {"from": "page.documents", "to": "answer.value"}]}


BAD_URL = f"http://bob:{PASSWORD}@[::1"  # not a valid URL: the fetch error quotes it


def test_run_errors_traces_and_cli_output_mask_urls(home: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, url_flow())
    result = chainloom.run(path, where=BAD_URL)
    assert result.status == "failed" and result.error is not None
    assert "http://bob:***@[::1" in result.error.message
    events = read_trace(home / "traces" / f"{result.run_id}.jsonl")
    errors = [(e["kind"], e.get("error")) for e in events if e.get("error")]
    assert [kind for kind, _ in errors] == ["node.failed", "run.finished"]
    assert all(PASSWORD not in text and "***@" in text for _, text in errors)
    record = open_store().get_run(result.run_id)
    assert PASSWORD not in (record.error or "")
    for argv in (["run", path, "-i", f"where={BAD_URL}"], ["run", path, "-i", f"where={BAD_URL}", "--json"]):
        code, out, err = cli(capsys, *argv)
        assert code == 1 and PASSWORD not in out + err and "***@" in out + err


def test_api_never_shows_credentials(client: TestClient) -> None:
    save(client, url_flow())
    r = client.post("/flows/fetch/run", json={"inputs": {"where": BAD_URL}})
    assert r.status_code == 200 and PASSWORD not in r.text and "***@" in r.text
    body = one_node("llm.chat", {"provider": "openai", "base_url": f"http://bob:{PASSWORD}@h/v1"}, "bad")
    for method, route, payload in (("post", "/flows", {"flow": body}), ("post", "/validate", body),
                                   ("post", "/flows/import", body)):
        r = getattr(client, method)(route, json=payload)
        assert r.status_code in (200, 422) and PASSWORD not in r.text, (route, r.text)
    assert client.post("/validate", json=body).json()["valid"] is False


def test_a_flow_stored_before_the_rule_is_shown_and_exported_masked(client: TestClient, home: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    legacy = parse_flow(one_node("llm.chat", {"provider": "openai", "base_url": f"http://bob:{PASSWORD}@h/v1"},
                                 "legacy"))
    client.app.state.chainloom.store.save_flow(legacy, None)  # type: ignore[attr-defined]
    open_store().save_flow(legacy, None)  # the CLI's store (CHAINLOOM_HOME)
    for route in ("/flows/legacy", "/flows/legacy/versions/1", "/flows/legacy/export"):
        r = client.get(route)
        assert r.status_code == 200 and PASSWORD not in r.text and "http://bob:***@h/v1" in r.text, route
    code, out, _ = cli(capsys, "flows", "export", "legacy")
    assert code == 0 and PASSWORD not in out and "http://bob:***@h/v1" in out
    code, out, err = cli(capsys, "validate", "legacy")
    assert code == 2 and PASSWORD not in out + err  # the flow cannot run: exit 2


def test_python_api_refuses_a_flow_with_credentials(home: Path, tmp_path: Path) -> None:
    body = one_node("embeddings.openai", {"base_url": f"https://bob:{PASSWORD}@h/v1"})
    with pytest.raises(ValidationFailed) as caught:
        chainloom.run(write(tmp_path, body))
    assert PASSWORD not in str(caught.value) and "base_url" in str(caught.value)
