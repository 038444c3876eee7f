"""Where chat memory lives: two tables in the run store's database, keyed by memory and session.

`chat_turns` holds every exchange (the user's message and the reply) in order;
`memory_state` holds what a memory derives from them (a running summary,
entities and their facts, knowledge-graph triples) as JSON. Every read and write
names the memory key and the session id, so two sessions never see each other's
turns. The tables are created on first use in the store's engine
(`ctx.services["store"]`, else the store of the data dir).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError

from engine.errors import PermanentError
from nodes.support.values import as_text

if TYPE_CHECKING:
    from engine.context import RunContext

DEFAULT_SESSION = "default"
MAX_SESSION_CHARS = 200

metadata = MetaData()

turns_table = Table(
    "chat_turns", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("memory", String(100), nullable=False),
    Column("session", String(200), nullable=False),
    Column("user", Text, nullable=False),
    Column("assistant", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_chat_turns_memory_session", "memory", "session", "id"),
)

state_table = Table(
    "memory_state", metadata,
    Column("memory", String(100), primary_key=True),
    Column("session", String(200), primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("body", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True, slots=True)
class Turn:
    """One exchange: what the user said and what came back."""

    id: int
    user: str
    assistant: str

    def to_preview(self) -> dict[str, Any]:
        return {"user": self.user[:200], "assistant": self.assistant[:200]}


class MemoryStore:
    """Turns and derived state for every memory and session, in one SQL database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def turns(self, memory: str, session: str, *, last: int | None = None, after: int = 0) -> list[Turn]:
        """The session's turns, oldest first: all, only those after id `after`, or the `last` few."""
        t = turns_table
        query = select(t.c.id, t.c.user, t.c.assistant).where(t.c.memory == memory, t.c.session == session,
                                                                t.c.id > after)
        if last is not None:
            query = query.order_by(t.c.id.desc()).limit(max(0, last))
        else:
            query = query.order_by(t.c.id)
        with self.engine.connect() as conn:
            rows = [Turn(r.id, r.user, r.assistant) for r in conn.execute(query)]
        return rows[::-1] if last is not None else rows

    def add_turn(self, memory: str, session: str, user: str, assistant: str) -> Turn:
        with self.engine.begin() as conn:
            result = conn.execute(insert(turns_table).values(memory=memory, session=session, user=user,
                                                             assistant=assistant, created_at=datetime.now(UTC)))
            key = result.inserted_primary_key
            if key is None:
                raise RuntimeError("the database did not report the new turn's id")
            turn_id = int(key[0])
        return Turn(turn_id, user, assistant)

    def state(self, memory: str, session: str, kind: str) -> dict[str, Any]:
        s = state_table
        with self.engine.connect() as conn:
            body = conn.execute(select(s.c.body).where(s.c.memory == memory, s.c.session == session,
                                                       s.c.kind == kind)).scalar_one_or_none()
        return dict(json.loads(body)) if body else {}

    def set_state(self, memory: str, session: str, kind: str, value: dict[str, Any]) -> None:
        s, now = state_table, datetime.now(UTC)
        body = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        with self.engine.begin() as conn:
            changed = conn.execute(update(s).where(s.c.memory == memory, s.c.session == session, s.c.kind == kind)
                                   .values(body=body, updated_at=now)).rowcount
            if not changed:
                conn.execute(insert(s).values(memory=memory, session=session, kind=kind, body=body, updated_at=now))

    def clear(self, memory: str, session: str) -> None:
        """Forget one session of one memory: its turns and everything derived from them."""
        with self.engine.begin() as conn:
            conn.execute(delete(turns_table).where(turns_table.c.memory == memory, turns_table.c.session == session))
            conn.execute(delete(state_table).where(state_table.c.memory == memory, state_table.c.session == session))


_READY: dict[int, MemoryStore] = {}
_READY_LOCK = threading.Lock()


def memory_store(ctx: RunContext) -> MemoryStore:
    """The memory tables in the run store's database (created on first use)."""
    store = ctx.services.get("store") if ctx.services else None
    if store is None:
        from engine.store import open_store  # noqa: PLC0415 - sqlalchemy loads on first use
        from nodes.support.paths import data_dir  # noqa: PLC0415

        store = open_store(data_dir(ctx))
    engine: Engine = store.engine
    with _READY_LOCK:
        ready = _READY.get(id(engine))
        if ready is None or ready.engine is not engine:
            try:
                metadata.create_all(engine)
            except (OperationalError, IntegrityError):
                metadata.create_all(engine)  # another process created them between check and CREATE
            ready = _READY[id(engine)] = MemoryStore(engine)
        return ready


def session_of(inputs: dict[str, Any], ctx: RunContext) -> str:
    """The session a memory node works in: its `session` input, else the run's, else "default"."""
    session = as_text(inputs.get("session")).strip() or ctx.session_id or DEFAULT_SESSION
    if len(session) > MAX_SESSION_CHARS:
        raise PermanentError(f"session id is {len(session)} characters; the limit is {MAX_SESSION_CHARS}")
    return session
