"""chainloom's engine: the flow format, validation, the scheduler, events and stores.

It knows node types only through a Registry and imports nothing from nodes/, ui/
or any vendor SDK. Start with `node.py` (the node contract), `flow.py` (the file),
`validate.py` (all problems at once) and `scheduler.py` (how a flow runs).
"""

from engine.errors import ChainloomError, FlowLoadError, NodeError, ValidationFailed
from engine.flow import Flow, load_flow, parse_flow, save_flow
from engine.node import NodeConfig, NodeSpec, node
from engine.ports import Port, PortType
from engine.registry import Registry
from engine.runner import Runner
from engine.scheduler import RunResult
from engine.validate import Issue, check, compile_flow, validate

__all__ = [
    "ChainloomError", "Flow", "FlowLoadError", "Issue", "NodeConfig", "NodeError", "NodeSpec",
    "Port", "PortType", "Registry", "RunResult", "Runner", "ValidationFailed", "check",
    "compile_flow", "load_flow", "node", "parse_flow", "save_flow", "validate",
]
