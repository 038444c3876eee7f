"""Chat through the real `openai` client: OpenAI itself or any OpenAI-compatible server.

Ollama, llama.cpp's server, vLLM and LM Studio speak the same protocol at their
own `base_url` (empty: OPENAI_BASE_URL when set, as the SDK does, else OpenAI).
Streaming asks for a final usage chunk; streamed tool calls are put together from
their pieces. `text_mode` uses the legacy completions endpoint
(gpt-3.5-turbo-instruct, and the text models of local servers). The client makes no
retries of its own (nodes/support/providers/retry.py decides) and is created per call,
because it belongs to the event loop of the run. Errors are translated: auth,
bad requests and unknown models become PermanentError; rate limits, server
errors and network trouble become ProviderError. Messages never contain the key.
"""

from __future__ import annotations

import json
import os
from typing import Any

from nodes.support.messages import Message, ToolCall, decode_arguments
from nodes.support.providers.base import ChatRequest, Completion, ProviderError, TokenSink, Usage
from nodes.support.providers.errors import cause, connection_error, http_error, server_message, timeout_error
from nodes.support.providers.http import openai_http_client
from nodes.support.providers.retry import parse_retry_after

OPENAI_URL = "https://api.openai.com/v1"
NO_KEY = "no-key-needed"  # sent when api_key_env is empty: local servers ignore it, the client needs one


class OpenAICompatModel:
    provider = "openai"

    def __init__(self, *, api_key: str, base_url: str = "", key_env: str = "") -> None:
        self.api_key = api_key or NO_KEY
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_URL
        self.key_env = key_env

    async def complete(self, request: ChatRequest, on_token: TokenSink) -> Completion:
        import openai  # noqa: PLC0415 - the SDK is heavy; only flows that use it pay for it

        client = openai.AsyncOpenAI(api_key=self.api_key, base_url=self.base_url, max_retries=0,
                                    timeout=request.timeout_s, http_client=openai_http_client(request.timeout_s))
        try:
            async with client:
                if request.text_mode:
                    return await _text(client, request, on_token)
                if request.stream:
                    return await self._streamed(client, request, on_token)
                return await self._whole(client, request, on_token)
        except openai.OpenAIError as err:
            raise self._translate(err, request) from err

    async def _whole(self, client: Any, request: ChatRequest, on_token: TokenSink) -> Completion:
        response = await client.chat.completions.create(**chat_params(request), stream=False)
        if not response.choices:
            raise ProviderError(f"{self.base_url} answered with no choices", hint="check the model name")
        choice = response.choices[0]
        text = choice.message.content or ""
        on_token(text)
        calls = tuple(ToolCall(c.id or "", c.function.name, decode_arguments(c.function.arguments or ""))
                      for c in choice.message.tool_calls or ())
        return Completion(text=text, usage=_usage(response.usage), model=response.model or request.model,
                          finish_reason=choice.finish_reason, tool_calls=calls)

    async def _streamed(self, client: Any, request: ChatRequest, on_token: TokenSink) -> Completion:
        stream = await client.chat.completions.create(**chat_params(request), stream=True,
                                                      stream_options={"include_usage": True})
        pieces: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        usage: Usage | None = None
        model, finish = request.model, None
        async for chunk in stream:
            model = chunk.model or model
            if chunk.usage is not None:
                usage = _usage(chunk.usage)
            for choice in chunk.choices[:1]:
                finish = choice.finish_reason or finish
                delta = choice.delta
                if delta is None:
                    continue
                if delta.content:
                    pieces.append(delta.content)
                    on_token(delta.content)
                for call in delta.tool_calls or ():
                    _merge_call_delta(calls, call)
        tool_calls = tuple(ToolCall(c["id"], c["name"], decode_arguments(c["arguments"]))
                           for _, c in sorted(calls.items()))
        return Completion(text="".join(pieces), usage=usage, model=model, finish_reason=finish,
                          tool_calls=tool_calls)

    def _translate(self, err: Exception, request: ChatRequest) -> Exception:
        """The error a user can act on, from the SDK's exception (never quoting the key)."""
        import openai  # noqa: PLC0415 - heavy SDK: loaded on first use

        where = self.base_url
        if isinstance(err, openai.APITimeoutError):
            return timeout_error(where, request.timeout_s)
        if isinstance(err, openai.APIConnectionError):
            return connection_error(where, err, hint="check base_url and that the server is running "
                                                     "(for Ollama: `ollama serve`)")
        if not isinstance(err, openai.APIStatusError):
            return ProviderError(f"{where} sent a reply that could not be read: {cause(err)}")
        return http_error(where, err.status_code, server_message(err.body, err.message), model=request.model,
                          key_env=self.key_env, retry_after=parse_retry_after(err.response.headers),
                          not_found_hint="check the model name and base_url (they must end in /v1 for "
                                         "most servers)")


def chat_params(request: ChatRequest) -> dict[str, Any]:
    """The chat-completions body for `request` (without `stream`)."""
    params: dict[str, Any] = {"model": request.model, "messages": [_wire_message(m) for m in request.messages]}
    params.update(_sampling(request))
    if request.json_mode:
        params["response_format"] = {"type": "json_object"}
    if request.tools:
        params["tools"] = [{"type": "function", "function": {"name": t.name, "description": t.description,
                                                             "parameters": t.parameters}}
                           for t in request.tools]
        params["tool_choice"] = request.tool_choice
    return params


def _sampling(request: ChatRequest) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if request.temperature is not None:
        out["temperature"] = request.temperature
    if request.max_tokens is not None:
        out["max_tokens"] = request.max_tokens
    if request.stop:
        out["stop"] = list(request.stop)
    if request.seed is not None:
        out["seed"] = request.seed
    return out


def _wire_message(m: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"role": m.role, "content": m.content}
    if m.tool_calls:
        out["tool_calls"] = [{"id": c.id, "type": "function",
                              "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
                             for c in m.tool_calls]
    if m.tool_call_id:
        out["tool_call_id"] = m.tool_call_id
    return out


def _merge_call_delta(calls: dict[int, dict[str, str]], delta: Any) -> None:
    """Streamed tool calls arrive in pieces keyed by index: the id and name first, then argument text."""
    call = calls.setdefault(delta.index or 0, {"id": "", "name": "", "arguments": ""})
    call["id"] = delta.id or call["id"]
    if delta.function is not None:
        call["name"] = delta.function.name or call["name"]
        call["arguments"] += delta.function.arguments or ""


async def _text(client: Any, request: ChatRequest, on_token: TokenSink) -> Completion:
    """The legacy completions endpoint (gpt-3.5-turbo-instruct and local text models)."""
    params = {"model": request.model, "prompt": request.prompt_text, **_sampling(request)}
    if not request.stream:
        response = await client.completions.create(**params, stream=False)
        choice = response.choices[0] if response.choices else None
        text = choice.text if choice is not None else ""
        on_token(text)
        return Completion(text=text, usage=_usage(response.usage), model=response.model or request.model,
                          finish_reason=choice.finish_reason if choice is not None else None)
    stream = await client.completions.create(**params, stream=True, stream_options={"include_usage": True})
    pieces: list[str] = []
    usage, model, finish = None, request.model, None
    async for chunk in stream:
        model = chunk.model or model
        usage = _usage(chunk.usage) or usage
        for choice in chunk.choices[:1]:
            finish = choice.finish_reason or finish
            if choice.text:
                pieces.append(choice.text)
                on_token(choice.text)
    return Completion(text="".join(pieces), usage=usage, model=model, finish_reason=finish)


def _usage(raw: Any) -> Usage | None:
    if raw is None:
        return None
    return Usage(int(getattr(raw, "prompt_tokens", 0) or 0), int(getattr(raw, "completion_tokens", 0) or 0))
