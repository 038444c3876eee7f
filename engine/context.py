"""What a running node may ask of the engine: its run context.

A node streams tokens (`token`), reports named steps (`step`) and token usage
(`usage`), reads secrets by reference (`secret`), keeps per-run state (`state`)
and reaches services the host application injected (`services`: stores, memory,
data dir). All of it is safe to call from the node's own worker thread.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from engine.approvals import ApprovalRequest, ApprovalUnavailable, Decision
from engine.errors import SecretMissing
from engine.events import Event, NodeStep, NodeToken, preview
from engine.redact import redact_urls

SecretResolver = Callable[[str], str | None]


def env_secret(name: str) -> str | None:
    return os.environ.get(name) or None


class Redactor:
    """Remembers every secret value resolved in a run and masks it in text."""

    def __init__(self) -> None:
        self._values: set[str] = set()

    def add(self, value: str) -> None:
        if len(value) >= 4:
            self._values.add(value)

    def __call__(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, "***")
        return text

    def __bool__(self) -> bool:
        return bool(self._values)


class WaitClock(Protocol):
    """The run's time limit as a waiting node sees it: stop it, start it again."""

    def hold(self) -> None: ...
    def release(self) -> None: ...


def _redacted(value: Any) -> Any:
    """A trace value with the user name and password of every URL in it masked."""
    if isinstance(value, str):
        return redact_urls(value)
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    if isinstance(value, dict):
        return {k: _redacted(v) for k, v in value.items()}
    return value


class RunContext:
    """Per-node handle on the running flow. Created by the scheduler, one per attempt."""

    __slots__ = ("run_id", "node_id", "node_type", "flow_inputs", "services", "session_id", "attempt",
                 "_emit", "_state", "_secrets", "_redactor", "_cancelled", "usage_record", "approval",
                 "_clock", "_stopped", "_on_stop", "_stop_lock")

    def __init__(self, *, run_id: str, node_id: str, node_type: str, emit: Callable[[Event], None],
                 flow_inputs: Mapping[str, Any], services: Mapping[str, Any],
                 state: dict[str, Any], session_id: str | None,
                 secrets: SecretResolver, redactor: Redactor,
                 cancelled: threading.Event, attempt: int = 1,
                 approval: bool | list[str] = False,
                 clock: WaitClock | None = None) -> None:
        self.run_id = run_id
        self.node_id = node_id
        self.node_type = node_type
        self.flow_inputs = flow_inputs
        self.services = services
        self.session_id = session_id
        self.attempt = attempt
        self._emit = emit
        self._state = state
        self._secrets = secrets
        self._redactor = redactor
        self._cancelled = cancelled
        self._stopped = False
        self._on_stop: list[Callable[[], None]] = []
        self._stop_lock = threading.Lock()
        self.usage_record: dict[str, Any] = {}
        self.approval = approval  # the node's policy.require_approval
        self._clock = clock  # time spent waiting for a person does not count against the run

    def approval_required(self, tool: str | None = None) -> bool:
        """Whether this node's policy asks a person first: for every call, or for this tool's."""
        rule = self.approval
        return rule is True or (tool is not None and isinstance(rule, list) and tool in rule)

    async def approve(self, tool: str, call: dict[str, Any]) -> Decision:
        """Ask a person to approve `tool(call)` and wait for the decision (see engine.approvals).

        Raises ApprovalUnavailable when this run has no way to ask (no gate service).
        """
        request = ApprovalRequest(self.run_id, self.node_id, tool, call)
        gate = self.services.get("approvals")
        if gate is None:
            raise ApprovalUnavailable(
                f"node '{self.node_id}': the call {request.describe()} needs approval "
                "(policy.require_approval), but this run cannot ask anyone",
                hint="run it with `chainloom run` on a terminal, or through `chainloom serve` and "
                     "approve it with POST /approvals/{id}/approve; or drop policy.require_approval "
                     f"from node '{self.node_id}'")
        self.step("approval.requested", tool=tool, call=call)
        if self._clock is not None:
            self._clock.hold()
        try:
            decision: Decision = await gate.ask(request)
        finally:
            if self._clock is not None:
                self._clock.release()
        self.step("approval.decided", tool=tool, approved=decision.approved, by=decision.by,
                  reason=decision.reason, approval_id=decision.approval_id)
        return decision

    def token(self, text: str) -> None:
        """Stream a piece of this node's output as it is produced."""
        if text:
            self._emit(NodeToken(run_id=self.run_id, node=self.node_id, text=text))

    def step(self, name: str, **data: Any) -> None:
        """Record a named step (thought, tool call, observation) in the trace."""
        self._emit(NodeStep(run_id=self.run_id, node=self.node_id, name=name,
                            data={k: _redacted(preview(v, 2000)) for k, v in data.items()}))

    def usage(self, *, prompt_tokens: int = 0, completion_tokens: int = 0,
              cost: float | None = None, model: str | None = None) -> None:
        """Add token usage (and cost in USD, when known) to this node's record."""
        u = self.usage_record
        u["prompt_tokens"] = u.get("prompt_tokens", 0) + prompt_tokens
        u["completion_tokens"] = u.get("completion_tokens", 0) + completion_tokens
        u["total_tokens"] = u["prompt_tokens"] + u["completion_tokens"]
        if cost is not None:
            u["cost"] = round(u.get("cost", 0.0) + cost, 8)
        if model:
            u["model"] = model

    def secret(self, name: str, *, field: str = "api_key_env") -> str:
        """The value of the secret called `name`; raises SecretMissing naming the field."""
        value = self._secrets(name) if name else None
        if value is None:
            raise SecretMissing(
                f"node '{self.node_id}': config field '{field}' names the secret "
                f"'{name or '(empty)'}', which is not set",
                hint=f"export {name or 'THE_VARIABLE'}=... in the environment that runs chainloom",
            )
        self._redactor.add(value)
        return value

    def state(self) -> dict[str, Any]:
        """A dict that lives for the whole run, private to this node."""
        return self._state

    @property
    def cancelled(self) -> bool:
        """True once the run or this node was stopped; long-running sync code should check it."""
        return self._stopped or self._cancelled.is_set()

    def on_stop(self, interrupt: Callable[[], None]) -> None:
        """Call `interrupt` (from another thread) if this node is stopped while it works:
        its time limit passed, or the run timed out or was cancelled. A blocking node
        registers how to end its work, e.g. a database connection's interrupt()."""
        with self._stop_lock:
            if not self._stopped:
                self._on_stop.append(interrupt)
                return
        interrupt()

    def stop(self) -> None:
        """The engine gave up on this attempt: interrupt its work (each callback once)."""
        with self._stop_lock:
            self._stopped = True
            callbacks, self._on_stop = self._on_stop, []
        for interrupt in callbacks:
            try:
                interrupt()
            except Exception:  # noqa: BLE001 - an interrupt that fails must not hide the stop
                pass
