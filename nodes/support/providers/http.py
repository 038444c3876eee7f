"""HTTP clients for the provider SDKs, cheap to make per call.

Building an httpx client builds a TLS context (loading the CA bundle), about
16 ms each time; one shared context makes a client cost a fraction of a
millisecond, which keeps time-to-first-token through chainloom within a few
milliseconds of the SDK's own. Clients are still made per call, because a client
belongs to the event loop of the run that uses it.
"""

from __future__ import annotations

import ssl
import threading
from typing import Any

_LOCK = threading.Lock()
_CONTEXT: ssl.SSLContext | None = None


def shared_ssl_context() -> ssl.SSLContext:
    """httpx's default TLS context (certifi's CA bundle), made once per process."""
    global _CONTEXT
    with _LOCK:
        if _CONTEXT is None:
            import httpx  # noqa: PLC0415 - heavy SDK: loaded on first use

            _CONTEXT = httpx.create_ssl_context()
        return _CONTEXT


def openai_http_client(timeout: float) -> Any:
    """The openai SDK's default async HTTP client, on the shared TLS context."""
    import openai  # noqa: PLC0415 - heavy SDK: loaded on first use

    return openai.DefaultAsyncHttpxClient(verify=shared_ssl_context(), timeout=timeout)


def async_http_client(timeout: float) -> Any:
    import httpx  # noqa: PLC0415 - heavy SDK: loaded on first use

    return httpx.AsyncClient(verify=shared_ssl_context(), timeout=timeout)
