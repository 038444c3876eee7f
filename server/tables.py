"""The server's own tables, beside the engine store's in the same database.

`api_keys` holds only a SHA-256 of each key; `run_cancels` holds one row per run
someone asked to stop, which the worker running it polls. Both live in the
database, never in a process, so any number of workers agree. The queries on the
engine's `runs` and `events` tables that the store does not offer (events after a
sequence number, runs of a session) are here too.
"""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import Column, DateTime, Engine, MetaData, String, Table, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError

from engine.errors import NotFound
from engine.lease import orphaned
from engine.recording import flush_recordings
from engine.store import RunRecord, _run_record, events_table, flow_versions_table, flows_table, runs_table

metadata = MetaData()

api_keys_table = Table(
    "api_keys", metadata,
    Column("id", String(32), primary_key=True),            # public: shown by `keys list`
    Column("name", String(100), nullable=False, index=True),
    Column("key_hash", String(64), nullable=False, unique=True),  # sha256 hex of the whole key
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

run_cancels_table = Table(
    "run_cancels", metadata,
    Column("run_id", String(100), primary_key=True),
    Column("requested_at", DateTime(timezone=True), nullable=False),
)


def create_tables(engine: Engine, attempts: int = 5) -> None:
    """Create the server tables if missing; tolerate another worker doing it at the same time."""
    for attempt in range(attempts):
        try:
            metadata.create_all(engine)
            return
        except OperationalError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.1 * (attempt + 1))


# ------------------------------------------------------------ cancel flags
def request_cancel(engine: Engine, run_id: str, now: Any) -> None:
    """Raise the cancel flag of a run (idempotent)."""
    try:
        with engine.begin() as conn:
            conn.execute(insert(run_cancels_table).values(run_id=run_id, requested_at=now))
    except IntegrityError:
        pass  # already asked


def cancel_requested(engine: Engine, run_id: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(run_cancels_table.c.run_id)
                            .where(run_cancels_table.c.run_id == run_id)).first() is not None


def run_orphaned(engine: Engine, run_id: str) -> bool:
    """Whether the process that runs this run is gone (engine.lease.orphaned)."""
    with engine.connect() as conn:
        row = conn.execute(select(runs_table.c.owner, runs_table.c.lease_until)
                           .where(runs_table.c.id == run_id)).one_or_none()
    return row is not None and orphaned(row.owner, row.lease_until)


def cancels_among(engine: Engine, run_ids: list[str]) -> list[str]:
    """Which of these runs have their cancel flag raised (one query for all of them)."""
    t = run_cancels_table
    with engine.connect() as conn:
        return list(conn.execute(select(t.c.run_id).where(t.c.run_id.in_(run_ids))).scalars())


# ------------------------------------------------------------ run queries
def events_after(engine: Engine, run_id: str, after: int, limit: int) -> list[dict[str, Any]]:
    """Recorded events of a run with seq > after, oldest first, at most `limit`."""
    flush_recordings()  # what this worker recorded so far is in the database
    t = events_table
    with engine.connect() as conn:
        bodies = conn.execute(select(t.c.body).where(t.c.run_id == run_id, t.c.seq > after)
                              .order_by(t.c.seq).limit(limit)).scalars().all()
    return [json.loads(b) for b in bodies]


def runs_of(engine: Engine, *, flow_id: str | None, session_id: str | None, status: str | None,
            limit: int) -> list[RunRecord]:
    """Recent runs first, filtered by flow, session and status when given."""
    flush_recordings()
    query = select(runs_table).order_by(runs_table.c.started_at.desc()).limit(limit)
    if flow_id is not None:
        query = query.where(runs_table.c.flow_id == flow_id)
    if session_id is not None:
        query = query.where(runs_table.c.session_id == session_id)
    if status is not None:
        query = query.where(runs_table.c.status == status)
    with engine.connect() as conn:
        return [_run_record(r) for r in conn.execute(query).all()]


def version_text(engine: Engine, flow_id: str, version: int | None) -> tuple[int, str]:
    """(version, saved text) of a flow's version (the latest when None), in one query."""
    v, f = flow_versions_table, flows_table
    query = select(v.c.version, v.c.body).where(v.c.flow_id == flow_id)
    if version is None:
        query = query.join(f, (f.c.id == v.c.flow_id) & (f.c.latest_version == v.c.version))
    else:
        query = query.where(v.c.version == version)
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        raise NotFound(f"flow '{flow_id}' has no version {version}",
                       hint=f"list its versions with GET /flows/{flow_id}/versions")
    return row.version, row.body
