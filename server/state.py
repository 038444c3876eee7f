"""What one app instance holds: settings, the store, the runner and a cache of compiled plans.

Nothing here is shared truth: flows, versions, runs, events, keys and cancel
flags live in the database. The plan cache maps saved flow text to its compiled plan:
a pure function of the text, so two workers caching it always agree.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import anyio
from fastapi import Request

from engine.flow import Flow, parse_flow
from engine.registry import Registry
from engine.runner import Runner
from engine.store import Store
from engine.validate import Plan, compile_flow
from server.execution import CancelWatch
from server.keys import KeyCache
from server.settings import Settings

PLAN_CACHE_SIZE = 256


@dataclass
class PlanCache:
    """Compiled plans keyed by the saved flow text, least recently used out.

    Keyed by content, not by (id, version): a flow deleted and saved again under
    the same id starts again at version 1 with other content.
    """

    registry: Registry
    size: int = PLAN_CACHE_SIZE
    _plans: OrderedDict[str, tuple[Flow, Plan]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, body: str, source: str) -> tuple[Flow, Plan]:
        """The flow and its plan; raises FlowLoadError or ValidationFailed (not cached)."""
        with self._lock:
            hit = self._plans.get(body)
            if hit is not None:
                self._plans.move_to_end(body)
                return hit
        flow = parse_flow(body, source=source)
        entry = (flow, compile_flow(flow, self.registry))
        with self._lock:
            self._plans[body] = entry
            while len(self._plans) > self.size:
                self._plans.popitem(last=False)
        return entry


@dataclass
class AppState:
    settings: Settings
    store: Store
    registry: Registry
    runner: Runner
    plans: PlanCache
    run_slots: anyio.CapacityLimiter
    keys: KeyCache
    cancels: CancelWatch
    background: set[Any] = field(default_factory=set)  # tasks kept alive until they end


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.chainloom
    return state
