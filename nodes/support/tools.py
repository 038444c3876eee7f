"""The Tool: what travels on Tool edges and what agents call.

A tool is a name, a description for the model, a JSON schema of its arguments
and an async `run(args, ctx)`. `Tool.call` checks the arguments against the
schema first, runs the tool, and turns the result into an observation text of
bounded length. Tool failures never escape `call`: a refusal, a bad argument or
a crash comes back as an observation saying what went wrong, so an agent can
tell the model and carry on. Values on a Tool port are a Tool or a list of them
(a toolkit); `as_tools` flattens whatever arrived.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import Field

from engine.approvals import ApprovalRequest, ApprovalUnavailable, rejection_text
from engine.errors import ChainloomError, PermanentError
from engine.node import NodeConfig
from nodes.support.values import as_text

if TYPE_CHECKING:
    from engine.context import RunContext

TOOL_NAME = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"
MAX_OBSERVATION_CHARS = 4000
ToolRun = Callable[[dict[str, Any], "RunContext"], Awaitable[Any]]


class ToolError(PermanentError):
    """A tool refused or could not do what it was asked; the message is shown to the model."""


@dataclass(frozen=True, slots=True)
class Observation:
    """What a tool call gave back: the text for the model and whether the call worked."""

    text: str
    ok: bool = True


@dataclass(frozen=True)
class Tool:
    """One callable tool. `parameters` is a JSON schema of type object."""

    name: str
    description: str
    parameters: dict[str, Any]
    run: ToolRun = field(repr=False)
    side_effects: bool = False
    max_chars: int = MAX_OBSERVATION_CHARS
    kind: str = ""  # what sort of tool it is (calculator, search, sql, ...), for policies that pick tools
    approval: bool = False  # a person approves each call first (the tool node's policy.require_approval)

    def __post_init__(self) -> None:
        if not re.match(TOOL_NAME, self.name):
            raise ValueError(f"tool name {self.name!r} must be 1-64 letters, digits, _ or -, "
                             "starting with a letter or _")

    def spec(self) -> dict[str, Any]:
        """The function description models read (OpenAI / Cohere tool shape)."""
        return {"name": self.name, "description": self.description, "parameters": self.parameters}

    def to_preview(self) -> dict[str, Any]:
        args = sorted((self.parameters.get("properties") or {}).keys())
        return {"tool": self.name, "description": self.description[:200], "arguments": args}

    def check(self, args: Any) -> dict[str, Any]:
        """The arguments as a dict that fits the schema; ToolError saying what is wrong."""
        args = read_arguments(args, self)
        from jsonschema import Draft202012Validator  # noqa: PLC0415 - loaded on the first tool call

        errors = sorted(Draft202012Validator(self.parameters).iter_errors(args), key=lambda e: list(e.path))
        if errors:
            problems = "; ".join(f"{'/'.join(map(str, e.path)) or 'arguments'}: {e.message}" for e in errors[:3])
            raise ToolError(f"tool '{self.name}' got bad arguments: {problems}",
                            hint=f"the arguments must fit this schema: {json.dumps(self.parameters)}")
        return dict(args)

    async def call(self, args: Any, ctx: RunContext) -> Observation:
        """Check, ask for approval where a policy wants it, run and describe the result.

        Never raises for a tool's own failure or a rejected call (the model reads what
        happened); raises ApprovalUnavailable when a call needs approval and nobody can be asked.
        """
        try:
            checked = self.check(args)
            if self.approval or ctx.approval_required(self.name):
                decision = await ctx.approve(self.name, checked)
                if not decision.approved:
                    request = ApprovalRequest(ctx.run_id, ctx.node_id, self.name, checked)
                    return Observation(rejection_text(request, decision), ok=False)
            result = await self.run(checked, ctx)
        except ApprovalUnavailable:
            raise
        except ChainloomError as err:
            return Observation(clip(f"Error: {err}", self.max_chars), ok=False)
        except Exception as err:  # noqa: BLE001 - a tool bug becomes an observation, not a dead agent
            return Observation(clip(f"Error: {type(err).__name__}: {err}", self.max_chars), ok=False)
        return Observation(clip(as_text(result), self.max_chars))


def gated(value: Any, ctx: RunContext) -> Any:
    """The tool(s) a tool node made, each asking for approval first when the node's policy says so."""
    if not ctx.approval_required():
        return value
    if isinstance(value, list):
        return [gated(item, ctx) for item in value]
    return dataclasses.replace(value, approval=True) if isinstance(value, Tool) else value


def read_arguments(args: Any, tool: Tool) -> dict[str, Any]:
    """Arguments from a dict, JSON text, or (for a one-argument tool) a bare value."""
    if isinstance(args, str):
        text = args.strip()
        try:
            args = json.loads(text) if text.startswith("{") else text
        except ValueError as err:
            raise ToolError(f"tool '{tool.name}': the arguments are not valid JSON: {err}",
                            hint="send a JSON object of arguments") from err
    if isinstance(args, dict):
        return args
    props = list((tool.parameters.get("properties") or {}).keys())
    if len(props) == 1 and args is not None:
        return {props[0]: args}
    raise ToolError(f"tool '{tool.name}' takes a JSON object of arguments; got {type(args).__name__}",
                    hint=f"arguments: {', '.join(props) or 'none'}")


def clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n... ({len(text) - limit} more characters cut)"


def as_tools(value: Any) -> list[Tool]:
    """Every Tool in what arrived on a Tool port (a tool, a toolkit list, or lists of them)."""
    out: list[Tool] = []
    items: Iterable[Any] = value if isinstance(value, list | tuple) else [value]
    for item in items:
        if isinstance(item, list | tuple):
            out.extend(as_tools(item))
        elif isinstance(item, Tool):
            out.append(item)
        elif item is not None:
            raise TypeError(f"expected a tool, got {type(item).__name__}")
    return out


def tool_table(tools: Iterable[Tool]) -> dict[str, Tool]:
    """Tools by name; PermanentError when two share a name (the model could not tell them apart)."""
    table: dict[str, Tool] = {}
    for tool in tools:
        if tool.name in table:
            raise PermanentError(f"two tools are named '{tool.name}'",
                                 hint="give each tool node its own 'name' in its config")
        table[tool.name] = tool
    return table


def object_schema(properties: dict[str, Any], required: Iterable[str] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required),
            "additionalProperties": False}


class ToolConfig(NodeConfig):
    """Name and description every tool node lets the flow author change."""

    name: str = Field("tool", pattern=TOOL_NAME, description="The tool's name, as the model sees it.")
    description: str = Field("", max_length=2000, description="What the tool does and when to use it; "
                             "empty = the built-in description.")

    def describe(self, default: str) -> str:
        return self.description.strip() or default
