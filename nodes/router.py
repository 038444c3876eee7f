"""Routers that choose a branch by meaning: the LLM router and the embedding router.

Both take a list of branches (a name, which becomes an output port, and a
description of what belongs there) and a default branch. `router.llm` asks the
model which branch fits and reads its answer leniently (the bare name, a JSON
object, or the one branch name the answer mentions); an answer naming no branch,
or several, goes to the default. `router.embedding` compares the input's
embedding with each description's and picks the nearest, or the default when
even the nearest is below `threshold`. Like `flow.condition`, the branches not
chosen are skipped; every decision is a step in the trace.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field, model_validator

from engine.node import NodeConfig, NodeSpec, node
from engine.ports import Port, PortType
from nodes.support.embedders import usage_hook
from nodes.support.model_port import MODEL_PORT, ask, model_for
from nodes.support.providers.config import ModelConfig
from nodes.support.search import cosine
from nodes.support.values import IDENTIFIER, as_text, check_branch_names

if TYPE_CHECKING:
    from engine.context import RunContext


class Branch(NodeConfig):
    name: str = Field(pattern=IDENTIFIER, description="The output port this branch fires.")
    description: str = Field(min_length=1, max_length=2000, description="What belongs on this branch.")


class BranchesConfig(NodeConfig):
    branches: list[Branch] = Field(default_factory=list, max_length=32, description="The branches to choose from.")
    default_branch: str = Field("default", pattern=IDENTIFIER, description="Output fired when no branch fits.")

    @model_validator(mode="after")
    def _names_unique(self) -> BranchesConfig:
        check_branch_names([b.name for b in self.branches], self.default_branch, kind="branch",
                           default_field="default_branch")
        return self


def _branch_ports(config: BranchesConfig) -> list[Port]:
    ports = [Port(b.name, PortType.TEXT, f"Fires for: {b.description[:120]}") for b in config.branches]
    return ports + [Port(config.default_branch, PortType.TEXT, "Fires when no branch fits.")]


def _route(ctx: RunContext, value: Any, to: str, **why: Any) -> dict[str, Any]:
    ctx.step("routed", to=[to], **why)
    return {to: value}


# ---------------------------------------------------------------- LLM router
ROUTER_PROMPT = ("Choose the branch that fits the input best.\n\nBranches:\n{branches}\n\nAnswer with the branch "
                 "name only, or {default} when none fits.\n\nInput:\n{value}")


class LlmRouterConfig(BranchesConfig, ModelConfig):
    temperature: float = Field(0.0, ge=0, le=2, description="Randomness: 0 picks most consistently.")
    prompt: str = Field("", max_length=20_000, description="Own prompt with {branches}, {default} and {value}; "
                        "empty = the built-in one.")


def read_choice(answer: str, names: list[str]) -> tuple[str | None, str]:
    """The branch an answer names (or None) and how it was read."""
    text = answer.strip()
    bare = text.strip(" \t\n`'\".:*").lower()
    by_lower = {n.lower(): n for n in names}
    if bare in by_lower:
        return by_lower[bare], "the answer is a branch name"
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        picked = str(data.get("branch") or data.get("route") or data.get("destination") or "").lower()
        if picked in by_lower:
            return by_lower[picked], "the answer is a JSON choice"
    said = [n for n in names if re.search(rf"(?<![\w-]){re.escape(n.lower())}(?![\w-])", text.lower())]
    if len(said) == 1:
        return said[0], "the answer mentions one branch"
    return None, ("the answer names several branches: " + ", ".join(said)) if said else "the answer names no branch"


@node("router.llm", title="LLM router", config=LlmRouterConfig, router=True, cacheable=False,
      inputs=[Port("value", PortType.TEXT, "What to route (passed on to the chosen branch)."), MODEL_PORT],
      outputs=_branch_ports,
      description="Asks a model which branch (by its description) the input belongs to; a bad answer goes to "
                  "the default branch. Branches not chosen are skipped.")
async def llm_router(config: LlmRouterConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    value = inputs["value"]
    listing = "\n".join(f"- {b.name}: {b.description}" for b in config.branches)
    prompt = (config.prompt or ROUTER_PROMPT).replace("{branches}", listing) \
        .replace("{default}", config.default_branch).replace("{value}", as_text(value))
    answer = (await ask(model_for(config, inputs, ctx), config, prompt, ctx)).text
    names = [b.name for b in config.branches]
    choice, how = read_choice(answer, names + [config.default_branch])
    return _route(ctx, value, choice or config.default_branch, answer=answer, reason=how)


# ---------------------------------------------------------------- embedding router
class EmbeddingRouterConfig(BranchesConfig):
    threshold: float = Field(0.2, ge=-1, le=1, description="Lowest cosine similarity that still picks a "
                             "branch; below it the default fires.")


@node("router.embedding", title="Embedding router", config=EmbeddingRouterConfig, router=True, cacheable=False,
      inputs=[Port("value", PortType.TEXT, "What to route (passed on to the chosen branch)."),
              Port("embeddings", PortType.EMBEDDINGS, "The embedding model that compares meanings.")],
      outputs=_branch_ports,
      description="Sends the input to the branch whose description is nearest in meaning (embeddings), or to "
                  "the default when nothing is near enough. Branches not chosen are skipped.")
async def embedding_router(config: EmbeddingRouterConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    value, embedder = inputs["value"], inputs["embeddings"]
    if not config.branches:
        return _route(ctx, value, config.default_branch, reason="no branches are configured")
    usage = usage_hook(ctx, embedder.name)
    targets = await asyncio.to_thread(embedder.embed_documents, [b.description for b in config.branches],
                                      usage=usage)
    query = await asyncio.to_thread(embedder.embed_query, as_text(value), usage=usage)
    scores = cosine(np.asarray(targets, dtype=np.float32), np.asarray(query, dtype=np.float32))
    best = int(np.argmax(scores))
    shown = {b.name: round(float(s), 4) for b, s in zip(config.branches, scores)}
    if scores[best] < config.threshold:
        return _route(ctx, value, config.default_branch, scores=shown,
                      reason=f"the nearest branch scored {scores[best]:.3f}, below the threshold {config.threshold}")
    return _route(ctx, value, config.branches[best].name, scores=shown, reason="nearest description")


SPECS: tuple[NodeSpec, ...] = (llm_router, embedding_router)
