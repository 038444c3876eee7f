"""Fixtures: an app on a fresh data dir with a key, TestClients, flows, and live uvicorn servers."""

from __future__ import annotations

import copy
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from server.app import connect_store, create_app
from server.keys import create_key
from server.settings import Settings
from server.tables import create_tables
from tests.databases import BACKENDS, database
from tests.server.nodes import registry

ROOT = Path(__file__).resolve().parents[2]

CHAIN: dict[str, Any] = {
    "schema_version": 1, "id": "chain", "name": "Five-node chain",
    "nodes": [
        {"id": "question", "type": "input.text", "config": {"name": "question"}},
        {"id": "prompt", "type": "prompt.template",
         "config": {"template": "Flows are JSON files. Runs are traced.\nQuestion: {question}"}},
        {"id": "llm", "type": "llm.chat", "config": {"provider": "offline"}},
        {"id": "clean", "type": "transform.text", "config": {"steps": [{"op": "strip"}]}},
        {"id": "answer", "type": "output.text", "config": {"name": "answer"}},
    ],
    "edges": [
        {"from": "question.text", "to": "prompt.question"},
        {"from": "prompt.prompt", "to": "llm.prompt"},
        {"from": "llm.text", "to": "clean.text"},
        {"from": "clean.text", "to": "answer.value"},
    ],
}


def chain(flow_id: str = "chain", **changes: Any) -> dict[str, Any]:
    """A copy of the five-node offline chain, with top-level fields changed."""
    flow = copy.deepcopy(CHAIN)
    flow.update(id=flow_id, **changes)
    return flow


def hello() -> dict[str, Any]:
    return json.loads((ROOT / "flows" / "hello.json").read_text(encoding="utf-8"))


def chat_flow(flow_id: str = "chat") -> dict[str, Any]:
    """A chat flow with buffer memory: the offline model answers from the session's history."""
    nodes = {"chat": ("input.chat", {"name": "message"}), "mem": ("memory.buffer", {}),
             "load": ("memory.load", {}),
             "prompt": ("prompt.template", {"template": "{history}\n\nUser: {message}\nAnswer the user."}),
             "llm": ("llm.chat", {"provider": "offline"}), "save": ("memory.save", {}),
             "out": ("output.chat", {"name": "reply"})}
    edges = [("mem.memory", "load.memory"), ("chat.message", "load.message"), ("load.history", "prompt.history"),
             ("chat.message", "prompt.message"), ("prompt.prompt", "llm.prompt"), ("mem.memory", "save.memory"),
             ("chat.message", "save.message"), ("llm.text", "save.reply"), ("save.reply", "out.message")]
    return {"schema_version": 1, "id": flow_id,
            "nodes": [{"id": nid, "type": kind, "config": cfg} for nid, (kind, cfg) in nodes.items()],
            "edges": [{"from": a, "to": b} for a, b in edges]}


def piped(flow_id: str, middle: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """input.text -> one node of the given type and config -> output.text."""
    kind, config = middle
    return {"schema_version": 1, "id": flow_id, "nodes": [
        {"id": "question", "type": "input.text", "config": {"name": "question"}},
        {"id": "mid", "type": kind, "config": config},
        {"id": "answer", "type": "output.text", "config": {"name": "answer"}},
    ], "edges": [{"from": "question.text", "to": "mid.text"}, {"from": "mid.text", "to": "answer.value"}]}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=str(tmp_path / "home"), cancel_poll=0.05)


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings, registry=registry())


@pytest.fixture
def key(app: FastAPI) -> str:
    return create_key(app.state.chainloom.store.engine, "tests")[1]


@pytest.fixture
def client(app: FastAPI, key: str) -> Iterator[TestClient]:
    with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as c:
        yield c


@pytest.fixture
def anon(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def save(client: TestClient, flow: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/flows", json={"flow": flow})
    assert r.status_code == 201, r.text
    return r.json()


# ------------------------------------------------------------ live servers
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """uvicorn in a child process on 127.0.0.1, serving the test app over one database."""

    def __init__(self, home: Path, workers: int = 1, **settings: Any) -> None:
        self.settings = Settings(home=str(home), **{"cancel_poll": 0.05, **settings})
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def prepare(self) -> str:
        """Create the tables (before the workers, as `chainloom serve` does) and a key."""
        store = connect_store(self.settings.url)
        try:
            create_tables(store.engine)
            return create_key(store.engine, "live")[1]
        finally:
            store.close()

    def start(self) -> LiveServer:
        env = {**os.environ, **self.settings.to_env(), "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "tests.server.liveapp:create", "--factory",
             "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers),
             "--log-level", "warning"], cwd=ROOT, env=env, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {self.proc.returncode}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("uvicorn did not answer /health within 60 s")

    def kill(self) -> None:
        """SIGKILL uvicorn and its workers at once: no shutdown, no cleanup (a crash)."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=15)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)  # the group this Popen started: uvicorn and its workers
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)


@pytest.fixture(scope="module", params=BACKENDS)
def live_database(request: pytest.FixtureRequest,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One database for a module's live servers: SQLite, then PostgreSQL."""
    with database(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, live_database: str) -> Iterator[tuple[LiveServer, str]]:
    """Two uvicorn workers over one database (SQLite, then PostgreSQL), and a key for them."""
    server = LiveServer(tmp_path_factory.mktemp("live"), workers=2, database_url=live_database)
    key = server.prepare()
    server.start()
    try:
        yield server, key
    finally:
        server.stop()
