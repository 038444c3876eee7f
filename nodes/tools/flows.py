"""Flows and nodes as tools: a saved flow (or one node) becomes something an agent can call.

A flow's `input.*` nodes become the tool's arguments (their names, descriptions,
defaults) and its `output.*` nodes its result: the one output's value, or an
object of all of them. The call is a real run through the engine Runner with
the same registry and services, in the caller's session; a flow calling flows
as tools may nest only MAX_DEPTH deep. `tool.node` wraps a single node type the
same way, by building a three-column flow (inputs -> node -> outputs) around it;
only nodes whose inputs are text or JSON make sense as tools.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pydantic import Field, ValidationError

from engine.errors import PermanentError
from engine.flow import Flow, load_flow, parse_flow
from engine.node import NodeSpec, node
from engine.ports import Port, PortType
from nodes.paths import resolve_path
from nodes.tools.base import TOOL_NAME, Tool, ToolConfig, ToolError, object_schema

if TYPE_CHECKING:
    from engine.context import RunContext
    from engine.registry import Registry

MAX_DEPTH = 3
DEPTH_KEY = "tool_depth"
_ARG_TYPES = {"input.text": {"type": "string"}, "input.chat": {"type": "string"}}
_PORT_ARGS = {PortType.TEXT: ("input.text", {"type": "string"}), PortType.JSON: ("input.json", {}),
              PortType.ANY: ("input.json", {})}


def registry_of(ctx: RunContext) -> Registry:
    given = ctx.services.get("registry") if ctx.services else None
    if given is not None:
        return given  # type: ignore[no-any-return]
    from nodes.registry import default_registry  # noqa: PLC0415 - nodes.registry imports this module

    return default_registry()


def flow_arguments(flow: Flow, registry: Registry) -> dict[str, Any]:
    """The JSON schema of a flow's inputs, as tool arguments."""
    props: dict[str, Any] = {}
    required: list[str] = []
    for n in flow.nodes:
        if n.type not in registry or registry.get(n.type).role != "input":
            continue
        name = str(n.config.get("name", n.id))
        schema = dict(_ARG_TYPES.get(n.type, {}))
        if n.config.get("description"):
            schema["description"] = str(n.config["description"])
        props[name] = schema
        if n.config.get("required", True) and n.config.get("default") is None:
            required.append(name)
    return object_schema(props, required)


def flow_tool(flow: Flow, *, name: str, description: str, timeout: float, registry: Registry,
              side_effects: bool = False) -> Tool:
    """A tool that runs `flow` with the arguments as its inputs."""
    from engine.runner import Runner  # noqa: PLC0415 - engine.runner is cheap, but only tools need it

    plan = Runner(registry).plan(flow)  # validates now: a broken flow fails the tool node, not the agent

    async def run(args: dict[str, Any], ctx: RunContext) -> Any:
        depth = int(ctx.services.get(DEPTH_KEY, 0)) if ctx.services else 0
        if depth >= MAX_DEPTH:
            raise ToolError(f"flows call flows as tools {MAX_DEPTH} deep; '{flow.id}' is not run again",
                            hint="a flow may not call itself (directly or through others) as a tool")
        services = {**(ctx.services or {}), DEPTH_KEY: depth + 1}
        result = await Runner(registry, services=services).arun(plan, args, session_id=ctx.session_id,
                                                                 timeout=timeout, trace=False)
        if not result.ok:
            raise ToolError(f"flow '{flow.id}' failed: {result.error}")
        outputs = dict(result.outputs)
        return next(iter(outputs.values())) if len(outputs) == 1 else json.dumps(outputs, default=str)

    return Tool(name, description, flow_arguments(flow, registry), run, side_effects=side_effects)


class FlowToolConfig(ToolConfig):
    name: str = Field("run_flow", pattern=TOOL_NAME, description="The tool's name, as the model sees it.")
    flow: str = Field(min_length=1, max_length=4096, description="A saved flow's id or name, or a flow "
                      "file (.json) inside the allowed folder.")
    timeout: float = Field(120.0, gt=0, le=3600, description="Seconds one call of the flow may take.")


def find_flow(ref: str, ctx: RunContext) -> Flow:
    """A flow file inside the allowed folder, else a saved flow from the store."""
    if ref.endswith(".json"):
        return load_flow(resolve_path(ref, field="flow"))
    store = ctx.services.get("store") if ctx.services else None
    if store is None:
        from engine.store import open_store  # noqa: PLC0415
        from nodes.vectorstores import data_dir  # noqa: PLC0415

        store = open_store(data_dir(ctx))
    flow: Flow = store.get_flow(ref)[0]
    return flow


@node("tool.flow", title="Flow as a tool", config=FlowToolConfig, cacheable=False,
      outputs=[Port("tool", PortType.TOOL, "The flow as a tool, for agents.")],
      description="Turns a saved flow into a tool: its inputs become the arguments, its outputs the result.")
def flow_tool_node(config: FlowToolConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    flow = find_flow(config.flow, ctx)
    description = config.describe(flow.description or flow.name or f"Runs the flow '{flow.id}'.")
    return {"tool": flow_tool(flow, name=config.name, description=description, timeout=config.timeout,
                              registry=registry_of(ctx))}


# ---------------------------------------------------------------- any node as a tool
class NodeToolConfig(ToolConfig):
    name: str = Field("run_node", pattern=TOOL_NAME, description="The tool's name, as the model sees it.")
    node_type: str = Field(min_length=3, max_length=100, pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$",
                           description="The node type to expose, e.g. transform.text or llm.chat.")
    node_config: dict[str, Any] = Field(default_factory=dict, description="That node's config.")
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
        node_config = spec.config.model_validate(spec.migrate(1, config.node_config))
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
    return {"tool": flow_tool(node_flow(config, registry), name=config.name, timeout=config.timeout,
                              description=config.describe(spec.description), registry=registry,
                              side_effects=spec.side_effects)}


SPECS: tuple[NodeSpec, ...] = (flow_tool_node, node_tool_node)
