"""Helpers for tool, agent, memory and chain tests: a real RunContext outside a run, a sample database."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

from engine.context import Redactor, RunContext, env_secret
from engine.events import Event

FLOWS = Path(__file__).resolve().parent.parent.parent / "flows"


def context(services: dict[str, Any] | None = None, session_id: str | None = None,
            events: list[Event] | None = None, node_id: str = "n") -> RunContext:
    """A real RunContext whose events land in `events`."""
    sink = events if events is not None else []
    return RunContext(run_id="r", node_id=node_id, node_type="test.node", emit=sink.append, flow_inputs={},
                      services=services or {}, state={}, session_id=session_id, secrets=env_secret,
                      redactor=Redactor(), cancelled=threading.Event())


def make_db(path: Path) -> Path:
    """A small SQLite database: customers and orders."""
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT);
        CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id),
                             total REAL NOT NULL);
        INSERT INTO customers VALUES (1, 'Ada', 'London'), (2, 'Grace', 'New York'), (3, 'Linus', 'Helsinki');
        INSERT INTO orders VALUES (1, 1, 20.5), (2, 1, 9.5), (3, 2, 100.0);
    """)
    conn.commit()
    conn.close()
    return path


def snapshot(path: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT * FROM customers UNION ALL SELECT id, customer_id, total FROM orders").fetchall()
    finally:
        conn.close()


class ReplayModel:
    """A ChatModel for node-level tests: replays replies and keeps every request it was sent.

    A reply is text, or (text, [(tool name, arguments), ...]) for tool calls. `delay` makes
    each call take that long (for time-limit tests); `tokens` is the usage reported per call.
    """

    provider = "scripted"

    def __init__(self, replies: list[Any], *, tokens: int = 15, delay: float = 0.0) -> None:
        self.replies = list(replies)
        self.requests: list[Any] = []
        self.tokens = tokens
        self.delay = delay

    async def complete(self, request: Any, on_token: Any) -> Any:
        import asyncio

        from nodes.support.messages import ToolCall
        from nodes.support.providers.base import Completion, Usage

        self.requests.append(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        if not self.replies:
            raise AssertionError("ReplayModel ran out of replies")
        reply = self.replies.pop(0)
        text, calls = (reply, []) if isinstance(reply, str) else reply
        n = len(self.requests)
        tool_calls = tuple(ToolCall(f"c{n}_{i}", name, args) for i, (name, args) in enumerate(calls))
        return Completion(text=text, usage=Usage(self.tokens - 5, 5), model="replay", tool_calls=tool_calls)
