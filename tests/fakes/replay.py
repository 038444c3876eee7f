"""The shared half of the fake provider servers: queued replies, recorded requests, a key check.

A `ReplayServer` runs an HTTP server on 127.0.0.1 in a thread. Each POST is recorded
(path, lower-cased headers, JSON body); a wrong key gets a 401 that quotes the key
back, as some servers do (so tests can prove keys never reach chainloom's errors or
traces); otherwise the next queued `Reply` decides the answer: an error status with
its message, or what the subclass's `answer` makes of it (JSON or server-sent events).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.local import LocalServer

TEST_KEY = "sk-test-PLANTED-42"


@dataclass
class Reply:
    """What the server sends for one call. `status` >= 400 sends `error` as the provider's error body."""

    text: str = "Hello from the fake server."
    status: int = 200
    error: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    usage: tuple[int, int] | None = (7, 5)
    finish_reason: str = "stop"
    model: str = ""
    pieces: list[str] | None = None  # stream chunks; default: word by word
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # [{"id", "name", "arguments": {...}}]
    delay: float = 0.0  # seconds to wait before answering (to make the client time out)
    piece_delay: float = 0.0  # seconds between streamed chunks
    gate: threading.Event | None = None  # when set: stream `hold_after` events, then wait for the gate
    hold_after: int = 2
    gate_opened: bool | None = None  # whether the gate opened before the server gave up waiting (10 s)

    def stream_pieces(self) -> list[str]:
        if self.pieces is not None:
            return self.pieces
        return [w if i == 0 else " " + w for i, w in enumerate(self.text.split(" "))] if self.text else []


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class ReplayServer(LocalServer):
    """Subclasses set `paths` (the routes served) and implement `answer` and `error_body`."""

    paths: tuple[str, ...] = ()
    url_path = ""

    def __init__(self, api_key: str | None = TEST_KEY) -> None:
        self.api_key = api_key
        self.replies: deque[Reply] = deque()
        self.requests: list[Recorded] = []
        LocalServer.__init__(self, _handler(self))

    def queue(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def next_reply(self) -> Reply:
        return self.replies.popleft() if self.replies else Reply()

    def answer(self, http: ReplyHandler, path: str, reply: Reply, body: dict[str, Any]) -> None:
        raise NotImplementedError

    def error_body(self, message: str, status: int) -> dict[str, Any]:
        raise NotImplementedError


class ReplyHandler(BaseHTTPRequestHandler):
    fake: ReplayServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output clean
        pass

    def do_POST(self) -> None:
        try:
            self._answer()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): nothing to tell it

    def _answer(self) -> None:
        fake = self.fake
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        fake.requests.append(Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        if self.path not in fake.paths:
            self.send_json(404, fake.error_body(f"no route {self.path}", 404))
            return
        given = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        if fake.api_key is not None and given != fake.api_key:
            self.send_json(401, fake.error_body(f"Incorrect API key provided: {given}.", 401))
            return
        reply = fake.next_reply()
        if reply.delay:
            time.sleep(reply.delay)
        if reply.status >= 400:
            self.send_json(reply.status, fake.error_body(reply.error or "failed", reply.status), reply.headers)
        else:
            fake.answer(self, self.path, reply, body)

    def send_json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def send_events(self, events: Iterable[dict[str, Any]], *, named: bool, done: bool,
                    reply: Reply | None = None) -> None:
        """Server-sent events, one JSON object each (with `event: <type>` lines when `named`)."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()  # HTTP/1.0: the body ends when the connection closes
        for n, event in enumerate(events, 1):
            head = f"event: {event['type']}\n".encode() if named else b""
            self.wfile.write(head + b"data: " + json.dumps(event).encode() + b"\n\n")
            self.wfile.flush()
            if reply is not None and reply.piece_delay:
                time.sleep(reply.piece_delay)
            if reply is not None and reply.gate is not None and n == reply.hold_after:
                reply.gate_opened = reply.gate.wait(timeout=10)
        if done:
            self.wfile.write(b"data: [DONE]\n\n")


def _handler(fake: ReplayServer) -> type[ReplyHandler]:
    return type("Handler", (ReplyHandler,), {"fake": fake})
