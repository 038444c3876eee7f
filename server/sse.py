"""Server-Sent Events: the engine's event dicts as `text/event-stream` frames.

Each frame is `id: <seq>`, `event: <kind>` (run.started, node.token, ...) and one
`data:` line holding the event as JSON, so any SSE client (EventSource, httpx,
curl -N) reads the same events the trace holds. A comment line is sent when
nothing happened for a while, so proxies keep the connection open.
"""

from __future__ import annotations

from typing import Any

import orjson

MEDIA_TYPE = "text/event-stream"
KEEPALIVE = b": keep-alive\n\n"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _default(value: Any) -> Any:
    for method in ("model_dump", "to_dict"):
        fn = getattr(value, method, None)
        if callable(fn):
            return fn(mode="json") if method == "model_dump" else fn()
    return str(value)


def dumps(value: Any) -> bytes:
    """Compact JSON for values that may hold non-JSON objects (written as text)."""
    return orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS)


def frame(event: dict[str, Any]) -> bytes:
    """One SSE frame for one engine event dict (JSON never holds a raw newline)."""
    seq = event.get("seq")
    head = f"id: {seq}\n".encode() if isinstance(seq, int) else b""
    kind = str(event.get("kind", "message")).replace("\n", " ")
    return head + b"event: " + kind.encode() + b"\ndata: " + dumps(event) + b"\n\n"


def error_frame(message: str, code: str = "internal") -> bytes:
    return b"event: error\ndata: " + dumps({"kind": "error", "code": code, "message": message}) + b"\n\n"


def parse(text: str) -> list[dict[str, Any]]:
    """Frames of an SSE stream as dicts {id, event, data} (for tests and the benchmark)."""
    frames: list[dict[str, Any]] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, Any] = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            fields[name] = fields[name] + "\n" + value if name == "data" and "data" in fields else value
        if fields:
            frames.append(fields)
    return frames
