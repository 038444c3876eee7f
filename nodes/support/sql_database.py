"""A database a model may explore and query, read-only (shared by `tool.sql_database` and `chain.sql`).

Every connection is read-only before any model-written SQL reaches it: SQLite
files open with `mode=ro` (and `PRAGMA query_only`), other databases run in a
READ ONLY transaction that is always rolled back (nodes/support/sql_readonly.py). A
query must be exactly one SELECT (or WITH ... SELECT) statement; rows are capped
and so is time (a progress handler stops SQLite, statement_timeout PostgreSQL,
MAX_EXECUTION_TIME MySQL). A database can also be built from a .sql script into
the data dir once, then opened read-only, so example flows ship text, not binaries.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator
from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from engine.errors import PermanentError
from engine.fields import Where
from engine.node import NodeConfig, SecretRef
from nodes.support.paths import data_dir, resolve_path
from nodes.support.sql_readonly import QueryRefused, _engine, _single_statement, with_password

if TYPE_CHECKING:
    from engine.context import RunContext

READ_ONLY_START = ("select", "with", "values")
MAX_SCRIPT_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool

    def as_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, r)) for r in self.rows]

    def as_table(self) -> str:
        if not self.columns:
            return "(the statement returned no columns)"
        lines = [" | ".join(self.columns)] + [" | ".join(_cell(v) for v in r) for r in self.rows]
        if not self.rows:
            lines.append("(no rows)")
        if self.truncated:
            lines.append(f"(only the first {len(self.rows)} rows are shown)")
        return "\n".join(lines)


def _cell(value: Any) -> str:
    text_value = "NULL" if value is None else str(value)
    return text_value if len(text_value) <= 200 else text_value[:197] + "..."


def check_read_only(sql: str) -> str:
    """The statement without a trailing ';', if it is one SELECT; QueryRefused otherwise."""
    body = _single_statement(sql)
    first = body.lstrip("( \n\t").split(None, 1)[0].lower() if body.strip() else ""
    if first not in READ_ONLY_START:
        raise QueryRefused(f"only SELECT queries may run here; this statement starts with '{first or '(nothing)'}'",
                           hint="the database is read-only: ask with a SELECT")
    return body


class ReadOnlyDatabase:
    """A database opened read-only, with a row cap and a time cap per statement."""

    def __init__(self, url: str, *, max_rows: int = 100, timeout: float = 10.0, engine: Engine | None = None) -> None:
        self.max_rows = max_rows
        self.timeout = timeout
        self._deadline = float("inf")
        self._interrupted = False
        self._running: Any = None  # the DBAPI connection of the statement running now
        self.engine: Engine = engine or _engine(url, timeout)
        self._guard_time(self.engine)

    @classmethod
    def built(cls, path: Path, *, max_rows: int, timeout: float) -> ReadOnlyDatabase:
        """A database chainloom built itself in its data dir (outside the files root), read-only."""
        uri = f"file:{path.as_posix()}?mode=ro"
        engine = create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True, timeout=timeout,
                                                                            check_same_thread=False))
        return cls("", max_rows=max_rows, timeout=timeout, engine=engine)

    def close(self) -> None:
        self.engine.dispose()

    def _guard_time(self, engine: Engine) -> None:
        dialect, ms = engine.dialect.name, int(self.timeout * 1000)
        if dialect == "sqlite":
            def _on_connect(dbapi_conn: Any, _record: Any) -> None:
                dbapi_conn.execute("PRAGMA query_only = ON")
                dbapi_conn.set_progress_handler(
                    lambda: int(self._interrupted or time.monotonic() > self._deadline), 10_000)
            event.listen(engine, "connect", _on_connect)
            return
        setting = {"postgresql": f"SET LOCAL statement_timeout = {ms}",
                   "mysql": f"SET SESSION MAX_EXECUTION_TIME = {ms}"}.get(dialect)
        if setting:
            event.listen(engine, "begin", lambda conn: conn.exec_driver_sql(setting))

    def interrupt(self) -> None:
        """Stop the statement running now, from any thread (the node's time limit or the run's
        passed): SQLite's progress handler ends it, other drivers get their cancel()."""
        self._interrupted = True
        running = self._running
        cancel = getattr(running, "interrupt", None) or getattr(running, "cancel", None)
        if callable(cancel):
            try:
                cancel()
            except Exception:  # noqa: BLE001 - the connection may be closing already
                pass

    def _read(self, work: Any) -> Any:
        if self._interrupted:
            raise QueryRefused("the query was stopped before it started")
        self._deadline = time.monotonic() + self.timeout
        try:
            with self.engine.connect() as conn:
                trans = conn.begin()
                self._running = conn.connection.dbapi_connection
                try:
                    return work(conn)
                finally:
                    self._running = None
                    trans.rollback()
        except SQLAlchemyError as err:
            raise _query_error(err, self.timeout, stopped=self._interrupted) from err
        finally:
            self._deadline = float("inf")

    def tables(self) -> list[str]:
        def work(conn: Connection) -> list[str]:
            found = inspect(conn)
            return sorted(set(found.get_table_names()) | set(found.get_view_names()))
        return list(self._read(work))

    def schema(self, table: str, sample_rows: int = 3) -> str:
        known = self.tables()
        if table not in known:
            raise QueryRefused(f"there is no table named '{table}'", hint=f"tables: {', '.join(known) or 'none'}")
        return str(self._read(lambda conn: _describe(conn, table, sample_rows)))

    def query(self, sql: str) -> QueryResult:
        body = check_read_only(sql)

        def work(conn: Connection) -> QueryResult:
            result = conn.execute(text(body))
            if not result.returns_rows:
                return QueryResult([], [], False)
            rows = [tuple(r) for r in result.fetchmany(self.max_rows + 1)]
            return QueryResult(list(result.keys()), rows[:self.max_rows], len(rows) > self.max_rows)
        return self._read(work)  # type: ignore[no-any-return]


def _describe(conn: Connection, table: str, sample_rows: int) -> str:
    found = inspect(conn)
    pk = set((found.get_pk_constraint(table) or {}).get("constrained_columns") or [])
    cols = [f"  {c['name']} {c['type']}{' PRIMARY KEY' if c['name'] in pk else ''}"
            f"{'' if c.get('nullable', True) else ' NOT NULL'}" for c in found.get_columns(table)]
    for fk in found.get_foreign_keys(table):
        cols.append(f"  FOREIGN KEY ({', '.join(fk['constrained_columns'])}) REFERENCES "
                    f"{fk['referred_table']}({', '.join(fk['referred_columns'])})")
    out = f"TABLE {table} (\n" + ",\n".join(cols) + "\n)"
    if sample_rows:
        quoted = conn.dialect.identifier_preparer.quote(table)
        # The table name comes from the database's own catalog, quoted by its dialect; the limit is an int.
        result = conn.execute(text(f"SELECT * FROM {quoted} LIMIT {int(sample_rows)}"))  # noqa: S608
        sample = QueryResult(list(result.keys()), [tuple(r) for r in result.fetchall()], False)
        out += f"\n{len(sample.rows)} example rows:\n{sample.as_table()}"
    return out


def _query_error(err: SQLAlchemyError, timeout: float, *, stopped: bool = False) -> PermanentError:
    message = str(getattr(err, "orig", None) or err).splitlines()[0]
    if stopped:
        return QueryRefused("the query was stopped: the node's or the run's time limit passed, or the "
                            "run was cancelled")
    if "interrupted" in message.lower() or "statement timeout" in message.lower() \
            or "canceling statement" in message.lower():
        return QueryRefused(f"the query ran longer than {timeout:g}s and was stopped",
                            hint="ask for fewer rows, or add a WHERE clause")
    return PermanentError(f"query failed: {message}", hint="the connection is read-only; check table and "
                          "column names with the schema tool")


# ---------------------------------------------------------------- databases from scripts
def build_from_script(script: Path, folder: Path) -> Path:
    """A SQLite file made by running `script` once (cached by its content); never modified after."""
    data = script.read_bytes()
    if len(data) > MAX_SCRIPT_BYTES:
        raise PermanentError(f"script '{script.name}' is over {MAX_SCRIPT_BYTES} bytes")
    target = folder / f"{script.stem}-{hashlib.sha256(data).hexdigest()[:16]}.db"
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".db.tmp")
    os.close(fd)
    try:
        conn = sqlite3.connect(tmp)
        try:
            conn.executescript(data.decode("utf-8"))
            conn.commit()
        finally:
            conn.close()
        os.replace(tmp, target)
    except (sqlite3.Error, UnicodeDecodeError) as err:
        raise PermanentError(f"script '{script.name}' failed: {err}", hint="fix the SQL script") from err
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return target


class DatabaseConfig(NodeConfig):
    """Where the database is: a URL (or a variable holding one), or a .sql script to build it from."""

    url: str = Where(kind="database", default="", max_length=2000,
                     description="SQLAlchemy URL, e.g. sqlite:///data/shop.db (a "
                     "sqlite path resolves inside the allowed folder) or postgresql://host/db.")
    url_env: str = SecretRef("", description="Variable holding the URL instead (when it has a password).")
    password_env: str = SecretRef("", description="Variable holding the database password; `url` is written "
                                  "without it (postgresql://app@db/shop) and the password is put in on connect.")
    script: str = Where(kind="path", default="", max_length=4096,
                        description="Or: a .sql file (inside the allowed folder) that "
                        "builds a SQLite database once in the data dir; it is then opened read-only.")
    max_rows: int = Field(50, ge=1, le=10_000, description="Rows returned at most per query.")
    timeout: float = Field(10.0, gt=0, le=600, description="Seconds a query may run.")

    @model_validator(mode="after")
    def _one_source(self) -> DatabaseConfig:
        given = [f for f in ("url", "url_env", "script") if getattr(self, f)]
        if len(given) != 1:
            raise ValueError("set exactly one of url, url_env or script" + (f" (got {', '.join(given)})"
                                                                           if given else ""))
        if self.password_env and not self.url:
            raise ValueError("password_env goes with url (the URL written without its password)")
        return self


def open_database(config: DatabaseConfig, ctx: RunContext) -> ReadOnlyDatabase:
    if config.script:
        path = build_from_script(resolve_path(config.script, field="script"), data_dir(ctx) / "sqldb")
        built = ReadOnlyDatabase.built(path, max_rows=config.max_rows, timeout=config.timeout)
        ctx.on_stop(built.interrupt)
        return built
    url = ctx.secret(config.url_env, field="url_env") if config.url_env else config.url
    if config.password_env:
        url = with_password(url, ctx.secret(config.password_env, field="password_env"))
    db = ReadOnlyDatabase(url, max_rows=config.max_rows, timeout=config.timeout)
    ctx.on_stop(db.interrupt)
    return db
