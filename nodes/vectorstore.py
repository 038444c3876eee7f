"""Vector store nodes: `vectorstore.chroma` (a collection that adds documents and serves searches)
and `vectorstore.delete`.

The store itself (stable chunk ids, HNSW settings, search kinds) is
nodes/support/vector_store.py; these nodes open it from their settings.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from engine.context import RunContext
from engine.fields import Where
from engine.node import NodeConfig, NodeSpec, SecretRef, node
from engine.ports import Port, PortType
from nodes.support.documents import as_documents
from nodes.support.embedders import Embedder, usage_hook
from nodes.support.paths import data_dir
from nodes.support.vector_store import ChromaStore, Hnsw, Space, UpsertStats, client_for


class ChromaConfig(NodeConfig):
    collection: str = Where(kind="database", default="documents",
                            pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{1,126}[A-Za-z0-9]$",
                            description="Collection (namespace) name: 3-128 letters, digits, . _ -")
    url: str = Where(kind="url", default="", max_length=2000,
                     description="Chroma server URL (http://host:8000); empty = embedded.")
    token_env: str = SecretRef("", description="Variable holding the server's auth token, if it needs one.")
    folder: str = Where(kind="path", default="chroma", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$",
                        description="Embedded store folder inside the chainloom data dir.")
    space: Space = Field("cosine", description="Distance: cosine, l2 (squared euclidean) or ip (inner product). "
                                               "Fixed when the collection is created.")
    ef_search: int = Field(Hnsw.ef_search, ge=10, le=5000, description="HNSW search breadth (recall vs speed).")
    ef_construction: int = Field(Hnsw.ef_construction, ge=10, le=5000, description="HNSW build breadth.")
    max_neighbors: int = Field(Hnsw.max_neighbors, ge=4, le=256, description="HNSW links per vector (M).")
    batch_size: int = Field(2000, ge=1, le=5000, description="Chunks embedded and written per batch.")

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("url must start with http:// or https://")
        return value


def open_vector_store(config: ChromaConfig, embedder: Embedder, ctx: RunContext, *, create: bool = True
                      ) -> ChromaStore:
    """The configured collection; with `create` off it must exist (searching an empty name is a mistake)."""
    hnsw = Hnsw(config.ef_search, config.ef_construction, config.max_neighbors)
    if config.url:
        headers = {"Authorization": f"Bearer {ctx.secret(config.token_env, field='token_env')}"} \
            if config.token_env else {}
        return ChromaStore(client_for(url=config.url, headers=headers), config.collection, embedder,
                           space=config.space, hnsw=hnsw, location=config.url, create=create)
    path = data_dir(ctx) / config.folder
    return ChromaStore(client_for(path=path), config.collection, embedder, space=config.space, hnsw=hnsw,
                       location=str(path), create=create)


@node("vectorstore.chroma", title="Chroma vector store", config=ChromaConfig, cacheable=False,
      side_effects=True,
      inputs=(Port("embeddings", PortType.EMBEDDINGS, "The embedding model for this collection."),
              Port("documents", PortType.DOCUMENTS, "Chunks to add (unchanged ones are skipped).",
                   required=False)),
      outputs=(Port("store", PortType.VECTOR_STORE, "The collection, for retrievers."),
               Port("stats", PortType.JSON, "added / unchanged / deleted chunk counts and the total.")),
      description="A chromadb collection: adds documents with stable ids (re-ingesting adds nothing; "
                  "a changed file replaces its chunks) and serves searches. Without a documents input the "
                  "collection must exist (the error lists the collections there).")
def chroma_node(config: ChromaConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    # with no documents input the node only serves searches: the collection must exist already
    store = open_vector_store(config, inputs["embeddings"], ctx, create=inputs.get("documents") is not None)
    docs = as_documents(inputs.get("documents"))
    stats = UpsertStats()
    if docs:
        stats = store.upsert(docs, batch_size=config.batch_size, usage=usage_hook(ctx, store.embedder.name),
                             progress=lambda done, total: ctx.step("progress", done=done, total=total))
    count = store.count() if store.create or store.exists() else 0  # counting would create it
    return {"store": store, "stats": {**stats.to_dict(), "count": count}}


class DeleteConfig(NodeConfig):
    source: str = Where(kind="capability", default="", max_length=4096,
                        description="Delete every chunk of this source.")
    where: dict[str, Any] | None = Where(kind="capability", default=None,
                                         description="Or: delete chunks matching this metadata filter.")


@node("vectorstore.delete", title="Delete from vector store", config=DeleteConfig, side_effects=True,
      cacheable=False,
      inputs=(Port("store", PortType.VECTOR_STORE, "The collection."),
              Port("source", PortType.TEXT, "Overrides the configured source.", required=False)),
      outputs=(Port("deleted", PortType.NUMBER, "How many chunks were deleted."),),
      description="Deletes a source's chunks (or chunks matching a filter) from a collection.")
def delete_node(config: DeleteConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    store: ChromaStore = inputs["store"]
    source = inputs.get("source") or config.source
    return {"deleted": store.delete(source=source or None, where=config.where)}


SPECS: tuple[NodeSpec, ...] = (chroma_node, delete_node)
