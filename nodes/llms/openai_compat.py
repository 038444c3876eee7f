"""Chat through the real `openai` client: OpenAI itself or any OpenAI-compatible server.

Ollama, llama.cpp's server, vLLM and LM Studio speak the same protocol at their
own `base_url`. Streaming asks for a final usage chunk. The client makes no
retries of its own (the node's retry policy decides) and is created per call,
because it belongs to the event loop of the run. Errors are translated: auth,
bad requests and unknown models become PermanentError; rate limits, server
errors and network trouble become ProviderError. Messages never contain the key.
"""

from __future__ import annotations

from typing import Any

from engine.errors import PermanentError
from nodes.llms.base import ChatRequest, Completion, ProviderError, TokenSink, Usage

OPENAI_URL = "https://api.openai.com/v1"
NO_KEY = "no-key-needed"  # sent when api_key_env is empty: local servers ignore it, the client needs one
MAX_SERVER_MESSAGE = 300


class OpenAICompatModel:
    provider = "openai"

    def __init__(self, *, api_key: str, base_url: str = "", key_env: str = "") -> None:
        self.api_key = api_key or NO_KEY
        self.base_url = base_url or OPENAI_URL
        self.key_env = key_env

    async def complete(self, request: ChatRequest, on_token: TokenSink) -> Completion:
        import openai  # noqa: PLC0415 - the SDK is heavy; only flows that use it pay for it

        client = openai.AsyncOpenAI(api_key=self.api_key, base_url=self.base_url, max_retries=0,
                                    timeout=request.timeout_s)
        try:
            async with client:
                if request.stream:
                    return await self._streamed(client, request, on_token)
                return await self._whole(client, request, on_token)
        except openai.OpenAIError as err:
            raise self._translate(err, request) from err

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": request.model,
            "messages": [m.to_dict() for m in request.messages],
        }
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.max_tokens is not None:
            params["max_tokens"] = request.max_tokens
        if request.stop:
            params["stop"] = list(request.stop)
        if request.seed is not None:
            params["seed"] = request.seed
        return params

    async def _whole(self, client: Any, request: ChatRequest, on_token: TokenSink) -> Completion:
        response = await client.chat.completions.create(**self._params(request), stream=False)
        if not response.choices:
            raise ProviderError(f"{self.base_url} answered with no choices", hint="check the model name")
        choice = response.choices[0]
        text = choice.message.content or ""
        on_token(text)
        return Completion(text=text, usage=_usage(response.usage), model=response.model or request.model,
                          finish_reason=choice.finish_reason)

    async def _streamed(self, client: Any, request: ChatRequest, on_token: TokenSink) -> Completion:
        stream = await client.chat.completions.create(**self._params(request), stream=True,
                                                      stream_options={"include_usage": True})
        pieces: list[str] = []
        usage: Usage | None = None
        model, finish = request.model, None
        async for chunk in stream:
            model = chunk.model or model
            if chunk.usage is not None:
                usage = _usage(chunk.usage)
            for choice in chunk.choices[:1]:
                finish = choice.finish_reason or finish
                piece = choice.delta.content if choice.delta is not None else None
                if piece:
                    pieces.append(piece)
                    on_token(piece)
        return Completion(text="".join(pieces), usage=usage, model=model, finish_reason=finish)

    def _translate(self, err: Exception, request: ChatRequest) -> Exception:
        """The error a user can act on, from the SDK's exception (never quoting the key)."""
        import openai  # noqa: PLC0415

        where = self.base_url
        if isinstance(err, openai.APITimeoutError):
            return ProviderError(f"no answer from {where} within {request.timeout_s:g}s",
                                 hint="raise timeout_s, or check that the server is not overloaded")
        if isinstance(err, openai.APIConnectionError):
            return ProviderError(f"cannot reach {where}: {_cause(err)}",
                                 hint="check base_url and that the server is running (for Ollama: `ollama serve`)")
        if not isinstance(err, openai.APIStatusError):
            return ProviderError(f"{where} sent a reply that could not be read: {_cause(err)}")
        status = err.status_code
        if status in (401, 403):
            return PermanentError(f"{where} refused the API key (HTTP {status})", hint=self._key_hint())
        detail = _server_message(err)
        if status == 404:
            return PermanentError(f"{where} does not know model '{request.model}' (HTTP 404): {detail}",
                                  hint="check the model name and base_url (they must end in /v1 for most servers)")
        if status in (400, 409, 413, 422):
            return PermanentError(f"{where} refused the request (HTTP {status}): {detail}",
                                  hint="check the model's settings (max_tokens, stop, temperature)")
        return ProviderError(f"{where} failed (HTTP {status}): {detail}", status=status,
                             retry_after=_retry_after(err),
                             hint="give this node a retry policy, or try again later")

    def _key_hint(self) -> str:
        if not self.key_env:
            return "api_key_env is empty, so no key was sent; set it to the name of the variable holding your key"
        return f"check that the environment variable {self.key_env} holds a valid key for this server"


def _usage(raw: Any) -> Usage | None:
    if raw is None:
        return None
    return Usage(int(getattr(raw, "prompt_tokens", 0) or 0), int(getattr(raw, "completion_tokens", 0) or 0))


def _cause(err: BaseException) -> str:
    inner = err.__cause__ or err.__context__
    text = str(inner or err) or type(inner or err).__name__
    return text[:MAX_SERVER_MESSAGE]


def _server_message(err: Any) -> str:
    body = getattr(err, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
    else:
        message = body
    text = str(message if message is not None else getattr(err, "message", "")).strip()
    return text[:MAX_SERVER_MESSAGE] or "no details given"


def _retry_after(err: Any) -> float | None:
    response = getattr(err, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date; the retry layer of the next release reads those
