"""A fake Cohere server on 127.0.0.1 speaking API v2 chat, for the real `cohere` client.

POST /v2/chat answers with a V2 chat response, or, when the body says
`"stream": true`, with Cohere's named server-sent events: message-start,
content-start/delta/end, tool-call-start/delta/end, message-end (finish reason and
token usage). Queue `Reply` objects as for the OpenAI fake; errors come back as
Cohere's `{"message": ...}` bodies. Point the client's `base_url` at `server.url`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes.replay import TEST_KEY, ReplayServer, Reply, ReplyHandler

__all__ = ["TEST_KEY", "FakeCohereServer", "Reply", "cohere_server"]

FINISH = {"stop": "COMPLETE", "length": "MAX_TOKENS", "tool_calls": "TOOL_CALL"}


class FakeCohereServer(ReplayServer):
    paths = ("/v2/chat",)

    def __enter__(self) -> FakeCohereServer:
        super().__enter__()
        return self

    def error_body(self, message: str, status: int) -> dict[str, Any]:
        return {"id": "fake-error", "message": message}

    def answer(self, http: ReplyHandler, path: str, reply: Reply, body: dict[str, Any]) -> None:
        if body.get("stream"):
            http.send_events(stream_events(reply), named=True, done=False, reply=reply)
        else:
            http.send_json(200, chat_response(reply), reply.headers)


def _usage(reply: Reply) -> dict[str, Any] | None:
    if reply.usage is None:
        return None
    p, c = reply.usage
    return {"billed_units": {"input_tokens": p, "output_tokens": c},
            "tokens": {"input_tokens": p + 100, "output_tokens": c}}  # tokens include Cohere's preamble


def _calls(reply: Reply) -> list[dict[str, Any]]:
    return [{"id": c.get("id", f"call_{i}"), "type": "function",
             "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])}}
            for i, c in enumerate(reply.tool_calls)]


def _finish(reply: Reply) -> str:
    return FINISH.get(reply.finish_reason, reply.finish_reason)


def chat_response(reply: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant",
                               "content": [{"type": "text", "text": reply.text}] if reply.text else []}
    if reply.tool_calls:
        message["tool_calls"] = _calls(reply)
        message["tool_plan"] = "I will call the tool."
    out: dict[str, Any] = {"id": "fake-chat", "finish_reason": _finish(reply), "message": message}
    if reply.usage is not None:
        out["usage"] = _usage(reply)
    return out


def stream_events(reply: Reply) -> Iterator[dict[str, Any]]:
    yield {"type": "message-start", "id": "fake-chat",
           "delta": {"message": {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [],
                                 "citations": []}}}
    pieces = reply.stream_pieces()
    if pieces:
        yield {"type": "content-start", "index": 0, "delta": {"message": {"content": {"type": "text", "text": ""}}}}
        for piece in pieces:
            yield {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": piece}}}}
        yield {"type": "content-end", "index": 0}
    for i, call in enumerate(_calls(reply)):
        args = call["function"]["arguments"]
        start = {**call, "function": {"name": call["function"]["name"], "arguments": ""}}
        yield {"type": "tool-call-start", "index": i, "delta": {"message": {"tool_calls": start}}}
        for part in (args[:len(args) // 2], args[len(args) // 2:]):
            yield {"type": "tool-call-delta", "index": i,
                   "delta": {"message": {"tool_calls": {"function": {"arguments": part}}}}}
        yield {"type": "tool-call-end", "index": i}
    end: dict[str, Any] = {"finish_reason": _finish(reply)}
    if reply.usage is not None:
        end["usage"] = _usage(reply)
    yield {"type": "message-end", "delta": end}


@pytest.fixture
def cohere_server() -> Iterator[FakeCohereServer]:
    with FakeCohereServer() as server:
        yield server
