"""Read-only SQL: open a database so that writes are impossible, run one statement, cap rows.

SQLite files are opened with `mode=ro` (the file must exist inside the allowed
root); other databases run inside a READ ONLY transaction that is always rolled
back. A statement containing a second statement is refused.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from engine.errors import PermanentError
from nodes.support.paths import resolve_path


class QueryRefused(PermanentError):
    """The query or database is not allowed (writes, several statements, path outside root)."""


def _single_statement(query: str) -> str:
    """The query without a trailing ';'; refused if a ';' outside a string literal ends a statement."""
    body = query.strip().rstrip(";").strip()
    for i, ch in enumerate(body):
        if ch == ";" and sqlite3.complete_statement(body[:i + 1]):
            raise QueryRefused("the query holds more than one statement", hint="run one SELECT at a time")
    return body


def with_password(url: str, password: str) -> str:
    """`url` with `password` put in (the flow holds the URL without it, the password in a variable)."""
    try:
        parsed = make_url(url)
    except ArgumentError as err:
        raise QueryRefused("config field 'url' is not a database URL", hint="e.g. postgresql://app@db/shop") from err
    return parsed.set(password=password).render_as_string(hide_password=False)


def _engine(url: str, timeout: float) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as err:
        raise QueryRefused(f"'{url[:80]}' is not a database URL", hint="e.g. sqlite:///data.db") from err
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise QueryRefused("an in-memory sqlite database has nothing to read")
        path = resolve_path(parsed.database, field="url")
        if not path.is_file():
            raise QueryRefused(f"sqlite database '{parsed.database}' does not exist")
        uri = f"file:{path.as_posix()}?mode=ro"
        return create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True, timeout=timeout,
                                                                          check_same_thread=False))
    engine = create_engine(parsed, pool_pre_ping=True)

    @event.listens_for(engine, "begin")
    def _read_only(conn: Any) -> None:
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")

    return engine


def read_only_rows(url: str, query: str, *, max_rows: int, timeout: float) -> list[dict[str, Any]]:
    """Up to `max_rows` rows of `query`, as dicts, from a read-only connection."""
    body = _single_statement(query)
    engine = _engine(url, timeout)
    try:
        with engine.connect() as conn:
            trans = conn.begin()
            try:
                result = conn.execute(text(body))
                rows = [dict(r._mapping) for r in result.fetchmany(max_rows)]
            finally:
                trans.rollback()
    except SQLAlchemyError as err:
        orig = getattr(err, "orig", None)  # the driver's own error, when there is one
        msg = str(orig if orig else err).splitlines()[0]
        raise PermanentError(f"query failed: {msg}",
                             hint="the connection is read-only; only SELECT statements work") from err
    finally:
        engine.dispose()
    return rows
