"""Runs never stay "running": owners, heartbeat leases, and the sweep that ends orphaned runs.

The main case is real: a child process starts a long run and is killed with
SIGKILL mid-run; the sweep then ends the run as `interrupted`, with a terminal
event for every unfinished node, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select, update

from engine import lease
from engine.flow import atomic_write, remove_stale_temps
from engine.recording import flush_recordings
from engine.runner import Runner
from engine.store import Store, events_table, runs_table
from tests.engine.test_store import CHAIN, make_flow
from tests.engine.toy import Toys

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = Store(database_url)
    yield s
    s.close()


def killed_mid_run(url: str, run_id: str) -> None:
    """Start a long run in a child process and SIGKILL it once its slow node is running."""
    child = subprocess.Popen([sys.executable, "-m", "tests.engine.orphan_child", url, run_id],
                             cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "started"
        time.sleep(0.4)  # let a batch of token events reach the store
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)


def kinds(store: Store, run_id: str) -> list[tuple[str, str | None]]:
    return [(e["kind"], e.get("node")) for e in store.run_events(run_id)
            if e["kind"] not in ("node.token", "node.step")]


def test_a_run_whose_process_was_killed_ends_interrupted_with_terminal_events(store: Store) -> None:
    killed_mid_run(store.url, "orphan-1")
    record = store.get_run("orphan-1")
    assert record.status == "running"
    assert lease.Owner.parse(store_owner(store, "orphan-1")).gone()  # type: ignore[union-attr]

    assert store.sweep_orphans() == ["orphan-1"]
    record = store.get_run("orphan-1")
    assert record.status == "interrupted"
    assert record.error == "run was interrupted: its process stopped"
    assert record.hint == lease.INTERRUPTED_HINT
    assert record.finished_at is not None
    assert kinds(store, "orphan-1") == [
        ("run.started", None), ("node.started", "question"), ("node.finished", "question"),
        ("node.started", "mid"), ("node.cancelled", "mid"), ("node.cancelled", "answer"),
        ("run.finished", None)]
    events = store.run_events("orphan-1")
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    cancelled = [e for e in events if e["kind"] == "node.cancelled"]
    assert [(e["type"], e["reason"]) for e in cancelled] == [
        ("test.slow", "run was interrupted: its process stopped"),
        ("", "not started: run was interrupted: its process stopped")]  # type unknown: never started
    assert events[-1]["status"] == "interrupted"
    assert store.sweep_orphans() == []  # settled once


def store_owner(store: Store, run_id: str) -> str | None:
    with store.engine.connect() as conn:
        return conn.execute(select(runs_table.c.owner).where(runs_table.c.id == run_id)).scalar()


def add_running(store: Store, run_id: str, owner: str | None, lease_until: datetime | None) -> None:
    with store.engine.begin() as conn:
        conn.execute(insert(runs_table).values(
            id=run_id, flow_id="chain", status="running", started_at=datetime.now(UTC), inputs="{}",
            outputs="{}", hint="", usage="{}", owner=owner, lease_until=lease_until))
        conn.execute(insert(events_table).values(
            run_id=run_id, seq=1, kind="run.started", node=None,
            body='{"kind": "run.started", "nodes": ["a"]}'))


def test_only_runs_whose_owner_is_gone_are_swept(store: Store) -> None:
    now = datetime.now(UTC)
    me = str(lease.this_process())
    elsewhere = f"{socket.gethostname()}-other/4242/boot/123"
    add_running(store, "mine-expired", me, now - timedelta(minutes=5))      # alive: never swept
    add_running(store, "remote-live", elsewhere, now + timedelta(minutes=5))  # lease holds
    add_running(store, "remote-expired", elsewhere, now - timedelta(seconds=1))
    add_running(store, "no-owner", None, None)                                # from older code
    assert sorted(store.sweep_orphans()) == ["no-owner", "remote-expired"]
    statuses = {r.id: r.status for r in store.list_runs()}
    assert statuses == {"mine-expired": "running", "remote-live": "running",
                        "remote-expired": "interrupted", "no-owner": "interrupted"}
    assert kinds(store, "remote-expired") == [("run.started", None), ("node.cancelled", "a"),
                                              ("run.finished", None)]


def test_a_reused_pid_does_not_count_as_the_owner() -> None:
    me = lease.this_process()
    impostor = lease.Owner(me.host, me.pid, me.boot, str(int(me.start) + 1))
    assert not me.gone()
    assert impostor.gone()
    assert not lease.Owner("another-host", me.pid, me.boot, "1").gone()  # only its lease can tell


def test_the_heartbeat_keeps_a_running_runs_lease_ahead(store: Store) -> None:
    lease.configure(0.3)
    try:
        beat = lease.heartbeat(store.url)
        add_running(store, "beating", None, None)
        owner, first = beat.claim("beating")
        with store.engine.begin() as conn:
            conn.execute(update(runs_table).where(runs_table.c.id == "beating")
                         .values(owner=owner, lease_until=first))
        deadline = time.monotonic() + 20
        renewed = first
        while renewed <= first + timedelta(seconds=0.05) and time.monotonic() < deadline:
            time.sleep(0.1)
            with store.engine.connect() as conn:
                value = conn.execute(select(runs_table.c.lease_until)
                                     .where(runs_table.c.id == "beating")).scalar_one()
            renewed = value if value.tzinfo else value.replace(tzinfo=UTC)
        assert renewed > first + timedelta(seconds=0.05)
        beat.release("beating")
    finally:
        lease.configure(None)


def test_a_finished_run_holds_no_lease(store: Store) -> None:
    result = Runner(Toys().registry, store=store).run(make_flow(), {"q": "x"})
    flush_recordings()
    with store.engine.connect() as conn:
        row = conn.execute(select(runs_table.c.owner, runs_table.c.lease_until)
                           .where(runs_table.c.id == result.run_id)).one()
    assert row.owner == str(lease.this_process())
    assert row.lease_until is None
    assert store.sweep_orphans() == []
    assert store.get_run(result.run_id).status == "succeeded"


def test_chainloom_runs_shows_a_killed_run_as_interrupted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from chainloom.cli import main

    home = tmp_path / "home"
    monkeypatch.setenv("CHAINLOOM_HOME", str(home))
    monkeypatch.delenv("CHAINLOOM_DATABASE_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    killed_mid_run(f"sqlite:///{home / 'chainloom.db'}", "cli-orphan")
    assert main(["runs"]) == 0
    out = capsys.readouterr().out
    assert "interrupted" in out and "running" not in out
    assert main(["runs", "show", "cli-orphan"]) == 0
    captured = capsys.readouterr()
    assert "⊘ mid cancelled" in captured.out
    assert "run was interrupted: its process stopped" in captured.err


# ------------------------------------------------------------ temp files of killed saves
def test_temp_files_of_killed_saves_are_removed_by_the_next_save(tmp_path: Path) -> None:
    target = tmp_path / "flow.json"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    left = tmp_path / f".flow.json.{dead}.abc123.tmp"       # a save killed mid-write
    left.write_text("{half")
    mine = tmp_path / f".flow.json.{os.getpid()}.xyz.tmp"    # a save of this process, in progress
    mine.write_text("{")
    other = tmp_path / ".other.json.1.abc.tmp"               # another file's temp: not ours
    other.write_text("{")
    atomic_write(target, "{}\n")
    assert target.read_text() == "{}\n"
    assert not left.exists()
    assert mine.exists() and other.exists()
    assert remove_stale_temps(target) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [".flow.json." + str(os.getpid()) + ".xyz.tmp", ".other.json.1.abc.tmp", "flow.json"])


def test_a_killed_flow_export_leaves_no_temp_file_after_the_next(tmp_path: Path) -> None:
    script = ("import os, sys, engine.flow as f\n"
              "real = os.replace\n"
              "def stop(*a, **k):\n"
              "    os.kill(os.getpid(), 9)\n"
              "f.os.replace = stop\n"
              "f.atomic_write(sys.argv[1], 'x' * 100)\n")
    target = tmp_path / "exported.json"
    subprocess.run([sys.executable, "-c", script, str(target)], cwd=ROOT,
                   env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    assert [p.name.endswith(".tmp") for p in tmp_path.iterdir()] == [True]
    atomic_write(target, "{}\n")
    assert [p.name for p in tmp_path.iterdir()] == ["exported.json"]
    assert CHAIN["id"] == "chain"
