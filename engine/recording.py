"""Recording runs into the store off the run's path: one writer thread per process, in batches.

A run's handler (`RunRecording`) only appends each event to its own list; the
process's one `RunWriter` thread takes those lists every FLUSH_EVERY seconds (at
once when someone waits for them: a store reader, the server before it answers),
serialises them with orjson and writes them
with plain inserts, in one transaction per batch, on a connection it keeps open.
Nothing recorded is lost on a clean stop: the store's readers, `Store.close()` and
an atexit hook wait for the writer. A crash loses at most the last FLUSH_EVERY
seconds of events (those not yet handed to the database).
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import os
import queue
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

import orjson

from engine import lease
from engine.events import Event, RunFinished, RunStarted
from engine.home import default_home

if TYPE_CHECKING:
    from engine.flow import Flow
    from engine.store import Store

log = logging.getLogger("chainloom.store")

FLUSH_EVERY = 0.1  # seconds between rounds of batched writes
IDLE_ROUNDS = 50  # empty rounds (5 s) before the writer sleeps until a run is recorded
DATABASE_URL_ENV = "CHAINLOOM_DATABASE_URL"
DB_FILE = "chainloom.db"
BUSY_TIMEOUT_MS = 15_000
SQLITE_FILE = "sqlite:///"

EventRow = tuple[str, int, str, str | None, str]
RunRow = tuple[str, str, int | None, str, str, str, str, str, str, str | None, str, str]


def default_url(home: str | os.PathLike[str] | None = None) -> str:
    """$CHAINLOOM_DATABASE_URL, else SQLite in the data dir (`home`, else default_home())."""
    if home is None and os.environ.get(DATABASE_URL_ENV):
        return os.environ[DATABASE_URL_ENV]
    base = Path(home) if home is not None else default_home()
    return f"sqlite:///{(base.expanduser() / DB_FILE).resolve()}"


def sql_time(value: datetime) -> str:
    """A UTC time as SQLAlchemy stores DateTime in SQLite (so both paths read it back alike)."""
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def dumps(value: Any) -> str:
    """Compact JSON text; orjson, with json's `default=str` leniency for odd values."""
    try:
        return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))


Memo = dict[int, bytes]  # id(event) -> its JSON, made once per round for the trace file and the store


def event_json(event: Event, memo: Memo) -> bytes:
    """The event as JSON bytes (the trace line and the stored body), serialised once per round."""
    data = memo.get(id(event))
    if data is None:
        try:
            data = orjson.dumps(event, default=str, option=orjson.OPT_NON_STR_KEYS)
        except (TypeError, orjson.JSONEncodeError):
            data = json.dumps(event.to_dict(), ensure_ascii=False, default=str, separators=(",", ":")).encode()
        memo[id(event)] = data
    return data


def event_row(event: Event, memo: Memo) -> EventRow:
    return (event.run_id, event.seq, event.kind, getattr(event, "node", None), event_json(event, memo).decode())


# ------------------------------------------------------------------ sinks: where batches go
class Sink(Protocol):
    def write(self, runs: list[RunRow], events: list[EventRow], outcomes: list[dict[str, Any]]) -> None: ...
    def close(self) -> None: ...


class SqliteSink:
    """A SQLite file through the stdlib driver on one connection (no SQLAlchemy on the run path)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.conn: Any = None
        self.inode = 0

    def _connect(self) -> Any:
        import sqlite3  # noqa: PLC0415 - only the writer thread needs it

        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                               check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        tables = {r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name IN ('runs', 'events')")}
        if tables != {"runs", "events"}:  # a new database: the Store creates the schema
            from engine.store import Store  # noqa: PLC0415 - engine.store imports this module

            Store(SQLITE_FILE + self.path).close()
        self.inode = os.stat(self.path).st_ino
        return conn

    def _current(self) -> bool:
        """Still the file at `path` (not one deleted and made again since we opened it)?"""
        try:
            return os.stat(self.path).st_ino == self.inode
        except OSError:
            return False

    def write(self, runs: list[RunRow], events: list[EventRow], outcomes: list[dict[str, Any]]) -> None:
        if self.conn is not None and not self._current():
            self.close()
        if self.conn is None:
            self.conn = self._connect()
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            if runs:
                conn.executemany(
                    "INSERT INTO runs (id, flow_id, flow_version, status, started_at, inputs, outputs, "
                    "hint, usage, session_id, owner, lease_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    runs)
            if events:
                conn.executemany("INSERT INTO events (run_id, seq, kind, node, body) VALUES (?, ?, ?, ?, ?)",
                                 events)
            if outcomes:
                conn.executemany(
                    "UPDATE runs SET status = :status, finished_at = :finished_at, duration = :duration, "
                    "outputs = :outputs, error = :error, hint = :hint, failed_node = :failed_node, "
                    "usage = :usage, lease_until = NULL WHERE id = :id", outcomes)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class StoreSink:
    """Any other database (PostgreSQL, in-memory SQLite) through the Store's SQLAlchemy engine."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def write(self, runs: list[RunRow], events: list[EventRow], outcomes: list[dict[str, Any]]) -> None:
        from sqlalchemy import bindparam, insert, update  # noqa: PLC0415 - only the writer thread needs it

        from engine.store import events_table, runs_table  # noqa: PLC0415 - engine.store imports this module

        run_keys = ("id", "flow_id", "flow_version", "status", "started_at", "inputs", "outputs",
                    "hint", "usage", "session_id", "owner", "lease_until")
        with self.store.engine.begin() as conn:
            if runs:
                conn.execute(insert(runs_table), [_run_params(dict(zip(run_keys, r))) for r in runs])
            if events:
                keys = ("run_id", "seq", "kind", "node", "body")
                conn.execute(insert(events_table), [dict(zip(keys, e)) for e in events])
            if outcomes:
                stmt = (update(runs_table).where(runs_table.c.id == bindparam("run"))
                        .values({**{k: bindparam(k) for k in outcomes[0] if k != "id"}, "lease_until": None}))
                conn.execute(stmt, [{**_run_params(o), "run": o["id"]} for o in outcomes])

    def close(self) -> None:
        pass


def _run_params(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("started_at", "finished_at", "lease_until"):
        if isinstance(row.get(key), str):
            row[key] = datetime.strptime(row[key], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
    return row


class Signal:
    """A flag the writer raises once: threads `wait()` for it, coroutines `await until()`."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def set(self) -> None:
        with self._lock:
            if self._event.is_set():
                return
            self._event.set()
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            if not loop.is_closed():
                loop.call_soon_threadsafe(_resolve, future)

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        if not self._event.is_set():
            WRITER.wake()  # someone waits: write now rather than at the next round
        return self._event.wait(timeout)

    async def until(self, timeout: float | None = None) -> bool:
        """Wait without blocking the event loop; False if `timeout` passed first."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._event.is_set():
                return True
            future: asyncio.Future[None] = loop.create_future()
            self._waiters.append((loop, future))
        WRITER.wake()  # someone waits: write now rather than at the next round
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return False
        return True


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


# ------------------------------------------------------------------ the writer
class RunWriter:
    """The process's one thread that writes recorded runs, batch by batch, in order."""

    def __init__(self) -> None:
        self._wake: queue.SimpleQueue[threading.Event | None] = queue.SimpleQueue()
        self._live: dict[int, RunRecording | TraceRecording] = {}  # recordings with unwritten events
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._sinks: dict[str, Sink] = {}
        self._sleeping = False  # True while the thread waits with no round timer

    def attach(self, recording: RunRecording | TraceRecording) -> None:
        """`recording` has events to write: they go in the next round (at most FLUSH_EVERY away).

        The writer is not woken for each run: every wake-up takes the GIL from the runs for
        a moment, so it writes in rounds, or at once when someone waits (`wake`, `flush`).
        """
        with self._lock:
            self._live[id(recording)] = recording
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="chainloom-store", daemon=True)
                self._thread.start()
                atexit.register(self.flush)
            elif self._sleeping:
                self._sleeping = False
                self._wake.put(None)  # the writer went to sleep after a quiet spell

    def wake(self) -> None:
        """Write what is recorded now, not at the next round."""
        self._wake.put(None)

    def flush(self, timeout: float = 30.0) -> None:
        """Block until everything recorded so far (in any run) is in the database."""
        if not self._live or threading.current_thread() is self._thread:
            return  # a recording leaves _live only once all it holds is written
        done = threading.Event()
        self._wake.put(done)
        done.wait(timeout)

    def _loop(self) -> None:
        idle_rounds = 0
        while True:
            idle_rounds = 0 if self._live else idle_rounds + 1
            with self._lock:  # after IDLE_ROUNDS empty rounds, sleep until `attach` wakes us
                self._sleeping = idle_rounds > IDLE_ROUNDS and not self._live
            try:
                first = self._wake.get(timeout=None if self._sleeping else FLUSH_EVERY)
            except queue.Empty:
                first = None
            waiters = [first] if first is not None else []
            while True:  # take every wake-up already queued: one batch serves them all
                try:
                    extra = self._wake.get_nowait()
                except queue.Empty:
                    break
                if extra is not None:
                    waiters.append(extra)
            self._write_all()
            for waiter in waiters:
                waiter.set()

    def _write_all(self) -> None:
        with self._lock:
            live = list(self._live.values())
        memo: Memo = {}
        by_sink: dict[str, list[RunRecording]] = {}
        for rec in live:
            if isinstance(rec, TraceRecording):
                self._write_trace(rec, memo)
            else:
                by_sink.setdefault(rec.log.url, []).append(rec)
        for url, recs in by_sink.items():
            self._write(url, recs, memo)

    def _write_trace(self, trace: TraceRecording, memo: Memo) -> None:
        try:
            done = trace.write(memo)
        except OSError:
            log.exception("cannot write trace file %s", trace.path)
            done = True
        if done:
            with self._lock:
                self._live.pop(id(trace), None)

    def _write(self, url: str, recordings: list[RunRecording], memo: Memo) -> None:
        runs: list[RunRow] = []
        events: list[EventRow] = []
        outcomes: list[dict[str, Any]] = []
        done: list[RunRecording] = []
        for rec in recordings:
            if rec.take(runs, events, outcomes, memo):
                done.append(rec)
        try:
            sink = self._sinks.get(url) or recordings[0].log.sink()
            if isinstance(sink, SqliteSink):
                self._sinks[url] = sink  # keeps its connection; a StoreSink is just the Store
            sink.write(runs, events, outcomes)
        except Exception:  # a broken database must not take the writer down
            log.exception("cannot record %d run(s) in %s", len(recordings), url)
        finally:
            with self._lock:
                for rec in done:
                    self._live.pop(id(rec), None)
            for rec in recordings:
                rec.written.set()
            for rec in done:
                rec.complete.set()


WRITER = RunWriter()


def flush_recordings() -> None:
    """Block until every event recorded in this process so far is in its database."""
    WRITER.flush()


# ------------------------------------------------------------------ one run
class RunRecording:
    """The handler recording one run: appends events; the writer takes them in batches.

    `written` is set once the writer has committed the run row with run.started (and
    what followed it then); `complete` once it has committed the run's outcome.
    """

    def __init__(self, log_: RunLog, run_id: str, flow_id: str, flow_version: int | None) -> None:
        self.log = log_
        self.run_id = run_id
        self.flow_id = flow_id
        self.flow_version = flow_version
        self.written = Signal()
        self.complete = Signal()
        self._events: list[Event] = []
        self._start: RunRow | None = None
        self._finish: dict[str, Any] | None = None
        self._started = False
        self._sent_start = False

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            owner, lease_until = lease.heartbeat(self.log.url).claim(self.run_id)
            self._start = (self.run_id, self.flow_id, self.flow_version, "running",
                           sql_time(datetime.now(UTC)), dumps(event.inputs), "{}", "", "{}",
                           event.session_id, owner, sql_time(lease_until))
            self._started = True
            self._events.append(event)
            WRITER.attach(self)
            return
        if not self._started:
            return
        self._events.append(event)
        if isinstance(event, RunFinished):
            lease.heartbeat(self.log.url).release(self.run_id)
            self._finish = _outcome(self.run_id, event)
            WRITER.attach(self)

    def take(self, runs: list[RunRow], events: list[EventRow], outcomes: list[dict[str, Any]],
             memo: Memo) -> bool:
        """Move what is recorded so far into the batch (writer thread); True once the run is complete."""
        if self._start is not None and not self._sent_start:
            runs.append(self._start)
            self._sent_start = True
        count = len(self._events)  # the run's thread only appends, so the first `count` are settled
        if count:
            events.extend(event_row(e, memo) for e in self._events[:count])
            del self._events[:count]
        finish = self._finish
        if finish is not None and not self._events:
            outcomes.append(finish)
            return True
        return False


class TraceRecording:
    """The handler writing one run's trace file, one JSON object per line, through the writer.

    Like RunRecording it only appends events; the writer serialises them (once for the
    file and the store) and writes them in rounds, so tracing costs the run an append.
    `flush_recordings()` (or `engine.runner.wait_for_traces()`) waits for the disk.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._events: list[Event] = []
        self._attached = False
        self._finished = False
        self._file: IO[bytes] | None = None

    def __call__(self, event: Event) -> None:
        if self._finished:
            return
        self._events.append(event)
        if isinstance(event, RunFinished):
            self._finished = True
        if not self._attached:
            self._attached = True
            WRITER.attach(self)

    def write(self, memo: Memo) -> bool:
        """Write the lines recorded so far (writer thread); True once the file is complete."""
        finished = self._finished  # read first: then every event up to run.finished is in the list
        count = len(self._events)
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("wb")
        if count:
            self._file.write(b"".join(event_json(e, memo) + b"\n" for e in self._events[:count]))
            del self._events[:count]
        if finished and not self._events:
            self._file.close()
            return True
        self._file.flush()
        return False


def _outcome(run_id: str, event: RunFinished) -> dict[str, Any]:
    return {"id": run_id, "status": event.status, "finished_at": sql_time(datetime.now(UTC)),
            "duration": event.duration, "outputs": dumps(event.outputs), "error": event.error,
            "hint": event.hint or "", "failed_node": event.failed_node, "usage": dumps(event.usage)}


class RunLog:
    """Records runs into the database at `url` (engine.runner.RunRecorder), via the writer."""

    def __init__(self, url: str, store: Store | None = None) -> None:
        self.url = url
        self._store = store

    def recorder(self, run_id: str, flow: Flow, inputs: Mapping[str, Any],
                 flow_version: int | None = None) -> RunRecording:
        return RunRecording(self, run_id, flow.id, flow_version)

    def sink(self) -> Sink:
        """Where the writer sends this database's batches (made in the writer thread)."""
        path = self.url[len(SQLITE_FILE):] if self.url.startswith(SQLITE_FILE) else ""
        if path and path != ":memory:" and "?" not in path:
            return SqliteSink(path)
        if self._store is None:
            from engine.store import Store  # noqa: PLC0415 - engine.store imports this module

            self._store = Store(self.url)
        return StoreSink(self._store)


class StoreHandle:
    """The run store of a data dir, opened (SQLAlchemy, schema) only when something reads it.

    Recording a run needs no more than the writer, so `chainloom run` on a flow that
    never reads the store does not pay for opening it. Any other attribute is the
    Store's own (`engine.store.Store`), opened on first use.
    """

    def __init__(self, home: str | os.PathLike[str] | None = None) -> None:
        self.url = default_url(home)
        self._home = home
        self._log = RunLog(self.url)

    def recorder(self, run_id: str, flow: Flow, inputs: Mapping[str, Any],
                 flow_version: int | None = None) -> RunRecording:
        return self._log.recorder(run_id, flow, inputs, flow_version)

    def open(self) -> Store:
        from engine.store import open_store  # noqa: PLC0415 - engine.store imports this module

        return open_store(self._home)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.open(), name)
