"""Embedding nodes: `embeddings.*`, each gives an embedding model for vector stores and retrievers.

The models themselves (hashing, OpenAI, Cohere, sentence-transformers, and the cache
that skips texts embedded before) live in nodes/support/embedders.py; a node here
only reads its settings and the key, and shares one cached model per configuration.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import Field

from engine.context import RunContext
from engine.fields import Where
from engine.node import NodeConfig, NodeSpec, SecretRef, node
from engine.ports import Port, PortType
from nodes.support.embedders import CohereEmbedder, HashingEmbedder, OpenAIEmbedder, SentenceTransformerEmbedder, shared

_OUT = (Port("embeddings", PortType.EMBEDDINGS, "The embedding model, for vector stores and retrievers."),)


class HashingConfig(NodeConfig):
    dimension: int = Field(512, ge=64, le=8192, description="Vector size. Larger means fewer hash collisions.")
    bigrams: bool = Field(True, description="Also hash adjacent word pairs, so phrases match.")


@node("embeddings.hashing", title="Hashing embeddings (offline)", config=HashingConfig, outputs=_OUT,
      blocking=False, cacheable=False,
      description="Fast, deterministic lexical embeddings with no key and no download.")
def hashing_node(config: HashingConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    emb = shared(("hashing", config.dimension, config.bigrams),
                 lambda: HashingEmbedder(config.dimension, bigrams=config.bigrams))
    return {"embeddings": emb}


class OpenAIConfig(NodeConfig):
    model: str = Field("text-embedding-3-small", min_length=1, max_length=200, description="Embedding model name.")
    api_key_env: str = SecretRef("OPENAI_API_KEY", description="Environment variable holding the API key.")
    base_url: str = Where(kind="url", default="", max_length=500,
                          description="OpenAI-compatible server URL; empty for OpenAI.")
    dimensions: int | None = Field(None, ge=1, le=8192, description="Shorten vectors (text-embedding-3 models).")
    batch_size: int = Field(256, ge=1, le=2048, description="Texts per request.")
    timeout: float = Field(60.0, gt=0, le=600, description="Seconds per request.")


@node("embeddings.openai", title="OpenAI embeddings", config=OpenAIConfig, outputs=_OUT, cacheable=False,
      description="OpenAI or any OpenAI-compatible server's embeddings endpoint.")
def openai_node(config: OpenAIConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    key = ctx.secret(config.api_key_env) if config.api_key_env else "not-needed"
    ident = ("openai", config.model, config.base_url, config.dimensions, hashlib.sha256(key.encode()).hexdigest())
    emb = shared(ident, lambda: OpenAIEmbedder(model=config.model, api_key=key, base_url=config.base_url,
                                               dimensions=config.dimensions, batch_size=config.batch_size,
                                               timeout=config.timeout))
    return {"embeddings": emb}


class CohereConfig(NodeConfig):
    model: str = Field("embed-english-v3.0", min_length=1, max_length=200, description="Embedding model name.")
    api_key_env: str = SecretRef("COHERE_API_KEY", description="Environment variable holding the API key.")
    base_url: str = Where(kind="url", default="", max_length=500, description="Cohere API URL; empty for the default.")
    batch_size: int = Field(96, ge=1, le=96, description="Texts per request (Cohere allows 96).")
    timeout: float = Field(60.0, gt=0, le=600, description="Seconds per request.")


@node("embeddings.cohere", title="Cohere embeddings", config=CohereConfig, outputs=_OUT, cacheable=False,
      description="Cohere's embed endpoint (documents and queries embedded with their own input types).")
def cohere_node(config: CohereConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    key = ctx.secret(config.api_key_env)
    ident = ("cohere", config.model, config.base_url, hashlib.sha256(key.encode()).hexdigest())
    emb = shared(ident, lambda: CohereEmbedder(model=config.model, api_key=key, base_url=config.base_url,
                                               batch_size=config.batch_size, timeout=config.timeout))
    return {"embeddings": emb}


class SentenceTransformerConfig(NodeConfig):
    model: str = Field("all-MiniLM-L6-v2", min_length=1, max_length=300,
                       description="Model name or local path (needs the local-embeddings extra).")
    batch_size: int = Field(64, ge=1, le=1024, description="Texts per forward pass.")


@node("embeddings.sentence_transformers", title="Sentence-transformers embeddings (local)",
      config=SentenceTransformerConfig, outputs=_OUT, cacheable=False,
      description="A local sentence-transformers model; all-MiniLM-L6-v2 ships offline with the extra.")
def st_node(config: SentenceTransformerConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    emb = shared(("st", config.model, config.batch_size),
                 lambda: SentenceTransformerEmbedder(model=config.model, batch_size=config.batch_size))
    return {"embeddings": emb}


SPECS: tuple[NodeSpec, ...] = (hashing_node, openai_node, cohere_node, st_node)
