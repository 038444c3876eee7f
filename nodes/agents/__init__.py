"""Agent nodes: ReAct, tool-calling and plan-and-execute, over one shared loop (loop.py).

`loop.py` runs decisions and tool calls under limits; `common.py` holds the ports,
setup and outputs; `offline_policy.py` stands in for a model that cannot call
tools (the offline default). One module per agent.
"""

from engine.node import NodeSpec
from nodes.agents import plan_execute, react, tool_calling

SPECS: tuple[NodeSpec, ...] = (*react.SPECS, *tool_calling.SPECS, *plan_execute.SPECS)

__all__ = ["SPECS"]
