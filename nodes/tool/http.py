"""`tool.http`: an agent calls allowlisted web APIs, and nothing else.

The requests go through nodes/support/api_client.py (allowlist on every redirect
hop, SSRF-safe fetch, bodies and time capped); methods with side effects work
only when the flow author turns them on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from engine.node import NodeSpec, node
from engine.ports import Port, PortType
from nodes.support.api_client import HttpClient, HttpSettings, describe_response
from nodes.support.tools import TOOL_NAME, Tool, ToolConfig, gated, object_schema

if TYPE_CHECKING:
    from engine.context import RunContext


class HttpToolConfig(HttpSettings, ToolConfig):
    name: str = Field("http_request", pattern=TOOL_NAME, description="The tool's name, as the model sees it.")



HTTP_DESCRIPTION = "Makes an HTTP request to an allowed web API and returns the status and the response body."


def http_tool(config: HttpToolConfig, ctx: RunContext) -> Tool:
    client = HttpClient(config, ctx)
    hosts = ", ".join(config.allowed_hosts) or "none"

    async def run(args: dict[str, Any], _ctx: RunContext) -> str:
        url = client.url(args["url"], args.get("params"))
        return describe_response(await client.request(args.get("method", "GET"), url, args.get("body")))

    props: dict[str, Any] = {
        "url": {"type": "string", "description": "Full URL" + (f", or a path under {config.base_url}"
                                                               if config.base_url else "")},
        "method": {"type": "string", "enum": config.methods(), "default": "GET"},
        "params": {"type": "object", "description": "Query-string parameters."},
    }
    if config.allow_side_effects:
        props["body"] = {"description": "JSON body (POST, PUT, PATCH)."}
    description = config.describe(HTTP_DESCRIPTION) + f" Allowed hosts: {hosts}."
    return Tool(config.name, description, object_schema(props, ["url"]), run,
                side_effects=config.allow_side_effects, max_chars=config.max_chars, kind="http")


@node("tool.http", title="HTTP request tool", config=HttpToolConfig, cacheable=False,
      outputs=[Port("tool", PortType.TOOL, "The HTTP tool, for agents.")],
      description="Lets an agent call web APIs on allowlisted hosts only (empty = none), SSRF-safe, GET by "
                  "default; POST/PUT/PATCH/DELETE only when enabled.")
def http_node(config: HttpToolConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    return {"tool": gated(http_tool(config, ctx), ctx)}


SPECS: tuple[NodeSpec, ...] = (http_node,)
