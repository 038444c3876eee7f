"""Chat through the real `cohere` client (API v2): streaming, JSON mode, tools, token usage.

The endpoint is `base_url`, else CO_API_URL (as the SDK does), else Cohere's own.
The client is created per call on its own httpx client (closed afterwards), with
no retries of its own (nodes/support/providers/retry.py decides). Cohere retired its text
`generate` endpoint, so `text_mode` sends the prompt as one chat message. Usage is
Cohere's billed units (what the price table prices), else its raw token count. Errors are
translated as for every HTTP provider (nodes/support/providers/errors.py).
"""

from __future__ import annotations

import json
import os
from typing import Any

from nodes.support.messages import Message, ToolCall, decode_arguments
from nodes.support.providers.base import ChatRequest, Completion, ProviderError, TokenSink, Usage
from nodes.support.providers.errors import cause, connection_error, http_error, server_message, timeout_error
from nodes.support.providers.http import async_http_client
from nodes.support.providers.retry import parse_retry_after

COHERE_URL = "https://api.cohere.com"
FINISH = {"COMPLETE": "stop", "STOP_SEQUENCE": "stop", "MAX_TOKENS": "length", "TOOL_CALL": "tool_calls",
          "ERROR": "error", "TIMEOUT": "error"}


class CohereModel:
    provider = "cohere"

    def __init__(self, *, api_key: str, base_url: str = "", key_env: str = "") -> None:
        self.api_key = api_key or "no-key-needed"
        self.base_url = (base_url or os.environ.get("CO_API_URL") or COHERE_URL).rstrip("/")
        self.key_env = key_env

    async def complete(self, request: ChatRequest, on_token: TokenSink) -> Completion:
        import cohere  # noqa: PLC0415 - the SDK is heavy; only flows that use it pay for it
        import httpx  # noqa: PLC0415 - heavy SDK: loaded on first use
        from cohere.core.api_error import ApiError  # noqa: PLC0415 - heavy SDK: loaded on first use

        async with async_http_client(request.timeout_s) as http:
            client = cohere.AsyncClientV2(api_key=self.api_key, base_url=self.base_url, timeout=request.timeout_s,
                                          max_retries=0, httpx_client=http)
            try:
                if request.stream:
                    return await self._streamed(client, request, on_token)
                return await self._whole(client, request, on_token)
            except ApiError as err:
                raise self._status_error(err, request) from err
            except httpx.TimeoutException as err:
                raise timeout_error(self.base_url, request.timeout_s) from err
            except httpx.TransportError as err:
                raise connection_error(self.base_url, err, hint="check base_url and your network") from err

    async def _whole(self, client: Any, request: ChatRequest, on_token: TokenSink) -> Completion:
        response = await client.chat(**_params(request))
        message = response.message
        text = "".join(getattr(part, "text", "") or "" for part in message.content or ())
        on_token(text)
        calls = tuple(ToolCall(c.id, c.function.name, decode_arguments(c.function.arguments or ""))
                      for c in message.tool_calls or () if c.function is not None)
        return Completion(text=text, usage=_usage(response.usage), model=request.model,
                          finish_reason=FINISH.get(str(response.finish_reason), response.finish_reason),
                          tool_calls=calls)

    async def _streamed(self, client: Any, request: ChatRequest, on_token: TokenSink) -> Completion:
        pieces: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        usage: Usage | None = None
        finish: str | None = None
        async for event in client.chat_stream(**_params(request)):
            kind = getattr(event, "type", "")
            if kind == "content-delta":
                piece = event.delta.message.content.text or ""
                if piece:
                    pieces.append(piece)
                    on_token(piece)
            elif kind in ("tool-call-start", "tool-call-delta"):
                _merge_call(calls, event)
            elif kind == "message-end":
                delta = event.delta
                if delta is not None and delta.error:
                    raise ProviderError(f"{self.base_url} stopped the answer: {delta.error}")
                usage = _usage(delta.usage if delta is not None else None)
                finish = FINISH.get(str(delta.finish_reason), delta.finish_reason) if delta is not None else None
        tool_calls = tuple(ToolCall(c["id"], c["name"], decode_arguments(c["arguments"]))
                           for _, c in sorted(calls.items()))
        return Completion(text="".join(pieces), usage=usage, model=request.model, finish_reason=finish,
                          tool_calls=tool_calls)

    def _status_error(self, err: Any, request: ChatRequest) -> Exception:
        status = err.status_code
        if status is None:
            return ProviderError(f"{self.base_url} sent a reply that could not be read: {cause(err)}")
        return http_error(self.base_url, status, server_message(err.body), model=request.model,
                          key_env=self.key_env, retry_after=parse_retry_after(err.headers),
                          not_found_hint="check the model name (e.g. command-r-08-2024) and base_url")


def _params(request: ChatRequest) -> dict[str, Any]:
    import cohere  # noqa: PLC0415 - heavy SDK: loaded on first use

    params: dict[str, Any] = {"model": request.model, "messages": [_wire_message(m) for m in request.messages]}
    for key, value in (("temperature", request.temperature), ("max_tokens", request.max_tokens),
                       ("seed", request.seed), ("stop_sequences", list(request.stop) or None)):
        if value is not None:
            params[key] = value
    if request.json_mode:
        params["response_format"] = cohere.JsonObjectResponseFormatV2()
    if request.tools:
        params["tools"] = [cohere.ToolV2(type="function", function=cohere.ToolV2Function(
            name=t.name, description=t.description, parameters=t.parameters)) for t in request.tools]
        if request.tool_choice != "auto":
            params["tool_choice"] = request.tool_choice.upper()
    return params


def _wire_message(m: Message) -> Any:
    import cohere  # noqa: PLC0415 - heavy SDK: loaded on first use

    if m.role == "system":
        return cohere.SystemChatMessageV2(content=m.content)
    if m.role == "user":
        return cohere.UserChatMessageV2(content=m.content)
    if m.role == "tool":
        return cohere.ToolChatMessageV2(tool_call_id=m.tool_call_id, content=m.content)
    calls = [cohere.ToolCallV2(id=c.id, type="function", function=cohere.ToolCallV2Function(
        name=c.name, arguments=json.dumps(c.arguments))) for c in m.tool_calls]
    return cohere.AssistantChatMessageV2(content=m.content or None, tool_calls=calls or None)


def _merge_call(calls: dict[int, dict[str, str]], event: Any) -> None:
    call = calls.setdefault(event.index or 0, {"id": "", "name": "", "arguments": ""})
    raw = event.delta.message.tool_calls if event.delta and event.delta.message else None
    if raw is None or raw.function is None:
        return
    call["id"] = getattr(raw, "id", None) or call["id"]
    call["name"] = getattr(raw.function, "name", None) or call["name"]
    call["arguments"] += raw.function.arguments or ""


def _usage(raw: Any) -> Usage | None:
    counts = getattr(raw, "billed_units", None) or getattr(raw, "tokens", None)
    if counts is None:
        return None
    return Usage(int(counts.input_tokens or 0), int(counts.output_tokens or 0))
