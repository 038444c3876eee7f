"""`tool.flow`: a saved flow becomes something an agent can call.

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

from pydantic import Field

from engine.errors import PermanentError
from engine.fields import Where
from engine.flow import Flow, load_flow
from engine.node import NodeSpec, node
from engine.plan import needs_value
from engine.ports import Port, PortType
from nodes.support.paths import resolve_path
from nodes.support.tools import TOOL_NAME, Tool, ToolConfig, ToolError, gated, object_schema

if TYPE_CHECKING:
    from engine.context import RunContext
    from engine.registry import Registry

MAX_DEPTH = 3
DEPTH_KEY = "tool_depth"
_ARG_TYPES = {"input.text": {"type": "string"}, "input.chat": {"type": "string"}}


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
        if needs_value(n.config):
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
    flow: str = Where(kind="tool", min_length=1, max_length=4096, description="A saved flow's id or name, or a flow "
                      "file (.json) inside the allowed folder.")
    timeout: float = Field(120.0, gt=0, le=3600, description="Seconds one call of the flow may take.")
    tweaks: dict[str, dict[str, Any]] = Where(
        kind="tool", default_factory=dict, max_length=256,
        description="Changes to the called flow for these calls: node id -> {field: value}; only fields "
                    "that flow marks tweakable, never where data or credentials go.")


def tweaked_flow(flow: Flow, tweaks: dict[str, dict[str, Any]], registry: Registry) -> Flow:
    """The called flow with the tool's tweaks applied by the engine's one tweak gate."""
    from engine.tweaks import apply_tweaks  # noqa: PLC0415

    tweaked, issues = apply_tweaks(flow, tweaks, registry)
    if issues:
        raise PermanentError(f"config field 'tweaks': flow '{flow.id}' refuses them: "
                             + "; ".join(str(i) for i in issues),
                             hint="tweak only the fields the called flow marks tweakable")
    return tweaked


def find_flow(ref: str, ctx: RunContext) -> Flow:
    """A flow file inside the allowed folder, else a saved flow from the store."""
    if ref.endswith(".json"):
        return load_flow(resolve_path(ref, field="flow"))
    store = ctx.services.get("store") if ctx.services else None
    if store is None:
        from engine.store import open_store  # noqa: PLC0415 - sqlalchemy loads on first use
        from nodes.support.paths import data_dir  # noqa: PLC0415

        store = open_store(data_dir(ctx))
    flow: Flow = store.get_flow(ref)[0]
    return flow


@node("tool.flow", title="Flow as a tool", config=FlowToolConfig, cacheable=False,
      outputs=[Port("tool", PortType.TOOL, "The flow as a tool, for agents.")],
      description="Turns a saved flow into a tool: its inputs become the arguments, its outputs the result.")
def flow_tool_node(config: FlowToolConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    registry = registry_of(ctx)
    flow = tweaked_flow(find_flow(config.flow, ctx), config.tweaks, registry)
    description = config.describe(flow.description or flow.name or f"Runs the flow '{flow.id}'.")
    return {"tool": gated(flow_tool(flow, name=config.name, description=description,
                                    timeout=config.timeout, registry=registry), ctx)}


SPECS: tuple[NodeSpec, ...] = (flow_tool_node,)
