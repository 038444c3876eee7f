"""Agent nodes: `agent.react`, `agent.tool_calling` and `agent.plan_execute`, one module each.

They share one loop (`_loop.py`, decisions and tool calls under limits);
`_common.py` holds the ports, setup and outputs; `_offline_policy.py` stands in
for a model that cannot call tools (the offline default).
"""

from engine.node import NodeSpec
from nodes.agent import plan_execute, react, tool_calling

SPECS: tuple[NodeSpec, ...] = (*react.SPECS, *tool_calling.SPECS, *plan_execute.SPECS)

__all__ = ["SPECS"]
