"""chainloom's engine: the flow format, validation, the scheduler, events and stores.

It knows node types only through a Registry and imports nothing from nodes/, ui/
or any vendor SDK. Start with `node.py` (the node contract), `flow.py` (the file),
`validate.py` (all problems at once), `scheduler.py` (how a flow runs) and
`node_run.py` (how one node runs under its policy). The names
below load on first use, so `import engine.errors` costs only that module.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.errors import ChainloomError, FlowLoadError, NodeError, ValidationFailed
    from engine.flow import Flow, load_flow, parse_flow, save_flow
    from engine.issues import Issue
    from engine.node import NodeConfig, NodeSpec
    from engine.ports import Port, PortType
    from engine.registry import Registry
    from engine.runner import Runner
    from engine.scheduler import RunResult
    from engine.validate import check, compile_flow

_HOMES = {
    "ChainloomError": "errors", "FlowLoadError": "errors", "NodeError": "errors",
    "ValidationFailed": "errors", "Flow": "flow", "load_flow": "flow", "parse_flow": "flow",
    "save_flow": "flow", "NodeConfig": "node", "NodeSpec": "node", "Port": "ports",
    "PortType": "ports", "Registry": "registry", "Runner": "runner", "RunResult": "scheduler",
    "Issue": "issues", "check": "validate", "compile_flow": "validate",
}  # `node` and `validate` are reached through their modules (engine.node.node, engine.validate.validate)

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'engine' has no attribute '{name}'")
    return getattr(importlib.import_module(f"engine.{home}"), name)
