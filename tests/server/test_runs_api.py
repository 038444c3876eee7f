"""Runs over HTTP: blocking JSON and SSE, tweaks, versions, sessions, timeouts, records, cancel."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from server import sse
from server.settings import Settings
from tests.fakes.openai_server import FakeOpenAIServer
from tests.server.conftest import chain, chat_flow, hello, piped, save

ANSWER = "Flows are JSON files."


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """This module runs on SQLite and on PostgreSQL (tests/databases.py)."""
    return Settings(home=str(tmp_path / "home"), database_url=database_url, cancel_poll=0.05)


def run(client: TestClient, flow_id: str = "chain", **body: Any) -> dict[str, Any]:
    r = client.post(f"/flows/{flow_id}/run", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def test_blocking_run_returns_outputs_and_is_recorded(client: TestClient) -> None:
    save(client, chain())
    out = run(client, inputs={"question": "What are flows?"})
    assert {k: out[k] for k in ("flow_id", "flow_version", "status", "outputs", "error", "hint",
                                "failed_node", "session_id")} == {
        "flow_id": "chain", "flow_version": 1, "status": "succeeded", "outputs": {"answer": ANSWER},
        "error": None, "hint": "", "failed_node": None, "session_id": None}
    assert out["usage"]["total_tokens"] > 0 and out["duration"] > 0
    record = client.get(f"/runs/{out['run_id']}").json()
    assert {k: record[k] for k in ("run_id", "flow_id", "flow_version", "status", "outputs", "inputs")} == {
        "run_id": out["run_id"], "flow_id": "chain", "flow_version": 1, "status": "succeeded",
        "outputs": {"answer": ANSWER}, "inputs": {"question": "What are flows?"}}
    assert client.get(f"/runs/{out['run_id'][:8]}").json()["run_id"] == out["run_id"]


def test_hello_example_runs_by_name(client: TestClient) -> None:
    client.post("/flows/import", json=hello())
    out = run(client, "Hello: ask a question about chainloom", inputs={})
    assert out["status"] == "succeeded"
    assert out["outputs"]["answer"].startswith("chainloom is a visual, no-code builder")


def _kinds(frames: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(f["event"], json.loads(f["data"]).get("node")) for f in frames]


EXPECTED_STREAM = [("run.started", None), ("node.started", "question"), ("node.finished", "question"),
                   ("node.started", "prompt"), ("node.finished", "prompt"), ("node.started", "llm")] + \
    [("node.token", "llm")] * 4 + [("node.finished", "llm"), ("node.started", "clean"),
                                   ("node.finished", "clean"), ("node.started", "answer"),
                                   ("node.finished", "answer"), ("run.finished", None)]


@pytest.mark.parametrize("how", ["body", "accept"])
def test_streaming_run_sends_every_engine_event_as_sse(client: TestClient, how: str) -> None:
    save(client, chain())
    body: dict[str, Any] = {"inputs": {"question": "What are flows?"}}
    headers = {}
    if how == "body":
        body["stream"] = True
    else:
        headers["Accept"] = "text/event-stream"
    r = client.post("/flows/chain/run", json=body, headers=headers)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    frames = sse.parse(r.text)
    assert _kinds(frames) == EXPECTED_STREAM
    assert [int(f["id"]) for f in frames] == list(range(1, len(frames) + 1))
    finished = json.loads(frames[-1]["data"])
    assert (finished["status"], finished["outputs"]) == ("succeeded", {"answer": ANSWER})
    run_id = r.headers["x-run-id"]
    assert finished["run_id"] == run_id
    recorded = client.get(f"/runs/{run_id}/events").json()
    assert [json.loads(f["data"]) for f in frames] == recorded["events"]
    assert recorded["next_after"] == len(frames)


def test_events_after_a_sequence_number(client: TestClient) -> None:
    save(client, chain())
    run_id = run(client, inputs={"question": "q?"})["run_id"]
    r = client.get(f"/runs/{run_id}/events", params={"after": 3, "limit": 1}).json()
    assert (r["status"], [e["seq"] for e in r["events"]], r["next_after"]) == ("succeeded", [4], 4)
    r = client.get(f"/runs/{run_id}/events", params={"after": 99}).json()
    assert (r["events"], r["next_after"]) == ([], 99)


def test_events_follow_of_a_finished_run_replays_and_ends(client: TestClient) -> None:
    save(client, chain())
    run_id = run(client, inputs={"question": "q?"})["run_id"]
    total = client.get(f"/runs/{run_id}/events").json()["next_after"]
    r = client.get(f"/runs/{run_id}/events", params={"follow": True, "after": total - 3})
    assert r.headers["content-type"].startswith("text/event-stream")
    assert [f["event"] for f in sse.parse(r.text)] == ["node.started", "node.finished", "run.finished"]


def test_streaming_failure_ends_with_the_failed_run(client: TestClient) -> None:
    flow = piped("fails", ("test.slow", {"seconds": 30}))
    flow["nodes"][1]["policy"] = {"timeout": 0.1}
    save(client, flow)
    r = client.post("/flows/fails/run", json={"inputs": {"question": "x"}, "stream": True})
    events = [json.loads(f["data"]) for f in sse.parse(r.text)]
    failed = [e for e in events if e["kind"] == "node.failed"]
    assert [(e["node"], e["error"]) for e in failed] == [("mid", "took longer than its 0.1s limit")]
    assert [(e["kind"], e.get("node")) for e in events[-2:]] == [("node.cancelled", "answer"), ("run.finished", None)]
    assert (events[-1]["status"], events[-1]["failed_node"]) == ("failed", "mid")


def test_input_problems_are_422_all_at_once(client: TestClient) -> None:
    save(client, chain())
    r = client.post("/flows/chain/run", json={"inputs": {"questoin": "typo"}})
    assert r.status_code == 422
    assert r.json() == {"error": {"code": "invalid", "message": "the inputs do not fit the flow", "hint": "",
                                  "issues": [
        {"code": "unknown_input", "node": None, "port": None, "field": "inputs.questoin",
         "message": "unknown flow input 'questoin'; this flow takes: question",
         "hint": "check the input's name", "severity": "error"},
        {"code": "missing_input", "node": "question", "port": None, "field": "inputs.question",
         "message": "flow input 'question' is required", "hint": 'pass it with "inputs": {"question": ...}',
         "severity": "error"}]}}


def test_run_of_missing_flow_is_404(client: TestClient) -> None:
    r = client.post("/flows/nothing/run", json={})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


def test_unknown_body_field_is_422(client: TestClient) -> None:
    save(client, chain())
    r = client.post("/flows/chain/run", json={"input": {}})
    assert r.status_code == 422
    assert r.json()["error"]["issues"][0] == {"code": "extra_forbidden", "node": None, "port": None,
                                              "field": "input", "message": "Extra inputs are not permitted",
                                              "hint": ""}


def test_tweaks_change_fields_the_flow_marks_tweakable_for_one_run(client: TestClient) -> None:
    flow = chain()
    flow["nodes"][3]["tweakable"] = ["steps"]
    save(client, flow)
    tweaked = run(client, inputs={"question": "What are flows?"}, tweaks={"clean": {"steps": [{"op": "upper"}]}})
    assert tweaked["outputs"] == {"answer": "FLOWS ARE JSON FILES."}
    assert client.get("/flows/chain").json()["flow"]["nodes"][3]["config"] == {"steps": [{"op": "strip"}]}


def test_tweaks_refuse_secrets_addresses_unmarked_unknowns_and_bad_values(client: TestClient) -> None:
    flow = piped("remote", ("test.remote", {}))
    flow["nodes"][1]["tweakable"] = ["label"]
    save(client, flow)
    r = client.post("/flows/remote/run", json={"inputs": {"question": "q"}, "tweaks": {
        "mid": {"api_key_env": "OTHER", "base_url": "http://evil.example", "nope": 1},
        "question": {"description": "x"}, "ghost": {"x": 1}}})
    assert r.status_code == 422
    assert r.json()["error"]["issues"] == [
        {"code": "where_field", "node": "mid", "port": None, "field": "config.api_key_env",
         "message": "config field 'api_key_env' decides where data or credentials go (secret), so no "
                    "run may change it", "hint": "change it in the saved flow (an operator's decision)",
         "severity": "error"},
        {"code": "where_field", "node": "mid", "port": None, "field": "config.base_url",
         "message": "config field 'base_url' decides where data or credentials go (url), so no run "
                    "may change it", "hint": "change it in the saved flow (an operator's decision)",
         "severity": "error"},
        {"code": "unknown_field", "node": "mid", "port": None, "field": "config.nope",
         "message": "tweak names config field 'nope', which 'test.remote' does not have",
         "hint": "fields are: api_key_env, base_url, label", "severity": "error"},
        {"code": "not_tweakable", "node": "question", "port": None, "field": "config.description",
         "message": "config field 'description' is not tweakable in this flow",
         "hint": "the flow's author can allow it: add \"tweakable\": [\"description\"] to node "
                 "'question' in the flow file (or tick \"tweakable\" in the builder)", "severity": "error"},
        {"code": "unknown_node", "node": None, "port": None, "field": None,
         "message": "tweaks name node 'ghost', which is not in the flow", "hint": "nodes are: question, mid, answer",
         "severity": "error"}]
    outputs = run(client, "remote", inputs={"question": "q"}, tweaks={"mid": {"label": "x"}})["outputs"]
    assert outputs == {"answer": "x:q"}
    r = client.post("/flows/remote/run", json={"inputs": {"question": "q"}, "tweaks": {"mid": {"label": 5}}})
    assert r.status_code == 422
    assert r.json()["error"]["issues"][0]["field"] == "config.label"


def test_run_a_past_version(client: TestClient) -> None:
    save(client, chain())
    flow = chain()
    flow["nodes"][3]["config"] = {"steps": [{"op": "lower"}]}
    client.put("/flows/chain", json={"flow": flow, "base_version": 1})
    latest = run(client, inputs={"question": "What are flows?"})
    old = run(client, inputs={"question": "What are flows?"}, version=1)
    assert (latest["flow_version"], latest["outputs"]["answer"]) == (2, "flows are json files.")
    assert (old["flow_version"], old["outputs"]["answer"]) == (1, ANSWER)
    assert client.post("/flows/chain/run", json={"inputs": {"question": "q"}, "version": 7}).status_code == 404


def test_a_session_remembers_across_calls(client: TestClient) -> None:
    save(client, chat_flow())
    said = run(client, "chat", inputs={"message": "Hi, my name is Ada and I live in Lisbon."}, session_id="ada")
    assert said["status"] == "succeeded"
    asked = run(client, "chat", inputs={"message": "Where do I live?"}, session_id="ada")
    assert "I live in Lisbon." in asked["outputs"]["reply"]["content"]
    stranger = run(client, "chat", inputs={"message": "Where do I live?"}, session_id="bob")
    assert "Lisbon" not in stranger["outputs"]["reply"]["content"]


def test_session_id_reaches_the_node_and_the_record_across_calls(client: TestClient) -> None:
    save(client, piped("sess", ("test.session", {})))
    first = run(client, "sess", inputs={"question": "hi"}, session_id="user-7:chat")
    second = run(client, "sess", inputs={"question": "again"}, session_id="user-7:chat")
    run(client, "sess", inputs={"question": "other"}, session_id="someone-else")
    assert first["outputs"] == second["outputs"] == {"answer": "session=user-7:chat"}
    assert client.get(f"/runs/{first['run_id']}").json()["session_id"] == "user-7:chat"
    history = client.get("/runs", params={"session_id": "user-7:chat"}).json()
    assert [r["run_id"] for r in history] == [second["run_id"], first["run_id"]]
    assert [r["inputs"]["question"] for r in history] == ["again", "hi"]
    assert client.post("/flows/sess/run", json={"session_id": "bad id\n"}).status_code == 422


def test_run_timeout_stops_the_run(client: TestClient) -> None:
    save(client, piped("slow", ("test.slow", {"seconds": 30})))
    out = run(client, "slow", inputs={"question": "q"}, timeout=0.3)
    assert (out["status"], out["error"], out["hint"]) == (
        "timeout", "run passed its time limit of 0.3s", "raise the run timeout or make the slow node faster")
    r = client.post("/flows/slow/run", json={"inputs": {"question": "q"}, "timeout": 5000})
    assert r.status_code == 422
    assert r.json()["error"]["issues"][0]["message"] == "at most 3600 seconds"


def test_cancel_a_running_run(client: TestClient) -> None:
    save(client, piped("slow", ("test.slow", {"seconds": 30})))
    results: list[dict[str, Any]] = []
    worker = threading.Thread(target=lambda: results.append(run(client, "slow", inputs={"question": "q"})))
    worker.start()
    running: list[dict[str, Any]] = []
    deadline = time.monotonic() + 20
    while not running and time.monotonic() < deadline:
        running = client.get("/runs", params={"status": "running"}).json()
        time.sleep(0.02)
    run_id = running[0]["run_id"]
    r = client.post(f"/runs/{run_id}/cancel")
    assert (r.status_code, r.json()) == (202, {"run_id": run_id, "status": "cancelling"})
    worker.join(timeout=20)
    got = (results[0]["run_id"], results[0]["status"], results[0]["error"])
    assert got == (run_id, "cancelled", "run was cancelled")
    assert client.get(f"/runs/{run_id}").json()["status"] == "cancelled"
    r = client.post(f"/runs/{run_id}/cancel")
    assert r.status_code == 409
    assert r.json()["error"] == {"code": "run_finished", "message": f"run '{run_id}' already ended (cancelled)",
                                 "hint": "only a running run can be cancelled"}


def test_cancel_and_read_unknown_runs_are_404(client: TestClient) -> None:
    for method, path in (("post", "/runs/abcdef123/cancel"), ("get", "/runs/abcdef123"),
                         ("get", "/runs/abcdef123/events")):
        r = getattr(client, method)(path)
        assert r.status_code == 404
        assert r.json()["error"]["message"] == "no recorded run has the id 'abcdef123'"
    assert client.get("/runs/not a valid id!").status_code == 422


def test_list_runs_filters(client: TestClient) -> None:
    save(client, chain())
    save(client, chain("other"))
    a = run(client, inputs={"question": "q"})
    b = run(client, "other", inputs={"question": "q"})
    assert [r["run_id"] for r in client.get("/runs").json()] == [b["run_id"], a["run_id"]]
    assert [r["run_id"] for r in client.get("/runs", params={"flow_id": "chain"}).json()] == [a["run_id"]]
    assert client.get("/runs", params={"status": "failed"}).json() == []
    assert len(client.get("/runs", params={"limit": 1}).json()) == 1
    assert client.get("/runs", params={"limit": 0}).status_code == 422


def test_provider_error_quoting_the_key_never_reaches_any_response(client: TestClient, monkeypatch) -> None:
    planted = "sk-PLANTED-srv-77"
    monkeypatch.setenv("PLANTED_KEY", planted)
    with FakeOpenAIServer(api_key="sk-the-right-one") as fake:  # rejects ours and quotes it back
        flow = piped("remote", ("llm.chat", {"provider": "openai", "base_url": fake.url,
                                             "api_key_env": "PLANTED_KEY", "model": "gpt-test",
                                             "stream": False}))
        flow["edges"] = [{"from": "question.text", "to": "mid.prompt"}, {"from": "mid.text", "to": "answer.value"}]
        save(client, flow)
        out = run(client, "remote", inputs={"question": "q"})
        streamed = client.post("/flows/remote/run", json={"inputs": {"question": "q"}, "stream": True}).text
        assert fake.requests and fake.requests[0].headers["authorization"] == f"Bearer {planted}"
    assert (out["status"], out["failed_node"]) == ("failed", "mid")
    seen = [str(out), streamed, client.get(f"/runs/{out['run_id']}").text,
            client.get(f"/runs/{out['run_id']}/events").text, client.get("/runs").text,
            client.get("/flows/remote/export").text, client.get("/flows/remote").text]
    assert all(planted not in text for text in seen)
    assert out["error"].endswith("/v1 refused the API key (HTTP 401)")
