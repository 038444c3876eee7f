"""chainloom's canvas: a Streamlit custom component (React Flow 12 + elk) and its wrapper.

`canvas(...)` draws the graph Python gives it and returns the component's latest
message; `unapplied(message, ack)` picks the batches of ops Python has not applied
yet (Streamlit returns the same last message on every rerun). The contract, args
and ops, is PROTOCOL.md next to this file. The built bundle ships in
`frontend/dist`, so installing chainloom needs no Node.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DIST = Path(__file__).resolve().parent / "frontend" / "dist"
DEV_URL_ENV = "CHAINLOOM_CANVAS_DEV_URL"   # e.g. http://localhost:5173 (Vite dev server)
NAME = "chainloom_canvas"


@dataclass(frozen=True, slots=True)
class Batch:
    """One `setComponentValue` batch: ops made on top of graph revision `base`."""

    seq: int
    base: int
    ops: list[dict[str, Any]]


def unapplied(message: Mapping[str, Any] | None, ack: int) -> list[Batch]:
    """The batches of `message` with seq > `ack`, oldest first (none for None)."""
    if not isinstance(message, Mapping):
        return []
    raw = message.get("pending")
    if not isinstance(raw, list):   # a message without `pending` is its own only batch
        raw = [message]
    batches = []
    for item in raw:
        if not isinstance(item, Mapping):
            continue
        seq, base, ops = item.get("seq"), item.get("base", 0), item.get("ops")
        if isinstance(seq, int) and seq > ack and isinstance(ops, list):
            batches.append(Batch(seq, int(base) if isinstance(base, int) else 0,
                                 [op for op in ops if isinstance(op, dict)]))
    return sorted(batches, key=lambda b: b.seq)


_component: Any = None


def _declared() -> Any:
    """Declare the component once per process (the dev URL wins when set)."""
    global _component
    if _component is None:
        import streamlit.components.v1 as components  # noqa: PLC0415 - only the app needs Streamlit

        dev = os.environ.get(DEV_URL_ENV)
        if dev:
            _component = components.declare_component(NAME, url=dev)
        else:
            if not (DIST / "index.html").is_file():
                raise FileNotFoundError(
                    f"the canvas bundle is missing at {DIST}; fix: run `npm ci && npm run build` "
                    f"in {DIST.parent}, or set {DEV_URL_ENV} to a running Vite dev server")
            _component = components.declare_component(NAME, path=str(DIST))
    return _component


def canvas(*, graph: Mapping[str, Any], revision: int, ack: int, catalog: list[dict[str, Any]],
           compat: Mapping[str, list[str]], statuses: Mapping[str, Any] | None = None,
           selected: str | None = None, examples: list[dict[str, Any]] | None = None,
           options: Mapping[str, Any] | None = None, notice: Mapping[str, Any] | None = None,
           key: str = "canvas") -> dict[str, Any] | None:
    """Draw the canvas; return its latest message (see PROTOCOL.md) or None."""
    opts = {"height": 720, "minimap": "auto", "palette": True, **(options or {})}
    value = _declared()(graph=graph, revision=revision, ack=ack, catalog=catalog, compat=compat,
                        statuses=statuses or {}, selected=selected, examples=examples or [],
                        options=opts, notice=notice, key=key, default=None)
    return value if isinstance(value, dict) else None
