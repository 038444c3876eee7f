"""The store: saved flows with version history, and every run with its events, in SQL.

`open_store()` opens SQLite at `$CHAINLOOM_HOME/chainloom.db` (WAL, busy timeout,
foreign keys), or the SQLAlchemy URL in `$CHAINLOOM_DATABASE_URL`. Saves are
optimistic: each names the version it was based on, and a stale one raises
StaleVersion and writes nothing (check and insert share one transaction).
`recorder()` is the Runner's handler: it records a run as it happens. Drafts are a
plain key/value table (`put_draft`, `get_draft`, `delete_draft`) for callers that
keep unsaved work; the store gives their keys and bodies no meaning.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, overload

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, NoSuchModuleError, OperationalError
from sqlalchemy.pool import StaticPool

from engine.errors import FlowExists, NotFound, StaleVersion, StoreUnavailable
from engine.flow import Flow, dumps_flow, parse_flow
from engine.recording import (
    BUSY_TIMEOUT_MS,
    DATABASE_URL_ENV,
    DB_FILE,
    RunLog,
    RunRecording,
    default_url,
    flush_recordings,
)

__all__ = ["DATABASE_URL_ENV", "DB_FILE", "FlowExists", "FlowRecord", "FlowVersion", "RunRecord", "Store",
           "default_url", "make_engine", "open_store"]

metadata = MetaData()

flows_table = Table(
    "flows", metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False, default=""),
    Column("latest_version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

flow_versions_table = Table(
    "flow_versions", metadata,
    Column("flow_id", String(64), ForeignKey("flows.id", ondelete="CASCADE"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("message", Text, nullable=False, default=""),
)

runs_table = Table(
    "runs", metadata,
    Column("id", String(100), primary_key=True),
    Column("flow_id", String(64), nullable=False, index=True),
    Column("flow_version", Integer, nullable=True),
    Column("status", String(16), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False, index=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("duration", Float, nullable=True),
    Column("inputs", Text, nullable=False, default="{}"),
    Column("outputs", Text, nullable=False, default="{}"),
    Column("error", Text, nullable=True),
    Column("hint", Text, nullable=False, default=""),
    Column("failed_node", String(64), nullable=True),
    Column("usage", Text, nullable=False, default="{}"),
    Column("session_id", String(200), nullable=True, index=True),
    # Who runs it (engine.lease.Owner) and until when that claim holds without a heartbeat.
    Column("owner", String(255), nullable=True),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    Index("ix_runs_status", "status"),
)

events_table = Table(
    "events", metadata,
    Column("run_id", String(100), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("node", String(64), nullable=True),
    Column("body", Text, nullable=False),
)

drafts_table = Table(
    "drafts", metadata,
    Column("key", String(300), primary_key=True),
    Column("body", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

approvals_table = Table(
    "approvals", metadata,
    Column("id", String(64), primary_key=True),
    Column("run_id", String(100), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("node", String(64), nullable=False),
    Column("tool", String(200), nullable=False),
    Column("call", Text, nullable=False),          # the exact call, as JSON
    Column("status", String(16), nullable=False, index=True),  # pending | approved | rejected
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("decided_by", String(200), nullable=True),
    Column("reason", Text, nullable=False, server_default=""),
)



@dataclass(frozen=True, slots=True)
class FlowRecord:
    id: str
    name: str
    latest_version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class FlowVersion:
    flow_id: str
    version: int
    created_at: datetime
    message: str


@dataclass(frozen=True, slots=True)
class RunRecord:
    id: str
    flow_id: str
    flow_version: int | None
    status: str  # running | waiting_approval | succeeded | failed | timeout | cancelled | interrupted
    started_at: datetime
    finished_at: datetime | None
    duration: float | None
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    error: str | None
    hint: str
    failed_node: str | None
    usage: dict[str, Any]
    session_id: str | None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("started_at", "finished_at"):
            out[key] = out[key].isoformat() if out[key] else None
        return out


def _now() -> datetime:
    return datetime.now(UTC)


@overload
def _utc(value: datetime) -> datetime: ...


@overload
def _utc(value: None) -> None: ...


def _utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def redact_url(url: str | URL) -> str:
    """The URL with its password masked, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparseable URL)"


def _url_fix() -> str:
    return (f"fix: set {DATABASE_URL_ENV} (or --database-url) to e.g. "
            "sqlite:////path/to/chainloom.db or postgresql+psycopg://user@host:5432/dbname")


def _parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as err:
        raise StoreUnavailable(f"the database URL {redact_url(url)} is not a valid SQLAlchemy "
                               f"URL; {_url_fix()}") from err
    if parsed.drivername == "postgresql":
        # SQLAlchemy's default driver is psycopg2; the `postgres` extra installs psycopg 3.
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str) -> Engine:
    """A SQLAlchemy engine; SQLite gets WAL, a busy timeout and foreign keys on every connection.

    Raises StoreUnavailable (one line, with the fix) for a bad URL or a missing driver.
    """
    parsed = _parse_url(url)
    try:
        return _create_engine(parsed)
    except NoSuchModuleError as err:
        raise StoreUnavailable(f"the database URL {redact_url(parsed)} names an unknown database "
                               f"kind '{parsed.drivername}'; {_url_fix()}") from err
    except ImportError as err:
        extra = ("pip install 'chainloom[postgres]'" if parsed.get_backend_name() == "postgresql"
                 else f"pip install {err.name or 'the driver'}")
        raise StoreUnavailable(f"the database URL {redact_url(parsed)} needs the Python driver "
                               f"'{err.name}', which is not installed; fix: {extra}") from err


def _create_engine(parsed: URL) -> Engine:
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    kwargs: dict[str, Any] = {}
    if parsed.database in (None, "", ":memory:"):
        kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    else:
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, **kwargs)
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def unreachable(url: str | URL, err: Exception) -> StoreUnavailable:
    """The one-line error for a database that cannot be reached or opened."""
    cause = str(getattr(err, "orig", None) or err).strip().splitlines()
    first = cause[0] if cause else type(err).__name__
    return StoreUnavailable(f"cannot open the database at {redact_url(url)}: {first}; fix: check "
                            "that the database server is running and that the URL, user and "
                            f"password are right ({DATABASE_URL_ENV} or --database-url)")


class Store:
    """Saved flows (with versions) and recorded runs (with events) in one database."""

    def __init__(self, url: str) -> None:
        from engine import migrate  # noqa: PLC0415 - its env.py imports this module's tables

        self.url = url
        self.engine = make_engine(url)
        try:
            migrate.upgrade(self.engine)
        except OperationalError as err:
            self.engine.dispose()
            raise unreachable(url, err) from err

    def close(self) -> None:
        flush_recordings()  # runs recorded through this store are written before it closes
        self.engine.dispose()

    # ------------------------------------------------------------ flows
    def save_flow(self, flow: Flow, expected_version: int | None, *, message: str = "") -> int:
        """Store `flow` as a new version and return its number.

        `expected_version` is the version the edit was based on (None: create a new
        flow). If the flow moved on meanwhile, raises StaleVersion (FlowExists when
        creating) and writes nothing.
        """
        body, now = dumps_flow(flow), _now()
        if expected_version is None:
            return self._create_flow(flow, body, now, message)
        new = expected_version + 1
        with self.engine.begin() as conn:
            # The guarded UPDATE is the transaction's first statement: it takes the
            # write lock (row lock elsewhere), so of two concurrent saves one wins.
            moved = conn.execute(
                update(flows_table)
                .where(flows_table.c.id == flow.id, flows_table.c.latest_version == expected_version)
                .values(latest_version=new, name=flow.name, updated_at=now)).rowcount
            if moved != 1:
                actual = self._latest(conn, flow.id)
                if actual is None:
                    raise NotFound(f"flow '{flow.id}' is not saved, so there is no version "
                                   f"{expected_version} to save on top of",
                                   hint="save it as a new flow (no base version)")
                raise StaleVersion(flow.id, expected_version, actual)
            self._insert_version(conn, flow.id, new, body, now, message)
        return new

    def _create_flow(self, flow: Flow, body: str, now: datetime, message: str) -> int:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(flows_table).values(id=flow.id, name=flow.name, latest_version=1,
                                                        created_at=now, updated_at=now))
                self._insert_version(conn, flow.id, 1, body, now, message)
        except IntegrityError as err:
            with self.engine.connect() as conn:
                actual = self._latest(conn, flow.id)
            raise FlowExists(flow.id, actual or 0) from err
        return 1

    @staticmethod
    def _insert_version(conn: Connection, flow_id: str, version: int, body: str, now: datetime,
                        message: str) -> None:
        conn.execute(insert(flow_versions_table).values(flow_id=flow_id, version=version, body=body,
                                                        created_at=now, message=message))

    @staticmethod
    def _latest(conn: Connection, flow_id: str) -> int | None:
        return conn.execute(select(flows_table.c.latest_version)
                            .where(flows_table.c.id == flow_id)).scalar_one_or_none()

    def resolve_flow_id(self, id_or_name: str) -> str:
        """The id of the saved flow with this id, or else with this (unique) name."""
        with self.engine.connect() as conn:
            if self._latest(conn, id_or_name) is not None:
                return id_or_name
            ids = conn.execute(select(flows_table.c.id).where(flows_table.c.name == id_or_name)
                               .order_by(flows_table.c.id)).scalars().all()
        if len(ids) == 1:
            return str(ids[0])
        if len(ids) > 1:
            raise NotFound(f"{len(ids)} saved flows are named '{id_or_name}': {', '.join(ids)}",
                           hint="use the flow's id instead of its name")
        raise NotFound(f"no saved flow has the id or name '{id_or_name}'", hint=self._flows_hint())

    def _flows_hint(self) -> str:
        known = [f.id for f in self.list_flows()[:10]]
        if not known:
            return "no flows are saved yet; save one with `chainloom flows save FILE`"
        return "saved flows: " + ", ".join(known)

    def get_flow(self, id_or_name: str, version: int | None = None) -> tuple[Flow, int]:
        """The flow (latest version unless `version`) and its version number."""
        flow_id = self.resolve_flow_id(id_or_name)
        with self.engine.connect() as conn:
            if version is None:
                version = self._latest(conn, flow_id)
            body = conn.execute(select(flow_versions_table.c.body).where(
                flow_versions_table.c.flow_id == flow_id,
                flow_versions_table.c.version == version)).scalar_one_or_none()
        if body is None or version is None:
            raise NotFound(f"flow '{flow_id}' has no version {version}",
                           hint=f"list its versions with `chainloom flows versions {flow_id}`")
        return parse_flow(body, source=f"saved flow '{flow_id}' v{version}"), version

    def list_flows(self) -> list[FlowRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(flows_table).order_by(flows_table.c.id)).all()
        return [FlowRecord(r.id, r.name, r.latest_version, _utc(r.created_at), _utc(r.updated_at))
                for r in rows]

    def flow_versions(self, flow_id: str) -> list[FlowVersion]:
        """Every stored version of a flow, oldest first."""
        flow_id = self.resolve_flow_id(flow_id)
        t = flow_versions_table
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.c.version, t.c.created_at, t.c.message)
                                .where(t.c.flow_id == flow_id).order_by(t.c.version)).all()
        return [FlowVersion(flow_id, r.version, _utc(r.created_at), r.message) for r in rows]

    def delete_flow(self, flow_id: str) -> None:
        """Delete a flow and all its versions (its recorded runs stay)."""
        with self.engine.begin() as conn:
            conn.execute(delete(flow_versions_table).where(flow_versions_table.c.flow_id == flow_id))
            gone = conn.execute(delete(flows_table).where(flows_table.c.id == flow_id)).rowcount
            if gone != 1:
                raise NotFound(f"no saved flow has the id '{flow_id}'", hint=self._flows_hint())

    # ------------------------------------------------------------ drafts
    def put_draft(self, key: str, body: str) -> None:
        """Keep `body` under `key`, replacing what was there."""
        now = _now()
        with self.engine.begin() as conn:
            done = conn.execute(update(drafts_table).where(drafts_table.c.key == key)
                                .values(body=body, updated_at=now)).rowcount
            if not done:
                conn.execute(insert(drafts_table).values(key=key, body=body, updated_at=now))

    def get_draft(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(drafts_table.c.body).where(drafts_table.c.key == key)).scalar()

    def delete_draft(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(drafts_table).where(drafts_table.c.key == key))

    # ------------------------------------------------------------ runs
    def recorder(self, run_id: str, flow: Flow, inputs: Mapping[str, Any],
                 flow_version: int | None = None) -> RunRecording:
        """A handler that records one run (engine.runner.RunRecorder) through the process's writer."""
        return RunLog(self.url, self).recorder(run_id, flow, inputs, flow_version)

    def sweep_orphans(self) -> list[str]:
        """End every run whose process is gone as `interrupted` (see engine.lease); their ids."""
        from engine.lease import sweep  # noqa: PLC0415

        return sweep(self.engine)

    def list_runs(self, flow_id: str | None = None, limit: int = 50) -> list[RunRecord]:
        """The most recent runs first, optionally of one flow."""
        flush_recordings()
        query = select(runs_table).order_by(runs_table.c.started_at.desc()).limit(max(0, limit))
        if flow_id is not None:
            query = query.where(runs_table.c.flow_id == flow_id)
        with self.engine.connect() as conn:
            return [_run_record(r) for r in conn.execute(query).all()]

    def get_run(self, run_id: str) -> RunRecord:
        """The run with this id, or with this unique id prefix (at least 6 characters)."""
        flush_recordings()
        with self.engine.connect() as conn:
            row = conn.execute(select(runs_table).where(runs_table.c.id == run_id)).one_or_none()
            if row is None and len(run_id) >= 6:
                rows = conn.execute(select(runs_table).where(
                    runs_table.c.id.startswith(run_id, autoescape=True)).limit(2)).all()
                row = rows[0] if len(rows) == 1 else None
        if row is None:
            raise NotFound(f"no recorded run has the id '{run_id}'",
                           hint="list recent runs with `chainloom runs`")
        return _run_record(row)

    def run_events(self, run_id: str) -> list[dict[str, Any]]:
        """The run's events in order, as `Event.to_dict()` dicts (see event_from_dict)."""
        run_id = self.get_run(run_id).id
        with self.engine.connect() as conn:
            bodies = conn.execute(select(events_table.c.body).where(events_table.c.run_id == run_id)
                                  .order_by(events_table.c.seq)).scalars().all()
        return [json.loads(b) for b in bodies]


def _run_record(row: Any) -> RunRecord:
    return RunRecord(
        id=row.id, flow_id=row.flow_id, flow_version=row.flow_version, status=row.status,
        started_at=_utc(row.started_at), finished_at=_utc(row.finished_at), duration=row.duration,
        inputs=json.loads(row.inputs or "{}"), outputs=json.loads(row.outputs or "{}"),
        error=row.error, hint=row.hint or "", failed_node=row.failed_node,
        usage=json.loads(row.usage or "{}"), session_id=row.session_id)


_OPEN: dict[str, Store] = {}
_OPEN_LOCK = threading.Lock()


def open_store(home: str | os.PathLike[str] | None = None) -> Store:
    """The store for this data dir (or $CHAINLOOM_DATABASE_URL); one Store per URL per process."""
    url = default_url(home)
    with _OPEN_LOCK:
        store = _OPEN.get(url)
        if store is None:
            store = _OPEN[url] = Store(url)
        return store
