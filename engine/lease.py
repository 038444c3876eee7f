"""Run ownership: every running run names the process that runs it and holds a lease.

A run row records its owner (host, process id, and a token that tells a reused pid
apart: the boot id and the process's start time) and `lease_until`, which one
heartbeat thread per process and database pushes forward while the process has
runs. A run whose owner is gone (its lease ran out, or its process no longer
exists on this host) is orphaned; `sweep()` settles each orphan as `interrupted`,
with a terminal event for every unfinished node and a `run.finished`, so anyone
following the run's events sees it end.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from engine.events import NodeCancelled, RunFinished

log = logging.getLogger("chainloom.lease")

LEASE_SECONDS_ENV = "CHAINLOOM_LEASE_SECONDS"
DEFAULT_LEASE_SECONDS = 30.0
OWNED_STATUSES = ("running", "waiting_approval")  # a process is (or should be) driving the run
TERMINAL_KINDS = frozenset({"node.finished", "node.skipped", "node.cancelled"})
INTERRUPTED_HINT = ("the process running it stopped (killed, crashed or restarted) before the run "
                    "ended; run the flow again")


_configured: float | None = None


def configure(seconds: float | None) -> None:
    """Set this process's lease length (a server setting); None: back to the environment."""
    global _configured
    _configured = seconds if seconds else None


def lease_seconds() -> float:
    """How long a claim holds without a heartbeat: `configure()`d, else $CHAINLOOM_LEASE_SECONDS,
    else 30 seconds. The heartbeat renews it every third of that."""
    if _configured is not None:
        return _configured
    raw = os.environ.get(LEASE_SECONDS_ENV, "")
    try:
        value = float(raw) if raw else DEFAULT_LEASE_SECONDS
    except ValueError:
        log.warning("%s=%r is not a number; using %s", LEASE_SECONDS_ENV, raw, DEFAULT_LEASE_SECONDS)
        return DEFAULT_LEASE_SECONDS
    return value if value > 0 else DEFAULT_LEASE_SECONDS


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


# ------------------------------------------------------------ owners
@functools.cache
def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:36]
    except OSError:
        return "-"


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), None if it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


@dataclass(frozen=True, slots=True)
class Owner:
    """The process that runs a run: `host/pid/boot-id/start-time` in the run row."""

    host: str
    pid: int
    boot: str
    start: str

    def __str__(self) -> str:
        return f"{self.host}/{self.pid}/{self.boot}/{self.start}"

    @classmethod
    def parse(cls, text: str | None) -> Owner | None:
        parts = (text or "").rsplit("/", 3)
        if len(parts) != 4 or not parts[1].isdigit():
            return None
        return cls(parts[0], int(parts[1]), parts[2], parts[3])

    def gone(self) -> bool:
        """True only when this process certainly no longer exists (same host and boot)."""
        if self.host != socket.gethostname() or self.boot != _boot_id() or self.boot == "-":
            return False  # another machine (or no /proc): only its lease can tell
        return _start_time(self.pid) != self.start


def this_process() -> Owner:
    pid = os.getpid()
    return Owner(socket.gethostname(), pid, _boot_id(), _start_time(pid) or "-")


def orphaned(owner: str | None, lease_until: datetime | None, now: datetime | None = None) -> bool:
    """Whether nobody is driving a run with this owner and lease any more."""
    parsed = Owner.parse(owner)
    if parsed is not None and parsed.gone():
        return True
    if parsed is not None and parsed == this_process():
        return False  # this process: its own heartbeat keeps the lease
    until = _utc(lease_until)
    return until is None or until < (now or _now())


# ------------------------------------------------------------ heartbeat
class Heartbeat:
    """One thread per process and database renewing the lease of every run this process owns."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine | None = None  # its own, made in the heartbeat thread on first use
        self.runs: set[str] = set()
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None

    def claim(self, run_id: str) -> tuple[str, datetime]:
        """The owner and lease of a new run row; the lease is kept alive until `release`."""
        with self.lock:
            self.runs.add(run_id)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._loop, name="chainloom-lease", daemon=True)
                self.thread.start()
        return str(this_process()), _now() + timedelta(seconds=lease_seconds())

    def release(self, run_id: str) -> None:
        with self.lock:
            self.runs.discard(run_id)

    def _loop(self) -> None:
        while True:
            self.wake.wait(lease_seconds() / 3)
            with self.lock:
                if not self.runs:
                    self.thread = None
                    return
                runs = list(self.runs)
            try:
                self.renew(runs)
            except DBAPIError:
                log.exception("cannot renew the lease of %d run(s)", len(runs))

    def renew(self, runs: list[str]) -> None:
        from engine.store import make_engine  # noqa: PLC0415 - it imports this module
        from engine.store import runs_table as t  # noqa: PLC0415
        if _in_memory(self.url):
            return  # only this process can see such a database: nobody else would sweep it
        if self.engine is None:
            self.engine = make_engine(self.url)
        until = _now() + timedelta(seconds=lease_seconds())
        with self.engine.begin() as conn:
            conn.execute(update(t).where(t.c.id.in_(runs), t.c.owner == str(this_process()),
                                         t.c.status.in_(OWNED_STATUSES)).values(lease_until=until))


def _in_memory(url: str) -> bool:
    return url.startswith("sqlite") and url.split("?", 1)[0] in ("sqlite://", "sqlite:///:memory:")


_BEATS: dict[str, Heartbeat] = {}
_BEATS_LOCK = threading.Lock()


def heartbeat(url: str) -> Heartbeat:
    """The heartbeat of this process for the database at `url`."""
    with _BEATS_LOCK:
        beat = _BEATS.get(url)
        if beat is None:
            beat = _BEATS[url] = Heartbeat(url)
        return beat


# ------------------------------------------------------------ sweeping orphans
def sweep(engine: Engine, now: datetime | None = None) -> list[str]:
    """Settle every orphaned running run as `interrupted`; return their ids."""
    from engine.store import runs_table as t  # noqa: PLC0415

    now = now or _now()
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.id, t.c.owner, t.c.lease_until)
                            .where(t.c.status == "running")).all()
    return [row.id for row in rows
            if orphaned(row.owner, row.lease_until, now) and interrupt(engine, row.id, now=now)]


def interrupt(engine: Engine, run_id: str, *, now: datetime | None = None,
              reason: str = "its process stopped", hint: str = INTERRUPTED_HINT) -> bool:
    """End a running (or waiting) run as `interrupted` with terminal events; False if it had ended."""
    from engine.store import runs_table as t  # noqa: PLC0415

    now = now or _now()
    message = f"run was interrupted: {reason}"
    try:
        with engine.begin() as conn:
            started = _utc(conn.execute(select(t.c.started_at).where(t.c.id == run_id))
                           .scalar_one_or_none())
            duration = (now - started).total_seconds() if started is not None else 0.0
            moved = conn.execute(update(t).where(t.c.id == run_id, t.c.status.in_(OWNED_STATUSES))
                                 .values(status="interrupted", finished_at=now, duration=duration,
                                         error=message, hint=hint, lease_until=None)).rowcount
            if moved != 1:
                return False
            _closing_events(conn, run_id, message, duration, hint)
    except IntegrityError:
        return False  # the owner wrote an event meanwhile: it is alive after all
    return True


def _closing_events(conn: Connection, run_id: str, message: str, duration: float, hint: str) -> None:
    """A node.cancelled for every node without a terminal event, then run.finished."""
    from engine.store import events_table as e  # noqa: PLC0415

    seq = conn.execute(select(func.max(e.c.seq)).where(e.c.run_id == run_id)).scalar() or 0
    rows = conn.execute(select(e.c.kind, e.c.node, e.c.body).where(e.c.run_id == run_id)
                        .order_by(e.c.seq)).all()
    nodes, types, done, running = _node_states(rows)
    events: list[Any] = []
    for node in nodes:
        if node in done:
            continue
        why = message if node in running else "not started: " + message
        events.append(NodeCancelled(run_id=run_id, node=node, type=types.get(node, ""), reason=why))
    events.append(RunFinished(run_id=run_id, status="interrupted", error=message,
                              hint=hint, duration=round(duration, 6)))
    for event in events:
        seq += 1
        event.seq = seq
        event.t = round(duration, 6)
    conn.execute(insert(e), [{"run_id": run_id, "seq": ev.seq, "kind": ev.kind,
                              "node": getattr(ev, "node", None),
                              "body": json.dumps(ev.to_dict(), ensure_ascii=False, default=str)}
                             for ev in events])


def _node_states(rows: Any) -> tuple[list[str], dict[str, str], set[str], set[str]]:
    """(nodes in plan order, node types, nodes that ended, nodes that started) from event rows."""
    nodes: list[str] = []
    types: dict[str, str] = {}
    done: set[str] = set()
    running: set[str] = set()
    for row in rows:
        body = json.loads(row.body)
        if row.kind == "run.started":
            nodes = [str(n) for n in body.get("nodes", [])]
        elif row.node is not None:
            types[row.node] = str(body.get("type", types.get(row.node, "")))
            if row.kind == "node.started":
                running.add(row.node)
            elif row.kind in TERMINAL_KINDS or (row.kind == "node.failed" and not body.get("will_retry")):
                done.add(row.node)
    return nodes, types, done, running
