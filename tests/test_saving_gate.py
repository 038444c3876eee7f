"""One gate for every way a flow gets stored: `chainloom flows save`, the API (create, update,
import) and the builder's Save all refuse exactly what `engine.validate.saving_issues` refuses.

Each bad flow is tried on every surface; each surface must refuse it, store nothing,
and name the same problems. A key pasted into a variable-name field is refused in
its spellings (ones the name pattern catches and ones only the key check catches).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from engine.flow import parse_flow
from engine.store import open_store
from engine.validate import saving_issues
from nodes.registry import default_registry
from server.app import create_app
from server.keys import create_key
from server.settings import Settings
from tests.test_cli import chat_flow, cli, write
from ui.services import open_services
from ui.views import library
from ui.workspace import Workspace

REGISTRY = default_registry()


def llm_config(**config: Any) -> dict[str, Any]:
    body = chat_flow("bad")
    body["nodes"][2]["config"] = {"provider": "openai", "model": "m", **config}
    return body


def broken_edge() -> dict[str, Any]:
    body = chat_flow("bad")
    body["edges"] = body["edges"][:1]
    return body


def marked_where() -> dict[str, Any]:
    body = llm_config()
    body["nodes"][2]["tweakable"] = ["base_url"]
    return body


BAD: dict[str, dict[str, Any]] = {
    "key-with-dashes": llm_config(api_key_env="sk-proj-FAKE"),
    "key-that-fits-the-name-pattern": llm_config(api_key_env="sk_test_FAKE"),
    "key-google-style": llm_config(api_key_env="AIzaFAKE"),
    "password-in-url": llm_config(base_url="http://bob:hunter2@127.0.0.1:1/v1"),
    "where-field-tweakable": marked_where(),
    "missing-input": broken_edge(),
}


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


def gate_codes(body: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(i.code, i.node) for i in saving_issues(parse_flow(body), REGISTRY)]


@pytest.mark.parametrize("case", sorted(BAD))
def test_cli_flows_save_refuses_what_the_gate_refuses_and_stores_nothing(
        home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str) -> None:
    body = BAD[case]
    assert gate_codes(body)
    code, _, err = cli(capsys, "flows", "save", write(tmp_path, body))
    assert code == 2
    assert "was not saved; fix every problem listed" in err
    assert f"{len(gate_codes(body))} problem" in err
    assert open_store().list_flows() == []
    assert "sk_test_FAKE" not in err and "hunter2" not in err


@pytest.mark.parametrize("case", sorted(BAD))
def test_api_create_update_and_import_refuse_the_same_problems(client: TestClient, case: str) -> None:
    body = BAD[case]
    expected = gate_codes(body)
    good = chat_flow("bad")
    assert client.post("/flows", json={"flow": good}).status_code == 201
    for method, route, payload in (("post", "/flows", {"flow": body | {"id": "other"}}),
                                   ("put", "/flows/bad", {"flow": body, "base_version": 1}),
                                   ("post", "/flows/import?replace=true", body),
                                   ("post", "/flows/import", body | {"id": "fresh"})):
        r = getattr(client, method)(route, json=payload)
        assert r.status_code == 422, (route, r.text)
        got = [(i["code"], i["node"]) for i in r.json()["error"]["issues"]]
        assert got == expected, route
    assert client.get("/flows/bad/versions").json()[-1]["version"] == 1
    assert [f["id"] for f in client.get("/flows").json()] == ["bad"]


@pytest.mark.parametrize("case", sorted(BAD))
def test_builder_save_refuses_the_same_problems(tmp_path: Path, case: str) -> None:
    svc = open_services(tmp_path / "ui-home", REGISTRY)
    ws = Workspace()
    ws.load(parse_flow(BAD[case]), version=None, source="test")
    library.save(ws, svc)
    assert svc.store.list_flows() == []
    assert ws.notices[-1].level == "error"
    assert ws.notices[-1].text.startswith(f"Not saved: the flow has {len(gate_codes(BAD[case]))} problem(s)")


def test_a_good_flow_passes_every_surface(home: Path, tmp_path: Path, client: TestClient,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    good = copy.deepcopy(chat_flow("good"))
    assert gate_codes(good) == []
    assert cli(capsys, "flows", "save", write(tmp_path, good))[0] == 0
    assert client.post("/flows/import", json=good).status_code == 201
    assert json.loads(client.get("/flows/good/export").text)["id"] == "good"
