"""The retriever tool: an agent searches a document collection and reads what it found.

The tool wraps a Retriever (from `retriever.vectorstore`) and answers a query
with the best passages, numbered and with their sources, as plain text. The
passages are data for the model: nothing in them changes what tools may do.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from pydantic import Field

from engine.node import NodeSpec, node
from engine.ports import Port, PortType
from nodes.support.documents import format_documents
from nodes.support.tools import TOOL_NAME, Tool, ToolConfig, gated, object_schema

if TYPE_CHECKING:
    from engine.context import RunContext
    from nodes.support.vector_store import Retriever


class RetrieverToolConfig(ToolConfig):
    name: str = Field("search_documents", pattern=TOOL_NAME, description="The tool's name, as the model sees it.")
    max_chars: int = Field(4000, ge=200, le=100_000, description="Longest text handed back to the model.")


RETRIEVER_DESCRIPTION = ("Searches the document collection and returns the most relevant passages with "
                         "their sources. Use it for questions about the documents.")


def retriever_tool(retriever: Retriever, config: RetrieverToolConfig) -> Tool:
    async def run(args: dict[str, Any], ctx: RunContext) -> str:
        query = str(args["query"]).strip()
        docs = await asyncio.to_thread(retriever.retrieve, query, ctx)
        return format_documents(docs) or "No passages matched the query."

    schema = object_schema({"query": {"type": "string", "description": "What to look for."}}, ["query"])
    return Tool(config.name, config.describe(RETRIEVER_DESCRIPTION), schema, run, max_chars=config.max_chars,
                kind="search")


@node("tool.retriever", title="Retriever tool", config=RetrieverToolConfig, blocking=False, cacheable=False,
      inputs=[Port("retriever", PortType.RETRIEVER, "The retriever to search with.")],
      outputs=[Port("tool", PortType.TOOL, "The search tool, for agents.")],
      description="Lets an agent search a document collection (any retriever) and read the passages found.")
def retriever_tool_node(config: RetrieverToolConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    return {"tool": gated(retriever_tool(inputs["retriever"], config), ctx)}


SPECS: tuple[NodeSpec, ...] = (retriever_tool_node,)
