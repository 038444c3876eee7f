"""A fake OpenAI-compatible server on 127.0.0.1, for testing providers with the real client.

`FakeOpenAIServer` answers POST /v1/chat/completions (and the legacy
/v1/completions) like OpenAI does: a JSON completion, or server-sent events ending
in an optional usage chunk and [DONE]; tool calls come whole, or streamed in
pieces as OpenAI sends them. Queue `Reply` objects to choose what the next calls
get (text, tool calls, status, headers, a delay before answering); every request
is recorded (path, headers, JSON body) for assertions. A wrong key gets a 401
whose message quotes the key back, as some servers do, so tests can prove the key
never reaches chainloom's errors or traces.

Use the `openai_server` fixture, or `with FakeOpenAIServer() as server:`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes.replay import TEST_KEY, Recorded, ReplayServer, Reply, ReplyHandler

__all__ = ["TEST_KEY", "FakeOpenAIServer", "Recorded", "Reply", "openai_server"]


class FakeOpenAIServer(ReplayServer):
    paths = ("/v1/chat/completions", "/v1/completions")
    url_path = "/v1"

    def __enter__(self) -> FakeOpenAIServer:
        super().__enter__()
        return self

    def error_body(self, message: str, status: int) -> dict[str, Any]:
        code = {401: "invalid_api_key", 404: "not_found"}.get(status, "error")
        return {"error": {"message": message, "type": "invalid_request_error" if status == 401 else "error",
                          "code": code}}

    def answer(self, http: ReplyHandler, path: str, reply: Reply, body: dict[str, Any]) -> None:
        text = path == "/v1/completions"
        if body.get("stream"):
            events = text_chunks(reply, body) if text else stream_chunks(reply, body)
            http.send_events(events, named=False, done=True, reply=reply)
        else:
            http.send_json(200, text_completion(reply, body) if text else completion(reply, body), reply.headers)


def _usage(reply: Reply) -> dict[str, int] | None:
    if reply.usage is None:
        return None
    p, c = reply.usage
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def _wire_calls(reply: Reply) -> list[dict[str, Any]]:
    return [{"id": c.get("id", f"call_{i}"), "type": "function",
             "function": {"name": c["name"], "arguments": c["arguments"] if isinstance(c["arguments"], str)
                          else json.dumps(c["arguments"])}}
            for i, c in enumerate(reply.tool_calls)]


def completion(reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.tool_calls:
        message["tool_calls"] = _wire_calls(reply)
    out: dict[str, Any] = {
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 0,
        "model": reply.model or body.get("model", ""),
        "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason}],
    }
    if reply.usage is not None:
        out["usage"] = _usage(reply)
    return out


def stream_chunks(reply: Reply, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    model = reply.model or body.get("model", "")

    def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    yield chunk({"role": "assistant", "content": ""}, None)
    for piece in reply.stream_pieces():
        yield chunk({"content": piece}, None)
    for i, call in enumerate(_wire_calls(reply)):  # as OpenAI does: id and name, then the arguments in parts
        args = call["function"]["arguments"]
        yield chunk({"tool_calls": [{"index": i, "id": call["id"], "type": "function",
                                     "function": {"name": call["function"]["name"], "arguments": ""}}]}, None)
        for part in (args[:len(args) // 2], args[len(args) // 2:]):
            yield chunk({"tool_calls": [{"index": i, "function": {"arguments": part}}]}, None)
    yield chunk({}, reply.finish_reason)
    wants_usage = (body.get("stream_options") or {}).get("include_usage")
    if wants_usage and reply.usage is not None:
        yield {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model,
               "choices": [], "usage": _usage(reply)}


def text_completion(reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": "cmpl-fake", "object": "text_completion", "created": 0,
                           "model": reply.model or body.get("model", ""),
                           "choices": [{"index": 0, "text": reply.text, "finish_reason": reply.finish_reason,
                                        "logprobs": None}]}
    if reply.usage is not None:
        out["usage"] = _usage(reply)
    return out


def text_chunks(reply: Reply, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    model = reply.model or body.get("model", "")

    def chunk(text: str, finish: str | None) -> dict[str, Any]:
        return {"id": "cmpl-fake", "object": "text_completion", "created": 0, "model": model,
                "choices": [{"index": 0, "text": text, "finish_reason": finish, "logprobs": None}]}

    for piece in reply.stream_pieces():
        yield chunk(piece, None)
    yield chunk("", reply.finish_reason)
    if (body.get("stream_options") or {}).get("include_usage") and reply.usage is not None:
        yield {"id": "cmpl-fake", "object": "text_completion", "created": 0, "model": model, "choices": [],
               "usage": _usage(reply)}


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server
