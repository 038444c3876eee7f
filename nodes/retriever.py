"""Retriever node: `retriever.vectorstore` turns a VectorStore into a Retriever.

Search by similarity, MMR, score threshold or hybrid BM25+dense, with a metadata
filter; given a query, it also retrieves right away. The Retriever value (a store
plus search settings) is defined with the store in nodes/support/vector_store.py.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from engine.context import RunContext
from engine.node import NodeConfig, NodeSpec, node
from engine.ports import Port, PortType
from nodes.support.documents import format_documents
from nodes.support.values import as_text
from nodes.support.vector_store import Retriever, SearchType


class RetrieverConfig(NodeConfig):
    search_type: SearchType = Field("similarity", description="similarity; mmr (relevant and diverse); "
                                    "threshold (only scores >= score_threshold); hybrid (BM25 keywords + dense).")
    k: int = Field(4, ge=1, le=200, description="How many documents to return.")
    fetch_k: int = Field(20, ge=1, le=2000, description="Candidates considered by mmr and hybrid.")
    lambda_mult: float = Field(0.5, ge=0, le=1, description="mmr: 1 = pure relevance, 0 = pure diversity.")
    score_threshold: float = Field(0.2, ge=-1, le=1, description="threshold: lowest similarity kept.")
    filter: dict[str, Any] | None = Field(None, description="Metadata filter, chroma syntax: "
                                          '{"source": "a.md"} or {"page": {"$gte": 3}}.')


@node("retriever.vectorstore", title="Vector store retriever", config=RetrieverConfig, cacheable=False,
      inputs=(Port("store", PortType.VECTOR_STORE, "The collection to search."),
              Port("query", PortType.TEXT, "Retrieve for this query now.", required=False)),
      outputs=(Port("retriever", PortType.RETRIEVER, "The retriever, for chains, tools and memory."),
               Port("documents", PortType.DOCUMENTS, "Documents found for the query (empty without one)."),
               Port("context", PortType.TEXT, "Those documents as numbered text, for a prompt.")),
      description="Searches a vector store by similarity, MMR, score threshold or hybrid keyword+dense.")
def retriever_node(config: RetrieverConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    retriever = Retriever(inputs["store"], config.search_type, config.k, config.fetch_k,
                          config.lambda_mult, config.score_threshold, config.filter)
    query = as_text(inputs.get("query")).strip()
    docs = retriever.retrieve(query, ctx) if query else []
    if query:
        ctx.step("retrieved", query=query, hits=[{"source": d.source, "score": d.metadata.get("score")}
                                                 for d in docs])
    return {"retriever": retriever, "documents": docs, "context": format_documents(docs)}


SPECS: tuple[NodeSpec, ...] = (retriever_node,)
