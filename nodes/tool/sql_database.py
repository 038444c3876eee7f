"""`tool.sql_database`: a toolkit to list tables, describe a table and run a read-only query.

The database itself (read-only connections, one SELECT per call, rows and time
capped, built from a .sql script when asked) is nodes/support/sql_database.py.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from pydantic import Field

from engine.node import NodeSpec, node
from engine.ports import Port, PortType
from nodes.support.sql_database import DatabaseConfig, ReadOnlyDatabase, open_database
from nodes.support.tools import Tool, gated, object_schema

if TYPE_CHECKING:
    from engine.context import RunContext


def sql_tools(db: ReadOnlyDatabase, prefix: str = "sql") -> list[Tool]:
    async def list_tables(args: dict[str, Any], ctx: RunContext) -> str:
        return ", ".join(await asyncio.to_thread(db.tables)) or "(no tables)"

    async def schema(args: dict[str, Any], ctx: RunContext) -> str:
        return str(await asyncio.to_thread(db.schema, args["table"]))

    async def query(args: dict[str, Any], ctx: RunContext) -> str:
        return (await asyncio.to_thread(db.query, args["query"])).as_table()

    return [
        Tool(f"{prefix}_list_tables", "Lists the tables of the database. Call it first.", object_schema({}),
             list_tables, kind="sql"),
        Tool(f"{prefix}_schema", "Shows a table's columns, keys and a few example rows.",
             object_schema({"table": {"type": "string"}}, ["table"]), schema, kind="sql"),
        Tool(f"{prefix}_query", f"Runs one read-only SELECT and returns up to {db.max_rows} rows. Check "
             "table and column names with the schema tool first.",
             object_schema({"query": {"type": "string", "description": "One SQL SELECT statement."}}, ["query"]),
             query, kind="sql"),
    ]


class SqlToolkitConfig(DatabaseConfig):
    prefix: str = Field("sql", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,20}$",
                        description="Tool names start with this: <prefix>_list_tables, _schema, _query.")


@node("tool.sql_database", title="SQL database toolkit", config=SqlToolkitConfig, cacheable=False,
      outputs=[Port("tools", PortType.TOOL, "Three tools: list tables, table schema, read-only query."),
               Port("tables", PortType.JSON, "The database's table names.")],
      description="Gives an agent a database it can explore and query, read-only: one SELECT per call, "
                  "rows and time capped.")
def sql_toolkit_node(config: SqlToolkitConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    db = open_database(config, ctx)
    return {"tools": gated(sql_tools(db, config.prefix), ctx), "tables": db.tables()}


SPECS: tuple[NodeSpec, ...] = (sql_toolkit_node,)
