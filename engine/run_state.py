"""The state of a run, folded from its events: one home for "what is each node doing".

`RunState.apply(event)` takes the events of a run in order (live, or replayed from a
trace) and keeps, per node, its status, inputs, outputs, duration, usage, streamed
text, steps, error and hint, and for the run its status, outputs and error. The
CLI's live view and the UI's run panel both draw from it. It does no locking.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.events import (
    Event,
    NodeCancelled,
    NodeFailed,
    NodeFinished,
    NodeSkipped,
    NodeStarted,
    NodeStep,
    NodeToken,
    RunFinished,
    RunStarted,
)

MAX_STREAMED_CHARS = 20_000  # streamed text kept per node: the latest, as a live view shows it
FALLBACK_HINT = "the node failed; its fallback outputs were used"


@dataclass
class NodeState:
    """One node as the events tell it. `status`: queued, running, done, cached, failed,
    skipped or cancelled (a node that failed and will retry is running)."""

    status: str = "queued"
    type: str = ""
    inputs: Any = None
    outputs: Any = None
    duration: float | None = None
    usage: dict[str, Any] | None = None
    tokens: str = ""               # streamed text (the last MAX_STREAMED_CHARS of it)
    chunks: int = 0                # how many pieces were streamed
    steps: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""                # the failure, or the one the fallback outputs replaced
    hint: str = ""
    reason: str = ""               # why it was skipped or cancelled
    attempts: int = 0
    cached: bool = False
    fallback: bool = False         # its outputs are the policy's fallback
    started_at: float | None = None


@dataclass
class RunState:
    run_id: str
    status: str                    # starting | running | succeeded | failed | timeout | cancelled
    nodes: dict[str, NodeState]
    outputs: dict[str, Any]
    error: str = ""
    hint: str = ""
    failed_node: str | None = None
    duration: float | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    events: int = 0                # how many events were folded in (a change counter)
    flow_id: str = ""

    @property
    def finished(self) -> bool:
        return self.status not in ("starting", "running")

    def statuses(self) -> dict[str, str]:
        return {nid: n.status for nid, n in self.nodes.items()}

    def node(self, node_id: str) -> NodeState:
        return self.nodes.setdefault(node_id, NodeState())

    def apply(self, event: Event) -> None:
        """Fold one event in."""
        self.events += 1
        if isinstance(event, RunStarted):
            self.status, self.run_id, self.flow_id = "running", event.run_id, event.flow_id
            self.inputs = dict(event.inputs)
            for nid in event.nodes:
                self.node(nid)
        elif isinstance(event, NodeToken):
            n = self.node(event.node)
            n.chunks += 1
            n.tokens += event.text
            if len(n.tokens) > MAX_STREAMED_CHARS:
                n.tokens = n.tokens[-MAX_STREAMED_CHARS:]
        elif isinstance(event, NodeStep):
            self.node(event.node).steps.append({"name": event.name, **event.data})
        elif isinstance(event, RunFinished):
            self.status, self.outputs = event.status, dict(event.outputs)
            self.error, self.hint, self.failed_node = event.error or "", event.hint, event.failed_node
            self.duration, self.usage = event.duration, dict(event.usage)
        else:
            self._apply_node(event)

    def _apply_node(self, event: Event) -> None:
        if isinstance(event, NodeStarted):
            n = self.node(event.node)
            n.status, n.type, n.inputs, n.attempts = "running", event.type, event.inputs, event.attempt
            n.started_at, n.error, n.hint = event.t, "", ""
        elif isinstance(event, NodeFinished):
            n = self.node(event.node)
            n.status = "cached" if event.cached else "done"
            n.type, n.outputs, n.duration, n.usage, n.cached = (event.type, event.outputs, event.duration,
                                                                event.usage, event.cached)
            if event.fallback_error:
                n.error, n.hint, n.fallback = event.fallback_error, FALLBACK_HINT, True
        elif isinstance(event, NodeFailed):
            n = self.node(event.node)
            n.status = "running" if event.will_retry else "failed"
            n.type, n.error, n.hint, n.duration = event.type, event.error, event.hint, event.duration
        elif isinstance(event, NodeSkipped | NodeCancelled):
            n = self.node(event.node)
            n.status = "skipped" if isinstance(event, NodeSkipped) else "cancelled"
            n.type, n.reason = event.type, event.reason
