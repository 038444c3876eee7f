"""Stopping a run from another thread (a UI button, an API call)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any


class RunControl:
    """Lets another thread stop a run: pass `control=` to `Runner.run`, then `cancel()`.

    The run ends with status "cancelled"; in-flight nodes are cancelled and every
    node gets a terminal event, as with any other stop.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._target: tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]] | None = None
        self.cancelled = False

    def bind(self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]) -> None:
        with self._lock:
            self._target = (loop, task)
            if self.cancelled:
                loop.call_soon_threadsafe(task.cancel)

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            if self._target is not None:
                loop, task = self._target
                loop.call_soon_threadsafe(task.cancel)
