"""OpenAI's wire shapes for flows served as models: the request, completions, chunks, errors.

A chat request maps onto a flow's inputs here (`flow_inputs`); the routes in
`server.routes_openai` run it. Generation parameters (temperature, max_tokens, ...)
are accepted and ignored: the flow's own node config decides them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from engine.flow import Flow
from server.errors import ApiError

CHAT_INPUT = "input.chat"
MESSAGES_INPUT = "input.messages"
ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 403: "permission_error",
               404: "invalid_request_error", 409: "invalid_request_error", 413: "invalid_request_error",
               429: "rate_limit_error", 503: "server_error"}


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str = Field(max_length=50)
    text: str | None = Field(None, max_length=1_000_000)


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = Field(None, max_length=200)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatRequest(BaseModel):
    """The body of POST /v1/chat/completions; unknown OpenAI parameters are ignored."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)
    model: str = Field(min_length=1, max_length=200, description="The saved flow's id (or unique name).")
    messages: list[ChatMessage] = Field(min_length=1, max_length=10_000)
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = Field(None, max_length=200, description="The chat memory session id.")
    n: int | None = Field(None, ge=1, le=128)


def openai_error(err: ApiError) -> dict[str, Any]:
    """`{"error": {"message", "type", "param", "code"}}`, with the hint folded into the message."""
    message = f"{err.message}; {err.hint}" if err.hint else err.message
    issues = err.issues
    if issues:
        first = issues[0]
        where = ", ".join(str(first[k]) for k in ("node", "field") if first.get(k))
        message += f" ({where}: {first.get('message', '')})" if where else f" ({first.get('message', '')})"
    kind = "server_error" if err.status >= 500 else ERROR_TYPES.get(err.status, "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": err.extra.get("param"), "code": err.code}}


def bad_request(message: str, param: str | None, hint: str = "", code: str = "invalid_value") -> ApiError:
    return ApiError(400, code, message, hint=hint, param=param)


def text_of(message: ChatMessage) -> str:
    """The message's text: a string, or its text parts joined (other parts are refused)."""
    content = message.content
    if content is None or isinstance(content, str):
        return content or ""
    parts = []
    for part in content:
        if part.type != "text" or part.text is None:
            raise bad_request(f"a message part of type '{part.type}' cannot be given to a flow",
                              "messages", hint="send text parts only (type 'text')")
        parts.append(part.text)
    return "".join(parts)


@dataclass(frozen=True)
class ServedFlow:
    """How a flow takes a chat: its chat input's name, its messages input's name, its answer output."""

    chat: str | None
    messages: str | None
    answer: str | None

    @property
    def servable(self) -> bool:
        return self.chat is not None or self.messages is not None


def served(flow: Flow) -> ServedFlow:
    def first_name(kinds: tuple[str, ...]) -> str | None:
        for node in flow.nodes:
            if node.type in kinds:
                return str(node.config.get("name") or ("message" if node.type == CHAT_INPUT else node.id))
        return None

    answer = first_name(("output.chat",)) or first_name(("output.text",)) or first_name(("output.json",))
    return ServedFlow(first_name((CHAT_INPUT,)), first_name((MESSAGES_INPUT,)), answer)


def flow_inputs(flow: ServedFlow, messages: list[ChatMessage]) -> dict[str, Any]:
    """The last user message to the chat input; the messages before it to the messages input.

    A flow with a messages input only gets the whole conversation there."""
    if flow.chat is None:
        return {str(flow.messages): [{"role": m.role, "content": text_of(m)} for m in messages]}
    last = messages[-1]
    if last.role != "user":
        raise bad_request(f"the last message must be the user's; got role '{last.role}'", "messages",
                          hint="end `messages` with {\"role\": \"user\", \"content\": ...}")
    inputs: dict[str, Any] = {flow.chat: text_of(last)}
    if flow.messages is not None:
        inputs[flow.messages] = [{"role": m.role, "content": text_of(m)} for m in messages[:-1]]
    return inputs


def answer_text(outputs: dict[str, Any], name: str | None) -> str:
    """The flow's answer as text: its chat output's content, or the named output (JSON unless text)."""
    value = outputs.get(name) if name is not None else next(iter(outputs.values()), "")
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return str(value["content"])
    if value is None:
        return ""
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def usage_of(usage: dict[str, Any]) -> dict[str, int]:
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": int(usage.get("total_tokens") or prompt + completion)}


def completion(run_id: str, model: str, content: str, usage: dict[str, Any], version: int) -> dict[str, Any]:
    return {"id": f"chatcmpl-{run_id}", "object": "chat.completion", "created": int(time.time()),
            "model": model, "system_fingerprint": f"chainloom-v{version}",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": None},
                         "logprobs": None, "finish_reason": "stop"}],
            "usage": usage_of(usage)}


@dataclass
class ChunkMaker:
    """`chat.completion.chunk` objects of one streamed answer (one id and `created` for all)."""

    run_id: str
    model: str
    version: int
    include_usage: bool
    created: int = 0

    def __post_init__(self) -> None:
        self.created = self.created or int(time.time())

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": f"chatcmpl-{self.run_id}", "object": "chat.completion.chunk", "created": self.created,
            "model": self.model, "system_fingerprint": f"chainloom-v{self.version}",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        if self.include_usage:
            out["usage"] = None
        return out

    def usage_chunk(self, usage: dict[str, Any]) -> dict[str, Any]:
        out = self.chunk({})
        out["choices"] = []
        out["usage"] = usage_of(usage)
        return out
