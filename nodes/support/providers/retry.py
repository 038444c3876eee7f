"""Bounded retries for provider calls: 429, 5xx, timeouts and lost connections.

A ProviderError is retried up to `retries` times. The wait is the server's
Retry-After when it gave one, else an exponential backoff with jitter. A server
that asks for more than `max_wait_s` fails the call at once with a PermanentError
(nobody wants a node to sleep for an hour). Once an answer has started streaming,
nothing is retried: the tokens already shown cannot be taken back.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from engine.errors import PermanentError
from nodes.support.providers.base import ProviderError

T = TypeVar("T")
BACKOFF_S = 0.5      # first wait without Retry-After; doubles per attempt
MAX_BACKOFF_S = 8.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    retries: int = 2
    max_wait_s: float = 60.0


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds a server asked us to wait: Retry-After in seconds or as an HTTP date, or retry-after-ms."""
    if not headers:
        return None
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        if "retry-after-ms" in lower:
            return max(0.0, float(lower["retry-after-ms"]) / 1000)
        if "retry-after" not in lower:
            return None
        return max(0.0, float(lower["retry-after"]))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(lower["retry-after"])
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def wait_before_retry(err: ProviderError, attempt: int, policy: RetryPolicy) -> float:
    """Seconds to wait before retry number `attempt + 1`; PermanentError when the server asks too much."""
    if err.retry_after is not None:
        if err.retry_after > policy.max_wait_s:
            raise PermanentError(
                f"{err.message}; the server asks to wait {err.retry_after:g}s before trying again, "
                f"more than max_retry_wait_s ({policy.max_wait_s:g}s)",
                hint="try again later, or raise max_retry_wait_s") from err
        return max(0.0, err.retry_after)
    backoff = min(MAX_BACKOFF_S, BACKOFF_S * float(2 ** attempt), policy.max_wait_s)
    return backoff * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not cryptography


async def with_retries(call: Callable[[], Awaitable[T]], policy: RetryPolicy,
                       streamed: Callable[[], bool]) -> tuple[T, list[dict[str, Any]]]:
    """The result of `call()` and a record of each failed attempt before it."""
    failures: list[dict[str, Any]] = []
    for attempt in range(policy.retries + 1):
        try:
            return await call(), failures
        except ProviderError as err:
            if attempt == policy.retries or streamed():
                raise
            wait = wait_before_retry(err, attempt, policy)
            failures.append({"attempt": attempt + 1, "error": err.message, "status": err.status,
                             "wait_s": round(wait, 3)})
            await asyncio.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover
