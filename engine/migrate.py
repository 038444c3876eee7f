"""Schema migrations of the run store (Alembic), applied when a store opens.

`upgrade(engine)` brings any store database to the newest schema: an empty one is
built by the migration chain in engine/migrations/, one made before migrations
existed (tables, no `alembic_version`) is stamped as the baseline first. One
process migrates at a time (a PostgreSQL advisory lock, a lock file beside a
SQLite file); a database already at the head costs one SELECT.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001"  # the schema created by chainloom before it had migrations
HEAD = "0003"      # the newest revision in migrations/versions (a test keeps them equal)
_PG_LOCK_KEY = 0x636C6D67  # "clmg": one advisory lock id for store migrations
_IN_PROCESS = threading.Lock()


@functools.cache
def _config() -> Config:
    # Alembic is imported only when a database needs migrating: opening one at the
    # head (every CLI command) should not pay for it.
    from alembic.config import Config  # noqa: PLC0415

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def script_head() -> str | None:
    """The head revision as Alembic reads it from the migration scripts."""
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    return ScriptDirectory.from_config(_config()).get_current_head()


def head() -> str:
    """The newest revision shipped with this code."""
    return HEAD


def current(conn: Connection) -> str | None:
    """The database's revision; None when it has never been migrated."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()


def upgrade(engine: Engine) -> None:
    """Bring the database to `head()` (a no-op when it is there already)."""
    with engine.connect() as conn:
        if current(conn) == head():
            return
    # Alembic keeps its running migration in module globals: one migration per process at a time.
    with _IN_PROCESS, _exclusive(engine), engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Transactional DDL: the lock is held until the migration commits.
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        _upgrade(conn)


def _upgrade(conn: Connection) -> None:
    from alembic import command  # noqa: PLC0415

    config = _config()
    config.attributes["connection"] = conn
    try:
        revision = current(conn)
        if revision == head():
            return  # another process migrated while we waited for the lock
        if revision is None and inspect(conn).has_table("runs"):
            command.stamp(config, BASELINE)
        command.upgrade(config, "head")
    finally:
        config.attributes.pop("connection", None)


@contextlib.contextmanager
def _exclusive(engine: Engine) -> Iterator[None]:
    """A lock file beside a SQLite database file (PostgreSQL locks inside the transaction)."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    try:
        import fcntl  # noqa: PLC0415 - POSIX only; elsewhere SQLite's own lock has to do
    except ImportError:  # pragma: no cover
        yield
        return
    with Path(f"{database}.migrate-lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


