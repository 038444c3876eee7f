"""Flows over HTTP: CRUD with optimistic versions, history, import/export, validation bodies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.settings import Settings
from tests.server.conftest import chain, hello, piped, save


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """This module runs on SQLite and on PostgreSQL (tests/databases.py)."""
    return Settings(home=str(tmp_path / "home"), database_url=database_url, cancel_poll=0.05)


def test_create_list_get_and_location(client: TestClient) -> None:
    assert client.get("/flows").json() == []
    r = client.post("/flows", json={"flow": chain(), "message": "first"})
    assert r.status_code == 201
    assert r.json() == {"id": "chain", "name": "Five-node chain", "version": 1}
    assert r.headers["location"] == "/flows/chain"
    listed = client.get("/flows").json()
    assert [(f["id"], f["name"], f["latest_version"]) for f in listed] == [("chain", "Five-node chain", 1)]
    got = client.get("/flows/chain").json()
    assert (got["id"], got["name"], got["version"]) == ("chain", "Five-node chain", 1)
    assert got["flow"]["nodes"][2] == {"id": "llm", "type": "llm.chat", "version": 1,
                                       "config": {"provider": "offline"}}


def test_get_by_unique_name(client: TestClient) -> None:
    save(client, chain())
    assert client.get("/flows/Five-node chain").json()["id"] == "chain"


def test_create_existing_id_is_409_and_keeps_the_original(client: TestClient) -> None:
    save(client, chain())
    r = client.post("/flows", json={"flow": chain(name="Other")})
    assert r.status_code == 409
    assert r.json() == {"error": {
        "code": "flow_exists", "message": "flow 'chain' already exists (at version 1)",
        "hint": "to save a new version on top of it, base the save on version 1; to keep both, "
                "give this flow another id",
        "flow_id": "chain", "current_version": 1}}
    assert client.get("/flows/chain").json()["name"] == "Five-node chain"


def test_update_with_current_version_then_stale_update_is_409(client: TestClient) -> None:
    save(client, chain())
    r = client.put("/flows/chain", json={"flow": chain(name="v2"), "base_version": 1, "message": "rename"})
    assert (r.status_code, r.json()) == (200, {"id": "chain", "name": "v2", "version": 2})
    r = client.put("/flows/chain", json={"flow": chain(name="stale"), "base_version": 1})
    assert r.status_code == 409
    assert r.json() == {"error": {
        "code": "stale_version",
        "message": "flow 'chain' is at version 2, but this save was based on version 1",
        "hint": "reload the flow, re-apply your change and save again",
        "flow_id": "chain", "current_version": 2}}
    assert client.get("/flows/chain").json()["name"] == "v2"
    assert [v["version"] for v in client.get("/flows/chain/versions").json()] == [1, 2]


def test_update_of_missing_flow_is_404(client: TestClient) -> None:
    r = client.put("/flows/ghost", json={"flow": chain("ghost"), "base_version": 1})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    assert r.json()["error"]["message"] == "flow 'ghost' is not saved, so there is no version 1 to save on top of"


def test_update_id_mismatch_is_422_naming_the_field(client: TestClient) -> None:
    save(client, chain())
    r = client.put("/flows/chain", json={"flow": chain("other"), "base_version": 1})
    assert r.status_code == 422
    assert r.json()["error"]["issues"] == [{
        "code": "id_mismatch", "node": None, "port": None, "field": "flow.id",
        "message": "the body's flow id is 'other' but the path names 'chain'",
        "hint": "ids never change; save a copy as a new flow"}]


def test_versions_and_past_version(client: TestClient) -> None:
    save(client, chain())
    client.put("/flows/chain", json={"flow": chain(name="v2"), "base_version": 1, "message": "rename"})
    versions = client.get("/flows/chain/versions").json()
    assert [(v["flow_id"], v["version"], v["message"]) for v in versions] == [("chain", 1, ""), ("chain", 2, "rename")]
    assert client.get("/flows/chain/versions/1").json()["name"] == "Five-node chain"
    assert client.get("/flows/chain", params={"version": 1}).json()["version"] == 1
    r = client.get("/flows/chain/versions/9")
    assert r.status_code == 404
    assert r.json()["error"]["message"] == "flow 'chain' has no version 9"


def test_delete_then_404(client: TestClient) -> None:
    save(client, chain())
    r = client.delete("/flows/chain")
    assert (r.status_code, r.content) == (204, b"")
    assert client.get("/flows/chain").status_code == 404
    r = client.delete("/flows/chain")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


def test_missing_flow_is_404(client: TestClient) -> None:
    r = client.get("/flows/nothing")
    assert r.status_code == 404
    body = r.json()["error"]
    assert (body["code"], body["message"]) == ("not_found", "no saved flow has the id or name 'nothing'")


def test_invalid_flow_422_lists_every_issue_with_node_and_field(client: TestClient) -> None:
    flow = chain()
    flow["nodes"][1]["config"]["bogus"] = 1
    flow["nodes"][2]["config"]["temperature"] = 9
    flow["edges"].append({"from": "answer.value", "to": "nowhere.text"})
    r = client.post("/flows", json={"flow": flow})
    assert r.status_code == 422
    assert r.json() == {"error": {
        "code": "invalid", "message": "the flow has 3 problems",
        "hint": "fix every issue listed and save again",
        "issues": [
            {"code": "bad_config", "node": "prompt", "port": None, "field": "config.bogus",
             "message": "config field 'bogus': Extra inputs are not permitted",
             "hint": "valid fields are: template, defaults", "severity": "error"},
            {"code": "bad_config", "node": "llm", "port": None, "field": "config.temperature",
             "message": "config field 'temperature': Input should be less than or equal to 2", "hint": "",
             "severity": "error"},
            {"code": "dangling_edge", "node": "nowhere", "port": None, "field": None,
             "message": "edge answer.value -> nowhere.text goes to node 'nowhere', which does not exist",
             "hint": "remove the edge or add the node", "severity": "error"},
        ]}}
    assert client.get("/flows").json() == []


def test_malformed_flow_422_names_node_by_id_and_field(client: TestClient) -> None:
    flow = chain()
    flow["nodes"][2]["type"] = "LLM"
    flow["nodes"][3]["extra"] = True
    flow["edges"][0]["from"] = "nodot"
    r = client.post("/flows", json={"flow": flow})
    assert r.status_code == 422
    assert r.json()["error"]["issues"] == [
        {"code": "string_pattern_mismatch", "node": "llm", "port": None, "field": "type",
         "message": "must be a registered type id such as 'llm.chat' (lower-case words joined by dots)",
         "hint": ""},
        {"code": "extra_forbidden", "node": "clean", "port": None, "field": "extra",
         "message": "Extra inputs are not permitted", "hint": ""},
        {"code": "string_pattern_mismatch", "node": None, "port": None, "field": "flow.edges[0].from",
         "message": "must be 'node.port'", "hint": ""},
    ]


def test_request_422_never_echoes_the_value_sent(client: TestClient) -> None:
    flow = chain()
    flow["nodes"][2]["config"]["api_key_env"] = "sk-live-PLANTED-12"
    r = client.post("/flows", json={"flow": flow})
    assert r.status_code == 422
    assert "PLANTED" not in r.text
    issue = r.json()["error"]["issues"][0]
    assert (issue["node"], issue["field"]) == ("llm", "config.api_key_env")
    assert issue["hint"] == ("secret fields hold the NAME of an environment variable "
                             "(e.g. OPENAI_API_KEY), never the key")


def test_export_is_the_canonical_file_without_secret_values(client: TestClient, monkeypatch) -> None:
    monkeypatch.setenv("REMOTE_KEY", "planted-secret-value-9")
    save(client, piped("remote", ("test.remote", {"api_key_env": "REMOTE_KEY"})))
    r = client.get("/flows/remote/export")
    assert r.status_code == 200
    assert r.headers["content-disposition"] == 'attachment; filename="remote.json"'
    assert "planted-secret-value-9" not in r.text
    exported = json.loads(r.text)
    assert exported["nodes"][1]["config"] == {"api_key_env": "REMOTE_KEY"}
    assert r.text == json.dumps(exported, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_import_round_trip_conflict_and_replace(client: TestClient) -> None:
    r = client.post("/flows/import", json=hello())
    assert (r.status_code, r.json()["version"]) == (201, 1)
    exported = client.get("/flows/hello/export").json()
    assert exported == hello()
    r = client.post("/flows/import", json=exported)
    assert r.status_code == 409
    assert r.json()["error"] == {"code": "flow_exists", "message": "flow 'hello' already exists (at version 1)",
                                 "hint": "pass replace=true to save the file as its next version",
                                 "flow_id": "hello", "current_version": 1}
    r = client.post("/flows/import", params={"replace": True}, json={**exported, "name": "again"})
    assert (r.status_code, r.json()) == (200, {"id": "hello", "name": "again", "version": 2})
    assert client.get("/flows/hello/versions").json()[1]["message"] == "imported"


def test_import_invalid_file_is_422(client: TestClient) -> None:
    flow = hello()
    flow["nodes"][2]["type"] = "llm.chatt"
    r = client.post("/flows/import", json=flow)
    assert r.status_code == 422
    assert r.json()["error"]["issues"] == [{
        "code": "unknown_type", "node": "llm", "port": None, "field": None,
        "message": "unknown node type 'llm.chatt'", "hint": "did you mean 'llm.chat'?", "severity": "error"}]


def test_validate_reports_without_saving(client: TestClient) -> None:
    assert client.post("/validate", json=chain()).json() == {"valid": True, "issues": []}
    flow = chain()
    flow["edges"] = flow["edges"][1:]
    r = client.post("/validate", json=flow)
    assert r.status_code == 200
    assert r.json() == {"valid": False, "issues": [{
        "code": "missing_input", "node": "prompt", "port": "question", "field": None,
        "message": "required input (Text) is not connected",
        "hint": "connect an output of type Text to 'prompt.question'", "severity": "error"}]}
    assert client.get("/flows").json() == []


def test_nodes_catalog(client: TestClient) -> None:
    types = [n["type"] for n in client.get("/nodes").json()]
    assert {"input.text", "prompt.template", "llm.chat", "output.text", "test.slow"} <= set(types)


def test_an_unset_secret_is_a_warning_that_neither_fails_validation_nor_a_save(
        client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAINLOOM_TEST_UNSET_KEY", raising=False)
    flow = chain()
    llm = next(n for n in flow["nodes"] if n["type"] == "llm.chat")
    llm["config"] = {"provider": "openai", "model": "gpt-4o-mini", "api_key_env": "CHAINLOOM_TEST_UNSET_KEY"}
    r = client.post("/validate", json=flow)
    assert r.json() == {"valid": True, "issues": [{
        "code": "secret_not_set", "node": llm["id"], "port": None, "field": "config.api_key_env",
        "message": "config field 'api_key_env' names the secret 'CHAINLOOM_TEST_UNSET_KEY', which is not set",
        "hint": "export CHAINLOOM_TEST_UNSET_KEY=... in the environment that runs this flow",
        "severity": "warning"}]}
    assert client.post("/flows", json={"flow": flow}).status_code == 201
