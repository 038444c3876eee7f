"""Runs never stay "running" when a server dies: kill -9 mid-run, and the run still ends.

Real uvicorn processes on 127.0.0.1 over one database (SQLite, then PostgreSQL):
a server is killed with SIGKILL while a run streams; another server's periodic
sweep (or the restarted server's first one) ends the run as `interrupted`, an SSE
follower gets the final `run.finished` and ends, and a cancel of an orphaned run
settles it at once.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from server import sse
from server.settings import Settings
from tests.engine.test_lease import killed_mid_run
from tests.server.conftest import LiveServer, piped

SWEEP = 0.5  # seconds between sweeps in these tests (the default is 10)
SLOW = piped("slow60", ("test.slow", {"seconds": 60, "step": 0.05}))
INTERRUPTED = "run was interrupted: its process stopped"


def _client(server: LiveServer, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60)


def start_run_and_wait_for_a_token(server: LiveServer, key: str) -> str:
    """Start the slow run streaming, return its id once a token arrived (the stream stays open)."""
    started = threading.Event()
    run_ids: list[str] = []

    def stream() -> None:
        try:
            with _client(server, key) as http, http.stream(
                    "POST", "/flows/slow60/run", json={"inputs": {"question": "q"}, "stream": True}) as r:
                run_ids.append(r.headers["x-run-id"])
                for line in r.iter_lines():
                    if line.startswith("event: node.token"):
                        started.set()
        except httpx.HTTPError:
            pass  # the server was killed under us: expected
        finally:
            started.set()

    threading.Thread(target=stream, daemon=True).start()
    assert started.wait(60) and run_ids, "the run never streamed a token"
    return run_ids[0]


def follow(server: LiveServer, key: str, run_id: str) -> list[dict[str, Any]]:
    """Follow a run's events as SSE until the server ends the stream."""
    with _client(server, key) as http:
        text = http.get(f"/runs/{run_id}/events", params={"follow": True}).text
    return [json.loads(f["data"]) for f in sse.parse(text)]


def wait_status(http: httpx.Client, run_id: str, want: str, seconds: float = 60) -> str:
    status, deadline = "", time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = http.get(f"/runs/{run_id}").json()["status"]
        if status == want:
            break
        time.sleep(0.1)
    return status


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def test_kill_9_mid_run_ends_the_run_interrupted_and_its_follower_ends(
        home: Path, database_url: str) -> None:
    doomed = LiveServer(home, database_url=database_url, sweep_interval=SWEEP)
    watcher = LiveServer(home, database_url=database_url, sweep_interval=SWEEP)
    key = doomed.prepare()
    doomed.start()
    watcher.start()
    try:
        with _client(doomed, key) as http:
            assert http.post("/flows", json={"flow": SLOW}).status_code == 201
        run_id = start_run_and_wait_for_a_token(doomed, key)
        followed: list[list[dict[str, Any]]] = []
        follower = threading.Thread(target=lambda: followed.append(follow(watcher, key, run_id)))
        follower.start()
        time.sleep(0.3)  # the follower is attached and has read the events so far
        doomed.kill()

        follower.join(timeout=60)
        assert not follower.is_alive(), "the SSE follower never ended"
        events = followed[0]
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        last = events[-1]
        assert (last["kind"], last["status"], last["error"]) == ("run.finished", "interrupted", INTERRUPTED)
        ends = [(e["kind"], e["node"]) for e in events if e["kind"] == "node.cancelled"]
        assert ends == [("node.cancelled", "mid"), ("node.cancelled", "answer")]

        restarted = LiveServer(home, database_url=database_url, sweep_interval=SWEEP).start()
        try:
            with _client(restarted, key) as http:
                record = http.get(f"/runs/{run_id}").json()
                assert (record["status"], record["error"]) == ("interrupted", INTERRUPTED)
                c = http.post(f"/runs/{run_id}/cancel")
                assert c.status_code == 409
                assert c.json()["error"]["message"] == f"run '{run_id}' already ended (interrupted)"
        finally:
            restarted.stop()
    finally:
        watcher.stop()
        doomed.stop()


def test_a_restarted_server_ends_the_runs_of_its_killed_self(home: Path, database_url: str) -> None:
    server = LiveServer(home, database_url=database_url, sweep_interval=SWEEP)
    key = server.prepare()
    server.start()
    with _client(server, key) as http:
        assert http.post("/flows", json={"flow": SLOW}).status_code == 201
    run_id = start_run_and_wait_for_a_token(server, key)
    server.kill()
    again = LiveServer(home, database_url=database_url, sweep_interval=SWEEP)
    again.port = server.port  # the same address, as a restarted service would have
    again.url = server.url
    again.start()
    try:
        with _client(again, key) as http:
            assert wait_status(http, run_id, "interrupted") == "interrupted"
        events = follow(again, key, run_id)  # ends at once: the run is over
        assert (events[-1]["kind"], events[-1]["status"]) == ("run.finished", "interrupted")
    finally:
        again.stop()


def test_cancel_of_a_run_whose_process_is_gone_settles_it(tmp_path: Path, database_url: str) -> None:
    from server.app import create_app
    from server.keys import create_key
    from tests.server.nodes import registry

    app = create_app(Settings(home=str(tmp_path / "home"), database_url=database_url,
                              sweep_interval=3600), registry=registry())
    key = create_key(app.state.chainloom.store.engine, "tests")[1]
    with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as client:
        killed_mid_run(database_url, "gone-1")  # after the start-up sweep: only cancel can see it
        assert client.get("/runs/gone-1").json()["status"] == "running"
        r = client.post("/runs/gone-1/cancel")
        assert (r.status_code, r.json()) == (200, {"run_id": "gone-1", "status": "interrupted"})
        record = client.get("/runs/gone-1").json()
        assert (record["status"], record["error"]) == (
            "interrupted", "run was interrupted: its process stopped (settled by a cancel request)")
        text = client.get("/runs/gone-1/events", params={"follow": True}).text
        frames = sse.parse(text)
        assert frames[-1]["event"] == "run.finished"
        assert json.loads(frames[-1]["data"])["status"] == "interrupted"


def test_sweep_interval_and_lease_are_settings(home: Path) -> None:
    settings = Settings(home=str(home), sweep_interval=0.25, lease_seconds=2)
    env = settings.to_env()
    assert (env["CHAINLOOM_SERVER_SWEEP_INTERVAL"], env["CHAINLOOM_SERVER_LEASE_SECONDS"]) == ("0.25", "2")
    assert Settings.from_env(env).sweep_interval == 0.25
    with pytest.raises(ValueError, match="sweep_interval must be in"):
        Settings(home=str(home), sweep_interval=0)
