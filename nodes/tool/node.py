"""`tool.node`: a single node type becomes something an agent can call.

It builds a three-column flow around the node (inputs -> node -> outputs) and
exposes it like `tool.flow` does (nodes/tool/flow.py); only nodes whose inputs are
text or JSON make sense as tools.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field, ValidationError

from engine.errors import PermanentError
from engine.fields import Where
from engine.flow import Flow, parse_flow
from engine.node import NodeSpec, node
from engine.ports import Port, PortType
from nodes.support.tools import TOOL_NAME, ToolConfig, gated
from nodes.tool.flow import flow_tool, registry_of

if TYPE_CHECKING:
    from engine.context import RunContext
    from engine.registry import Registry

_PORT_ARGS = {PortType.TEXT: ("input.text", {"type": "string"}), PortType.JSON: ("input.json", {}),
              PortType.ANY: ("input.json", {})}


class NodeToolConfig(ToolConfig):
    name: str = Field("run_node", pattern=TOOL_NAME, description="The tool's name, as the model sees it.")
    node_type: str = Where(kind="node_type", min_length=3, max_length=100,
                           pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$",
                           description="The node type to expose, e.g. transform.text or llm.chat.")
    node_config: dict[str, Any] = Where(kind="tool", default_factory=dict, description="That node's config.")
    result: str = Field("", max_length=64, description="The output port returned (empty = all outputs).")
    timeout: float = Field(60.0, gt=0, le=3600, description="Seconds one call may take.")


def node_flow(config: NodeToolConfig, registry: Registry) -> Flow:
    """inputs -> the node -> outputs, as a flow; PermanentError when the node cannot be a tool."""
    spec = registry.get(config.node_type)
    where = f"tool.node: node type '{config.node_type}'"
    if spec.role is not None or spec.router:
        raise PermanentError(f"{where} is a flow {spec.role or 'router'} node, which cannot be a tool",
                             hint="expose a processing node, or wrap the whole flow with tool.flow")
    try:
        node_config = spec.parse_config(config.node_config, 1)
    except ValidationError as err:
        raise PermanentError(f"{where}: node_config is not valid: {err.errors()[0]['msg']} "
                             f"(field {'.'.join(map(str, err.errors()[0]['loc'])) or '(root)'})") from err
    nodes = [{"id": "target", "type": spec.type, "config": config.node_config}]
    edges = []
    for port in spec.input_ports(node_config):
        if port.type not in _PORT_ARGS:
            if port.required:
                raise PermanentError(f"{where}: input '{port.name}' takes {port.type.value}, which a model "
                                     "cannot pass as an argument", hint="pick a node whose inputs are text or JSON")
            continue
        kind, _ = _PORT_ARGS[port.type]
        nodes.append({"id": f"in_{port.name}", "type": kind,
                      "config": {"name": port.name, "description": port.description, "required": port.required}})
        edges.append({"from": f"in_{port.name}.{_output_of(kind)}", "to": f"target.{port.name}"})
    outs = [p for p in spec.output_ports(node_config) if not config.result or p.name == config.result]
    if not outs:
        raise PermanentError(f"{where} has no output named '{config.result}'")
    for port in outs:
        nodes.append({"id": f"out_{port.name}", "type": "output.json", "config": {"name": port.name}})
        edges.append({"from": f"target.{port.name}", "to": f"out_{port.name}.value"})
    return parse_flow({"schema_version": 1, "id": f"tool-{config.name}", "description": spec.description,
                       "nodes": nodes, "edges": edges})


def _output_of(input_type: str) -> str:
    return "text" if input_type == "input.text" else "data"


@node("tool.node", title="Node as a tool", config=NodeToolConfig, cacheable=False,
      outputs=[Port("tool", PortType.TOOL, "The node as a tool, for agents.")],
      description="Exposes one node (any whose inputs are text or JSON) as a tool: its inputs become "
                  "arguments, its outputs the result.")
def node_tool_node(config: NodeToolConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    registry = registry_of(ctx)
    spec = registry.get(config.node_type)
    return {"tool": gated(flow_tool(node_flow(config, registry), name=config.name, timeout=config.timeout,
                                    description=config.describe(spec.description), registry=registry,
                                    side_effects=spec.side_effects), ctx)}


SPECS: tuple[NodeSpec, ...] = (node_tool_node,)
