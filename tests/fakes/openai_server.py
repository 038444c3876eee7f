"""A fake OpenAI-compatible chat server on 127.0.0.1, for testing providers with the real client.

`FakeOpenAIServer` answers POST /v1/chat/completions like OpenAI does: a JSON
completion, or server-sent events ending in an optional usage chunk and [DONE].
Queue `Reply` objects to choose what the next calls get (text, status, headers);
every request is recorded (path, headers, JSON body) for assertions. A wrong key
gets a 401 whose message quotes the key back, as some servers do, so tests can
prove the key never reaches chainloom's errors or traces.

Use the `openai_server` fixture, or `with FakeOpenAIServer() as server:`.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

TEST_KEY = "sk-test-planted-secret-4242"


@dataclass
class Reply:
    """What the server sends for one call. `status` >= 400 sends `error` as OpenAI's error body."""

    text: str = "Hello from the fake server."
    status: int = 200
    error: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    usage: tuple[int, int] | None = (7, 5)
    finish_reason: str = "stop"
    model: str = ""
    pieces: list[str] | None = None  # stream chunks; default: word by word


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class FakeOpenAIServer:
    def __init__(self, api_key: str | None = TEST_KEY) -> None:
        self.api_key = api_key
        self.replies: deque[Reply] = deque()
        self.requests: list[Recorded] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def queue(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def __enter__(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def next_reply(self) -> Reply:
        return self.replies.popleft() if self.replies else Reply()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append(Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                if self.path != "/v1/chat/completions":
                    self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                    return
                given = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                if fake.api_key is not None and given != fake.api_key:
                    self._json(401, {"error": {"message": f"Incorrect API key provided: {given}.",
                                               "type": "invalid_request_error", "code": "invalid_api_key"}})
                    return
                reply = fake.next_reply()
                if reply.status >= 400:
                    self._json(reply.status, {"error": {"message": reply.error or "failed", "type": "error"}},
                               reply.headers)
                elif body.get("stream"):
                    self._stream(reply, body)
                else:
                    self._json(200, completion(reply, body), reply.headers)

            def _json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, reply: Reply, body: dict[str, Any]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()  # HTTP/1.0: the body ends when the connection closes
                for chunk in stream_chunks(reply, body):
                    self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")

        return Handler


def _usage(reply: Reply) -> dict[str, int] | None:
    if reply.usage is None:
        return None
    p, c = reply.usage
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def completion(reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 0,
        "model": reply.model or body.get("model", ""),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.text},
                     "finish_reason": reply.finish_reason}],
    }
    if reply.usage is not None:
        out["usage"] = _usage(reply)
    return out


def stream_chunks(reply: Reply, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    model = reply.model or body.get("model", "")
    pieces = reply.pieces if reply.pieces is not None else [
        w if i == 0 else " " + w for i, w in enumerate(reply.text.split(" "))]

    def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    yield chunk({"role": "assistant", "content": ""}, None)
    for piece in pieces:
        yield chunk({"content": piece}, None)
    yield chunk({}, reply.finish_reason)
    wants_usage = (body.get("stream_options") or {}).get("include_usage")
    if wants_usage and reply.usage is not None:
        yield {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model,
               "choices": [], "usage": _usage(reply)}


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server
