"""Databases for the tests: SQLite in a temp dir, and PostgreSQL when CI provides one.

`database_url` (a fixture, see tests/conftest.py) runs a test once per backend.
PostgreSQL comes from $CHAINLOOM_TEST_POSTGRES_URL (`.ci/run` always sets it; run
`eval "$(.ci/postgres)"` to get one locally); each test gets a fresh schema of
its own (`search_path`), dropped afterwards. Without the variable the PostgreSQL
cases are skipped, with that reason shown.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_ENV = "CHAINLOOM_TEST_POSTGRES_URL"
SKIP_REASON = (f"PostgreSQL tests need {POSTGRES_ENV} (a postgresql+psycopg:// URL); "
               'start a throwaway server with `eval "$(.ci/postgres)"`')
BACKENDS = ["sqlite", "postgres"]


def postgres_base() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL whose connections use a fresh, empty schema; the schema is dropped afterwards."""
    base = postgres_base()
    if base is None:
        pytest.skip(SKIP_REASON)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def database(backend: str, folder: Path) -> Iterator[str]:
    """The URL of an empty database of this backend."""
    if backend == "sqlite":
        folder.mkdir(parents=True, exist_ok=True)
        yield f"sqlite:///{folder / 'chainloom.db'}"
        return
    with postgres_schema() as url:
        yield url
