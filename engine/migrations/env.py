"""Alembic's environment for the run store: migrations run on a connection the store hands over.

`engine.migrate.upgrade()` puts the connection in `config.attributes["connection"]`;
`alembic -x url=sqlite:///path revision -m "..."` (run from engine/migrations, with
`-c` pointing at no ini file) works too, for writing new revisions.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from engine.store import metadata

config = context.config
connection = config.attributes.get("connection")


def _run(conn: object) -> None:
    context.configure(connection=conn, target_metadata=metadata,  # type: ignore[arg-type]
                      render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url", "sqlite://")
    with create_engine(url).connect() as own:
        _run(own)
        own.commit()
