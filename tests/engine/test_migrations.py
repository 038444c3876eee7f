"""Store schema migrations: an empty database and one made before migrations both reach the head.

The "old" databases are built from the CREATE statements chainloom used before it
had migrations (captured below from that code's `metadata.create_all` on SQLite,
and its table definitions, frozen here, for PostgreSQL), with a flow and a run
in them that must survive the upgrade.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import (
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    inspect,
    text,
)

from engine import migrate
from engine.errors import StoreUnavailable
from engine.runner import Runner
from engine.store import Store, make_engine, metadata
from tests.databases import database
from tests.engine.test_store import CHAIN, make_flow
from tests.engine.toy import Toys

OLD_SQLITE_SCHEMA = """
CREATE TABLE flows (
	id VARCHAR(64) NOT NULL, name VARCHAR(200) NOT NULL, latest_version INTEGER NOT NULL,
	created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL, PRIMARY KEY (id));
CREATE TABLE runs (
	id VARCHAR(100) NOT NULL, flow_id VARCHAR(64) NOT NULL, flow_version INTEGER,
	status VARCHAR(16) NOT NULL, started_at DATETIME NOT NULL, finished_at DATETIME,
	duration FLOAT, inputs TEXT NOT NULL, outputs TEXT NOT NULL, error TEXT, hint TEXT NOT NULL,
	failed_node VARCHAR(64), usage TEXT NOT NULL, session_id VARCHAR(200), PRIMARY KEY (id));
CREATE INDEX ix_runs_session_id ON runs (session_id);
CREATE INDEX ix_runs_started_at ON runs (started_at);
CREATE INDEX ix_runs_flow_id ON runs (flow_id);
CREATE TABLE flow_versions (
	flow_id VARCHAR(64) NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL,
	created_at DATETIME NOT NULL, message TEXT NOT NULL, PRIMARY KEY (flow_id, version),
	FOREIGN KEY(flow_id) REFERENCES flows (id) ON DELETE CASCADE);
CREATE TABLE events (
	run_id VARCHAR(100) NOT NULL, seq INTEGER NOT NULL, kind VARCHAR(32) NOT NULL,
	node VARCHAR(64), body TEXT NOT NULL, PRIMARY KEY (run_id, seq),
	FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE);
"""


def old_metadata() -> MetaData:
    """The store's tables as chainloom defined them before migrations (frozen copy)."""
    md = MetaData()
    Table("flows", md, Column("id", String(64), primary_key=True),
          Column("name", String(200), nullable=False), Column("latest_version", Integer, nullable=False),
          Column("created_at", DateTime(timezone=True), nullable=False),
          Column("updated_at", DateTime(timezone=True), nullable=False))
    Table("flow_versions", md,
          Column("flow_id", String(64), ForeignKey("flows.id", ondelete="CASCADE"), primary_key=True),
          Column("version", Integer, primary_key=True), Column("body", Text, nullable=False),
          Column("created_at", DateTime(timezone=True), nullable=False),
          Column("message", Text, nullable=False))
    Table("runs", md, Column("id", String(100), primary_key=True),
          Column("flow_id", String(64), nullable=False, index=True), Column("flow_version", Integer),
          Column("status", String(16), nullable=False),
          Column("started_at", DateTime(timezone=True), nullable=False, index=True),
          Column("finished_at", DateTime(timezone=True)), Column("duration", Float),
          Column("inputs", Text, nullable=False), Column("outputs", Text, nullable=False),
          Column("error", Text), Column("hint", Text, nullable=False), Column("failed_node", String(64)),
          Column("usage", Text, nullable=False), Column("session_id", String(200), index=True))
    Table("events", md,
          Column("run_id", String(100), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
          Column("seq", Integer, primary_key=True), Column("kind", String(32), nullable=False),
          Column("node", String(64)), Column("body", Text, nullable=False))
    return md


def make_old_database(url: str) -> None:
    """A database as today's-before-migrations code left it: tables, a flow and a finished run."""
    engine = create_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            for statement in OLD_SQLITE_SCHEMA.split(";"):
                if statement.strip():
                    conn.exec_driver_sql(statement)
        else:
            old_metadata().create_all(conn)
        now = datetime.now(UTC)
        conn.execute(text("INSERT INTO flows VALUES ('old', 'Old flow', 1, :t, :t)"), {"t": now})
        conn.execute(text("INSERT INTO flow_versions VALUES ('old', 1, :b, :t, 'first')"),
                     {"b": json.dumps({**CHAIN, "id": "old"}), "t": now})
        conn.execute(text("INSERT INTO runs (id, flow_id, flow_version, status, started_at, inputs, "
                          "outputs, hint, usage) VALUES ('r1', 'old', 1, 'succeeded', :t, '{}', "
                          "'{\"answer\": \"x\"}', '', '{}')"), {"t": now})
        conn.execute(text("INSERT INTO events VALUES ('r1', 1, 'run.started', NULL, '{}')"))
    engine.dispose()


def schema_diff(url: str) -> list[object]:
    """What differs between the database and the store's table definitions (empty: identical)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def test_the_head_constant_is_the_newest_migration_script() -> None:
    assert migrate.head() == migrate.script_head() == "0003"


def test_an_empty_database_upgrades_to_the_head_and_matches_the_tables(database_url: str) -> None:
    store = Store(database_url)
    with store.engine.connect() as conn:
        assert migrate.current(conn) == "0003"
    store.close()
    assert schema_diff(database_url) == []


def test_a_database_made_before_migrations_upgrades_and_keeps_its_data(database_url: str) -> None:
    make_old_database(database_url)
    store = Store(database_url)
    try:
        with store.engine.connect() as conn:
            assert migrate.current(conn) == "0003"
            columns = {c["name"] for c in inspect(conn).get_columns("runs")}
        assert {"owner", "lease_until"} <= columns
        assert [f.id for f in store.list_flows()] == ["old"]
        assert store.get_flow("old")[1] == 1
        record = store.get_run("r1")
        assert (record.status, record.outputs) == ("succeeded", {"answer": "x"})
        assert store.save_flow(make_flow(flow_id="old"), 1) == 2
        result = Runner(Toys().registry, store=store).run(make_flow(), {"q": "hi"})
        assert store.get_run(result.run_id).status == "succeeded"
    finally:
        store.close()
    assert schema_diff(database_url) == []


def test_a_database_made_with_drafts_but_before_migrations_upgrades(database_url: str) -> None:
    make_old_database(database_url)
    engine = create_engine(database_url)
    with engine.begin() as conn:  # the UI's draft table, as create_all made it before migrations
        conn.execute(text("CREATE TABLE drafts (key VARCHAR(300) NOT NULL, body TEXT NOT NULL, "
                          "updated_at TIMESTAMP WITH TIME ZONE NOT NULL, PRIMARY KEY (key))"
                          if engine.dialect.name == "postgresql" else
                          "CREATE TABLE drafts (key VARCHAR(300) NOT NULL, body TEXT NOT NULL, "
                          "updated_at DATETIME NOT NULL, PRIMARY KEY (key))"))
        conn.execute(text("INSERT INTO drafts VALUES ('k', 'draft', :t)"), {"t": datetime.now(UTC)})
    engine.dispose()
    store = Store(database_url)
    try:
        assert store.get_draft("k") == "draft"
    finally:
        store.close()
    assert schema_diff(database_url) == []


def test_opening_a_migrated_database_again_changes_nothing(database_url: str) -> None:
    Store(database_url).close()
    second = Store(database_url)
    with second.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    second.close()


def test_two_processes_worth_of_stores_opening_at_once_migrate_once(tmp_path: Path) -> None:
    import threading

    url = f"sqlite:///{tmp_path / 'race.db'}"
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            Store(url).close()
        except BaseException as err:  # noqa: BLE001 - collected for the assert below
            errors.append(err)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert schema_diff(url) == []


# ------------------------------------------------------------ bad URLs and drivers
@pytest.mark.parametrize(("url", "message"), [
    ("not a url", "the database URL (unparseable URL) is not a valid SQLAlchemy URL; fix: set "
                  "CHAINLOOM_DATABASE_URL (or --database-url) to e.g. sqlite:////path/to/chainloom.db "
                  "or postgresql+psycopg://user@host:5432/dbname"),
    ("nosuchdb://u:secret@h/db", "the database URL nosuchdb://u:***@h/db names an unknown database "
                                 "kind 'nosuchdb'; fix: set CHAINLOOM_DATABASE_URL (or --database-url) "
                                 "to e.g. sqlite:////path/to/chainloom.db or "
                                 "postgresql+psycopg://user@host:5432/dbname"),
    ("postgresql+psycopg2://u:secret@h/db", "the database URL postgresql+psycopg2://u:***@h/db needs "
                                            "the Python driver 'psycopg2', which is not installed; fix: "
                                            "pip install 'chainloom[postgres]'"),
    ("mysql+pymysql://u:secret@h/db", "the database URL mysql+pymysql://u:***@h/db needs the Python "
                                      "driver 'pymysql', which is not installed; fix: pip install pymysql"),
])
def test_a_bad_url_or_a_missing_driver_is_one_clear_line(url: str, message: str) -> None:
    with pytest.raises(StoreUnavailable) as err:
        Store(url)
    assert err.value.message == message
    assert "secret" not in str(err.value)


def test_an_unreachable_server_names_the_url_without_its_password() -> None:
    with pytest.raises(StoreUnavailable) as err:
        Store("postgresql://chainloom:hunter22@127.0.0.1:9/nodb?connect_timeout=2")
    message = err.value.message
    assert message.startswith("cannot open the database at "
                              "postgresql://chainloom:***@127.0.0.1:9/nodb?connect_timeout=2: connection failed: ")
    assert message.endswith("; fix: check that the database server is running and that the URL, "
                            "user and password are right (CHAINLOOM_DATABASE_URL or --database-url)")
    assert "\n" not in message and "hunter22" not in message


def test_the_migration_scripts_ship_inside_the_package() -> None:
    scripts = sorted(p.name for p in (migrate.MIGRATIONS / "versions").glob("0*.py"))
    assert scripts == ["0001_baseline.py", "0002_run_owner_and_approvals.py", "0003_drafts.py"]
    assert (migrate.MIGRATIONS / "env.py").is_file()
    assert (migrate.MIGRATIONS / "__init__.py").is_file()  # a package: installed with `engine`


def test_database_fixture_gives_each_postgres_test_its_own_schema(tmp_path: Path) -> None:
    with database("postgres", tmp_path) as first, database("postgres", tmp_path) as second:
        assert first != second
        Store(first).save_flow(make_flow(), None)
        assert Store(second).list_flows() == []
