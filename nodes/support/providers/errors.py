"""Provider failures in words a user can act on, the same for every HTTP provider.

Each provider catches its SDK's exceptions and hands the facts (where, HTTP
status, the server's message, Retry-After) to `http_error`, `timeout_error` or
`connection_error`. Auth, bad requests and unknown models become PermanentError
(retrying cannot fix them); rate limits, server errors, timeouts and network
trouble become ProviderError, which the retry layer may try again. Messages name
the variable that holds the key, never the key.
"""

from __future__ import annotations

from typing import Any

from engine.errors import PermanentError
from nodes.support.providers.base import ProviderError

MAX_SERVER_MESSAGE = 300


def key_hint(key_env: str) -> str:
    if not key_env:
        return "api_key_env is empty, so no key was sent; set it to the name of the variable holding your key"
    return f"check that the environment variable {key_env} holds a valid key for this server"


def http_error(where: str, status: int, detail: str, *, model: str, key_env: str,
               retry_after: float | None, not_found_hint: str) -> Exception:
    if status in (401, 403):
        return PermanentError(f"{where} refused the API key (HTTP {status})", hint=key_hint(key_env))
    if status == 404:
        return PermanentError(f"{where} does not know model '{model}' (HTTP 404): {detail}", hint=not_found_hint)
    if status in (400, 409, 413, 422):
        return PermanentError(f"{where} refused the request (HTTP {status}): {detail}",
                              hint="check the model's settings (max_tokens, stop, temperature)")
    return ProviderError(f"{where} failed (HTTP {status}): {detail}", status=status, retry_after=retry_after,
                         hint="raise retries on this node, or try again later")


def timeout_error(where: str, timeout_s: float) -> ProviderError:
    return ProviderError(f"no answer from {where} within {timeout_s:g}s",
                         hint="raise timeout_s, or check that the server is not overloaded")


def connection_error(where: str, err: BaseException, *, hint: str) -> ProviderError:
    return ProviderError(f"cannot reach {where}: {cause(err)}", hint=hint)


def cause(err: BaseException) -> str:
    inner = err.__cause__ or err.__context__
    text = str(inner or err) or type(inner or err).__name__
    return text[:MAX_SERVER_MESSAGE]


def server_message(body: Any, fallback: str = "") -> str:
    """The human part of an error body: {"error": {"message": ...}}, {"message": ...} or text."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
    else:
        message = body
    text = str(message if message is not None else fallback).strip()
    return text[:MAX_SERVER_MESSAGE] or "no details given"
