"""Timeouts stop the work itself: a SQL query is interrupted, and the CLI process exits.

A query that would run forever (an unbounded recursive CTE) is stopped by the node's own
`timeout`, by the node's policy.timeout and by the run's --timeout; afterwards no node
call is left running and the `chainloom` process has exited. The tests assert that
the exit happened (a generous subprocess timeout), never how fast.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import chainloom
from engine.flow import parse_flow
from engine.node_run import blocking_work_in_flight

ROOT = Path(__file__).resolve().parents[1]
FOREVER = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) AS n FROM c"


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    conn = sqlite3.connect(tmp_path / "data.db")
    conn.execute("CREATE TABLE t (x INTEGER)")
    conn.commit()
    conn.close()
    monkeypatch.setenv("CHAINLOOM_FILES_ROOT", str(tmp_path))
    monkeypatch.setenv("CHAINLOOM_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CHAINLOOM_DATABASE_URL", raising=False)
    return tmp_path


def sql_flow(timeout: float, policy: dict[str, Any] | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {"id": "query", "type": "loader.sql",
                            "config": {"url": "sqlite:///data.db", "query": FOREVER, "timeout": timeout}}
    if policy:
        node["policy"] = policy
    return {"schema_version": 1, "id": "forever", "nodes": [
        node, {"id": "answer", "type": "output.json", "config": {"name": "answer"}}],
        "edges": [{"from": "query.documents", "to": "answer.value"}]}


def chainloom_process(root: Path, flow: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    path = root / "flow.json"
    path.write_text(json.dumps(flow), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "chainloom", "run", str(path), "--json", *args],
                          capture_output=True, text=True, cwd=root, env=env, timeout=300)


def no_work_left() -> bool:
    """Polls until no node call is running (up to a minute): the query really ended."""
    deadline = time.monotonic() + 60
    while blocking_work_in_flight() and time.monotonic() < deadline:
        time.sleep(0.05)
    return blocking_work_in_flight() == 0


def test_loader_sql_honours_its_own_timeout(root: Path) -> None:
    proc = chainloom_process(root, sql_flow(0.5))
    body = json.loads(proc.stdout)
    assert (proc.returncode, body["status"], body["failed_node"]) == (1, "failed", "query")
    assert "the query ran longer than 0.5s and was stopped" in body["error"]


def test_a_run_timeout_interrupts_the_query_and_the_cli_exits(root: Path) -> None:
    proc = chainloom_process(root, sql_flow(600), "--timeout", "1")
    body = json.loads(proc.stdout)
    assert (proc.returncode, body["status"]) == (1, "timeout")
    assert "could not be interrupted" not in proc.stderr  # interrupted, not abandoned


def test_a_node_timeout_interrupts_the_query_in_process(root: Path) -> None:
    result = chainloom.run(parse_flow(sql_flow(600, {"timeout": 1})))
    assert result.status == "failed"
    assert result.error is not None and "took longer than its 1.0s limit" in result.error.message
    assert no_work_left()


def test_a_run_timeout_interrupts_the_query_in_process(root: Path) -> None:
    result = chainloom.run(parse_flow(sql_flow(600)), timeout=1)
    assert result.status == "timeout"
    assert no_work_left()
