"""Against real uvicorn processes on 127.0.0.1: SSE as clients read it, races, cancel across processes."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from server import sse
from tests.server.conftest import LiveServer, chain, chat_flow, hello, piped


def _client(server: LiveServer, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def _save(http: httpx.Client, flow: dict[str, Any]) -> None:
    r = http.post("/flows", json={"flow": flow})
    assert r.status_code in (201, 409), r.text


def _frames(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """SSE frames, each yielded as soon as its blank line arrives."""
    block: list[str] = []
    for line in lines:
        if line:
            block.append(line)
            continue
        if block:
            yield from sse.parse("\n".join(block) + "\n\n")
            block = []


def _wait_status(http: httpx.Client, run_id: str, want: str) -> str:
    status = ""
    for _ in range(400):
        status = http.get(f"/runs/{run_id}").json()["status"]
        if status == want:
            break
        time.sleep(0.05)
    return status


def test_sse_arrives_while_the_run_is_still_running(live: tuple[LiveServer, str]) -> None:
    server, key = live
    with _client(server, key) as http:
        _save(http, piped("slow1", ("test.slow", {"seconds": 1.0, "step": 0.05})))
        with http.stream("POST", "/flows/slow1/run", json={"inputs": {"question": "q"}, "stream": True}) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            run_id = r.headers["x-run-id"]
            kinds: list[str] = []
            status_at_first_token = None
            for frame in _frames(r.iter_lines()):
                event = json.loads(frame["data"])
                assert (frame["event"], int(frame["id"])) == (event["kind"], event["seq"])
                kinds.append(event["kind"])
                if event["kind"] == "node.token" and status_at_first_token is None:
                    status_at_first_token = http.get(f"/runs/{run_id}").json()["status"]
        assert status_at_first_token == "running"
        assert kinds[:4] == ["run.started", "node.started", "node.finished", "node.started"]
        assert kinds[-4:] == ["node.finished", "node.started", "node.finished", "run.finished"]
        assert kinds.count("node.token") == 20
        assert http.get(f"/runs/{run_id}").json()["status"] == "succeeded"


def test_two_concurrent_updates_one_wins_one_gets_409(live: tuple[LiveServer, str]) -> None:
    server, key = live
    with _client(server, key) as http:
        _save(http, chain("raced"))
    base = 1
    for round_no in range(5):
        barrier = threading.Barrier(2)
        codes: dict[str, int] = {}

        def put(name: str, base_version: int = base, barrier: threading.Barrier = barrier,
                codes: dict[str, int] = codes) -> None:
            with _client(server, key) as own:  # own connection: the two may land on different workers
                barrier.wait()
                r = own.put("/flows/raced", json={"flow": chain("raced", name=name), "base_version": base_version})
                codes[name] = r.status_code

        threads = [threading.Thread(target=put, args=(f"r{round_no}-{side}",)) for side in "ab"]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert sorted(codes.values()) == [200, 409], codes
        winner = next(n for n, c in codes.items() if c == 200)
        base += 1
        with _client(server, key) as http:
            got = http.get("/flows/raced").json()
            assert (got["version"], got["name"]) == (base, winner)
    with _client(server, key) as http:
        assert [v["version"] for v in http.get("/flows/raced/versions").json()] == [1, 2, 3, 4, 5, 6]


def test_client_going_away_cancels_its_run(live: tuple[LiveServer, str]) -> None:
    server, key = live
    with _client(server, key) as http:
        _save(http, piped("slow30", ("test.slow", {"seconds": 30})))
        with http.stream("POST", "/flows/slow30/run", json={"inputs": {"question": "q"}, "stream": True}) as r:
            run_id = r.headers["x-run-id"]
            for frame in _frames(r.iter_lines()):
                if frame["event"] == "node.token":
                    break
        assert _wait_status(http, run_id, "cancelled") == "cancelled"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory,
         live_database: str) -> Iterator[tuple[LiveServer, LiveServer, str]]:
    """Two separate uvicorn processes (one worker each) over one database."""
    home = tmp_path_factory.mktemp("pair")
    first, second = LiveServer(home, database_url=live_database), LiveServer(home, database_url=live_database)
    key = first.prepare()
    first.start()
    try:
        second.start()
        yield first, second, key
    finally:
        second.stop()
        first.stop()


def test_cancel_sent_to_another_process_stops_the_run(pair: tuple[LiveServer, LiveServer, str]) -> None:
    runner, other, key = pair
    with _client(runner, key) as a, _client(other, key) as b:
        _save(a, piped("slow30", ("test.slow", {"seconds": 30})))
        with a.stream("POST", "/flows/slow30/run", json={"inputs": {"question": "q"}, "stream": True}) as r:
            run_id = r.headers["x-run-id"]
            last: dict[str, Any] = {}
            tokens = 0
            for frame in _frames(r.iter_lines()):
                last = json.loads(frame["data"])
                tokens += frame["event"] == "node.token"
                if frame["event"] == "node.token" and tokens == 1:
                    c = b.post(f"/runs/{run_id}/cancel")
                    assert (c.status_code, c.json()) == (202, {"run_id": run_id, "status": "cancelling"})
        assert (last["kind"], last["status"], last["error"]) == ("run.finished", "cancelled", "run was cancelled")
        assert b.get(f"/runs/{run_id}").json()["status"] == "cancelled"
        followed = b.get(f"/runs/{run_id}/events", headers={"Accept": "text/event-stream"}).text
        assert [f["event"] for f in sse.parse(followed)][-1] == "run.finished"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_readme_curl_example_streams(live: tuple[LiveServer, str]) -> None:
    server, key = live
    with _client(server, key) as http:
        r = http.post("/flows/import", json=hello())
        assert r.status_code in (201, 409)
    command = ["curl", "-sS", "-N", "-X", "POST", f"{server.url}/flows/hello/run",
               "-H", f"Authorization: Bearer {key}", "-H", "Content-Type: application/json",
               "-H", "Accept: text/event-stream",
               "-d", '{"inputs": {"question": "Where do secrets live?"}}']
    out = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True).stdout
    frames = sse.parse(out)
    assert frames[0]["event"] == "run.started" and frames[-1]["event"] == "run.finished"
    finished = json.loads(frames[-1]["data"])
    assert finished["outputs"]["answer"] == ("Secrets never live in a flow: a flow names the environment "
                                             "variable that holds a key.")


def test_live_server_refuses_without_key(live: tuple[LiveServer, str]) -> None:
    server, _ = live
    r = httpx.get(server.url + "/flows")
    assert r.status_code == 401
    assert httpx.get(server.url + "/docs").status_code == 200


def test_follow_a_run_live_from_another_process(pair: tuple[LiveServer, LiveServer, str]) -> None:
    runner, other, key = pair
    with _client(runner, key) as a, _client(other, key) as b:
        _save(a, piped("slow1", ("test.slow", {"seconds": 1.0, "step": 0.05})))
        with a.stream("POST", "/flows/slow1/run", json={"inputs": {"question": "q"}, "stream": True}) as r:
            run_id = r.headers["x-run-id"]
            followed = b.get(f"/runs/{run_id}/events", params={"follow": True}).text  # blocks until the end
            direct = [json.loads(f["data"]) for f in _frames(r.iter_lines())]
        events = [json.loads(f["data"]) for f in sse.parse(followed)]
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        assert events[-1]["kind"] == "run.finished" and events[-1]["status"] == "succeeded"
        assert sum(e["kind"] == "node.token" for e in events) == 20
        assert events[len(events) - len(direct):] == direct


def test_memory_of_a_session_is_shared_by_every_worker(live: tuple[LiveServer, str]) -> None:
    server, key = live
    with _client(server, key) as http:
        _save(http, chat_flow("livechat"))
        greeting = {"message": "Hi, my name is Ada and I live in Lisbon."}
        first = http.post("/flows/livechat/run", json={"inputs": greeting, "session_id": "live-ada"}).json()
        assert first["status"] == "succeeded"
    for _ in range(4):  # fresh connections, so the two workers both get asked
        with _client(server, key) as http:
            out = http.post("/flows/livechat/run", json={"inputs": {"message": "Where do I live?"},
                                                         "session_id": "live-ada"}).json()
            assert "I live in Lisbon." in out["outputs"]["reply"]["content"]
