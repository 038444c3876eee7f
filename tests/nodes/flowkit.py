"""Build small flows in one line and run them through the real registry and Runner."""

from __future__ import annotations

from typing import Any

from engine.flow import Flow, parse_flow
from engine.runner import Runner
from engine.scheduler import RunResult
from nodes.registry import default_registry


def make_flow(nodes: dict[str, tuple[str, dict[str, Any]]], edges: list[tuple[str, str]]) -> Flow:
    """`nodes` maps id -> (type, config); `edges` are ("a.port", "b.port") pairs."""
    return parse_flow({
        "schema_version": 1, "id": "test",
        "nodes": [{"id": nid, "type": t, "config": cfg} for nid, (t, cfg) in nodes.items()],
        "edges": [{"from": a, "to": b} for a, b in edges],
    })


def run(flow: Flow, inputs: dict[str, Any] | None = None, **kwargs: Any) -> RunResult:
    return Runner(default_registry()).run(flow, inputs or {}, **kwargs)


def ran(result: RunResult) -> dict[str, str]:
    """node id -> final status (done, skipped, failed, ...)."""
    return dict(result.node_status)


def tokens(result: RunResult, node: str) -> list[str]:
    return [e.text for e in result.events if e.kind == "node.token" and e.node == node]  # type: ignore[attr-defined]
