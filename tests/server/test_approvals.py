"""Approvals over HTTP: a gated call waits, durably, until someone approves or rejects it.

On SQLite and PostgreSQL: the run's status is `waiting_approval` while it waits,
GET /approvals shows the exact call, approve/reject decide it from any worker,
and a rejected call reaches the agent as "the call X was rejected by <who>:
<reason>". A server killed while a run waits keeps the approval pending across the
restart, and the decision then settles the run honestly.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from server import sse
from server.settings import Settings
from tests.server.conftest import LiveServer

SHOWN = 'calculator({"expression": "2 ** 10"})'


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(home=str(tmp_path / "home"), database_url=database_url, cancel_poll=0.05)


def gated_agent(flow_id: str = "gated") -> dict[str, Any]:
    responses = [{"text": "", "tool_calls": [{"name": "calculator", "arguments": {"expression": "2 ** 10"}}]},
                 "Done."]
    return {"schema_version": 1, "id": flow_id, "nodes": [
        {"id": "q", "type": "input.text", "config": {"name": "q"}},
        {"id": "calc", "type": "tool.calculator", "config": {}},
        {"id": "agent", "type": "agent.tool_calling", "config": {"provider": "scripted", "responses": responses},
         "policy": {"require_approval": ["calculator"]}},
        {"id": "out", "type": "output.text", "config": {"name": "answer"}},
    ], "edges": [{"from": "q.text", "to": "agent.input"}, {"from": "calc.tool", "to": "agent.tools"},
                 {"from": "agent.answer", "to": "out.value"}]}


def pending(http: Any, seconds: float = 60) -> dict[str, Any]:
    """The first pending approval, once there is one."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        listed = http.get("/approvals").json()
        if listed:
            return dict(listed[0])
        time.sleep(0.05)
    raise AssertionError("no approval became pending")


def start(client: TestClient) -> tuple[threading.Thread, list[dict[str, Any]]]:
    results: list[dict[str, Any]] = []

    def go() -> None:
        results.append(client.post("/flows/gated/run", json={"inputs": {"q": "2^10?"}}).json())

    thread = threading.Thread(target=go)
    thread.start()
    return thread, results


def observation(client: TestClient, run_id: str) -> str:
    events = client.get(f"/runs/{run_id}/events").json()["events"]
    return "\n".join(str(e["data"].get("text")) for e in events
                     if e["kind"] == "node.step" and e["name"] == "observation")


def test_a_rejected_call_waits_then_tells_the_agent_who_rejected_it_and_why(client: TestClient) -> None:
    assert client.post("/flows", json={"flow": gated_agent()}).status_code == 201
    thread, results = start(client)
    approval = pending(client)
    assert (approval["node"], approval["tool"], approval["call"], approval["shown"], approval["status"]) == (
        "agent", "calculator", {"expression": "2 ** 10"}, SHOWN, "pending")
    assert approval["flow_id"] == "gated"
    run_id = approval["run_id"]
    assert client.get(f"/runs/{run_id}").json()["status"] == "waiting_approval"
    assert [r["run_id"] for r in client.get("/runs", params={"status": "waiting_approval"}).json()] == [run_id]

    r = client.post(f"/approvals/{approval['approval_id']}/reject", json={"reason": "too expensive"})
    assert r.status_code == 200
    assert (r.json()["status"], r.json()["decided_by"], r.json()["reason"]) == (
        "rejected", "API key 'tests'", "too expensive")
    thread.join(timeout=60)
    assert results[0]["status"] == "succeeded"
    assert (f"the call {SHOWN} was rejected by API key 'tests': too expensive"
            in observation(client, run_id))
    assert client.get("/approvals").json() == []
    again = client.post(f"/approvals/{approval['approval_id']}/approve")
    assert again.status_code == 409
    assert again.json()["error"]["message"] == f"approval '{approval['approval_id']}' is already rejected"


def test_an_approved_call_runs(client: TestClient) -> None:
    assert client.post("/flows", json={"flow": gated_agent()}).status_code == 201
    thread, results = start(client)
    approval = pending(client)
    r = client.post(f"/approvals/{approval['approval_id']}/approve")
    assert (r.status_code, r.json()["status"]) == (200, "approved")
    thread.join(timeout=60)
    assert results[0]["status"] == "succeeded"
    assert "1024" in observation(client, approval["run_id"])
    assert client.get(f"/runs/{approval['run_id']}").json()["status"] == "succeeded"
    decided = client.get("/approvals", params={"status": "approved"}).json()
    assert [a["approval_id"] for a in decided] == [approval["approval_id"]]


def test_unknown_approvals_and_bad_ids(client: TestClient) -> None:
    missing = "0" * 32
    r = client.post(f"/approvals/{missing}/approve")
    assert (r.status_code, r.json()["error"]["message"]) == (404, f"no approval has the id '{missing}'")
    assert client.post("/approvals/../x/approve").status_code == 404
    assert client.get("/approvals/not-hex").status_code == 422


def test_cancelling_a_waiting_run_withdraws_its_approval(client: TestClient) -> None:
    assert client.post("/flows", json={"flow": gated_agent()}).status_code == 201
    thread, _ = start(client)
    approval = pending(client)
    assert client.post(f"/runs/{approval['run_id']}/cancel").status_code == 202
    thread.join(timeout=60)
    assert client.get(f"/runs/{approval['run_id']}").json()["status"] == "cancelled"
    withdrawn = client.get(f"/approvals/{approval['approval_id']}").json()
    assert (withdrawn["status"], withdrawn["reason"]) == ("cancelled", "the run stopped before anyone decided")


def test_a_pending_approval_survives_a_kill_9_and_its_decision_settles_the_run(
        tmp_path: Path, database_url: str) -> None:
    server = LiveServer(tmp_path / "home", database_url=database_url, sweep_interval=0.5)
    key = server.prepare()
    server.start()
    http = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60)
    try:
        assert http.post("/flows", json={"flow": gated_agent()}).status_code == 201
        threading.Thread(target=lambda: _quietly(http, "/flows/gated/run"), daemon=True).start()
        approval = pending(http)
        server.kill()
        again = LiveServer(tmp_path / "home", database_url=database_url, sweep_interval=0.5).start()
        with httpx.Client(base_url=again.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as h:
            time.sleep(1.5)  # a few sweeps: a waiting run is not swept away, its approval stays
            assert [a["approval_id"] for a in h.get("/approvals").json()] == [approval["approval_id"]]
            assert h.get(f"/runs/{approval['run_id']}").json()["status"] == "waiting_approval"
            r = h.post(f"/approvals/{approval['approval_id']}/reject", json={"reason": "after restart"})
            assert r.status_code == 200
            record = h.get(f"/runs/{approval['run_id']}").json()
            assert record["status"] == "interrupted"
            assert record["error"] == (
                "run was interrupted: its process stopped while it waited for approval, and the call "
                f"{SHOWN} was rejected by API key 'live': after restart")
            frames = sse.parse(h.get(f"/runs/{approval['run_id']}/events", params={"follow": True}).text)
            assert frames[-1]["event"] == "run.finished"
        again.stop()
    finally:
        http.close()
        server.stop()


def _quietly(http: httpx.Client, path: str) -> None:
    try:
        http.post(path, json={"inputs": {"q": "2^10?"}})
    except httpx.HTTPError:
        pass  # the server is killed under this request
