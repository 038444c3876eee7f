"""Memory nodes: one per kind (each makes a Memory value), and the nodes that load and save it.

A chat flow loads memory before the model call and saves the turn after it, in
the same run: `memory.load` (memory + the new message -> history, messages,
context) feeds the prompt, `memory.save` (memory + message + reply) records the
turn once the reply exists. The session is the `session` input when connected,
else the run's session id (CLI --session, API session_id, the UI's chat), else
"default". `memory.select` picks one of several memories by kind at run time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import Field

from engine.errors import PermanentError
from engine.fields import Where
from engine.node import NodeConfig, NodeSpec, RunFunction, node
from engine.ports import Port, PortType
from nodes.support.chat_memory.kinds import (
    KINDS,
    BufferMemory,
    EntityMemory,
    Extractor,
    KnowledgeGraphMemory,
    Memory,
    SummaryMemory,
    VectorMemory,
    WindowMemory,
)
from nodes.support.chat_memory.store import memory_store, session_of
from nodes.support.model_port import MODEL_PORT, model_for
from nodes.support.providers.config import ModelConfig
from nodes.support.values import as_text

if TYPE_CHECKING:
    from engine.context import RunContext

KEY = r"^[A-Za-z0-9_.-]{1,100}$"
_OUT = [Port("memory", PortType.MEMORY, "The memory, for memory.load / memory.save, agents and chains.")]
_KEY_DOC = "Name of this memory; flows that share a key (and a session) share the conversation."


class BufferConfig(NodeConfig):
    key: str = Where(kind="memory", default="chat", pattern=KEY, description=_KEY_DOC)
    max_tokens: int = Field(2000, ge=10, le=1_000_000, description="Most words of past turns shown to the "
                            "model; the oldest turns are dropped first.")


class WindowConfig(NodeConfig):
    key: str = Where(kind="memory", default="chat", pattern=KEY, description=_KEY_DOC)
    k: int = Field(3, ge=1, le=1000, description="How many of the last turns are shown to the model.")


class SummaryConfig(ModelConfig):
    key: str = Where(kind="memory", default="chat", pattern=KEY, description=_KEY_DOC)
    max_tokens: int = Field(300, ge=10, le=100_000, description="Most words of recent turns kept verbatim; "
                            "older ones are folded into the summary.")
    summary_tokens: int = Field(120, ge=10, le=10_000, description="Longest summary, in words.")


class VectorConfig(NodeConfig):
    key: str = Where(kind="memory", default="chat", pattern=KEY, description=_KEY_DOC)
    k: int = Field(4, ge=1, le=100, description="How many similar past turns are recalled.")


class ExtractingConfig(ModelConfig):
    key: str = Where(kind="memory", default="chat", pattern=KEY, description=_KEY_DOC)
    k: int = Field(3, ge=0, le=1000, description="How many of the last turns are also shown verbatim.")
    extractor: Extractor = Field("rules", description="rules: names and plain statements, no model needed; "
                                 "model: ask the model (falls back to rules when its answer cannot be read).")


def _memory_node(kind: str, title: str, config: type[NodeConfig], inputs: list[Port],
                 description: str) -> Callable[[RunFunction], NodeSpec]:
    return node(f"memory.{kind}", title=title, config=config, inputs=inputs, outputs=_OUT, cacheable=False,
                blocking=False, description=description)


@_memory_node("buffer", "Buffer memory", BufferConfig, [],
              "Remembers the whole conversation of a session (oldest turns dropped past a word budget).")
def buffer_node(config: BufferConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    return {"memory": BufferMemory(memory_store(ctx), config.key, max_tokens=config.max_tokens)}


@_memory_node("window", "Window memory", WindowConfig, [], "Remembers the last k turns of a session.")
def window_node(config: WindowConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    return {"memory": WindowMemory(memory_store(ctx), config.key, k=config.k)}


@_memory_node("summary", "Summary memory", SummaryConfig, [MODEL_PORT],
              "Keeps recent turns verbatim and folds older ones into a running summary written by the model.")
def summary_node(config: SummaryConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    return {"memory": SummaryMemory(memory_store(ctx), config.key, model=model_for(config, inputs, ctx),
                                    config=config, max_tokens=config.max_tokens,
                                    summary_tokens=config.summary_tokens)}


@_memory_node("vector", "Vector-store memory", VectorConfig,
              [Port("store", PortType.VECTOR_STORE, "Where past turns are stored and searched.")],
              "Stores every turn in a vector store and recalls the past turns most similar to the new message.")
def vector_node(config: VectorConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    return {"memory": VectorMemory(memory_store(ctx), config.key, k=config.k, vectors=inputs["store"])}


@_memory_node("entity", "Entity memory", ExtractingConfig, [MODEL_PORT],
              "Extracts entities and facts about them from each turn; recalls the facts about the entities "
              "the new message mentions.")
def entity_node(config: ExtractingConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    model = model_for(config, inputs, ctx) if config.extractor == "model" else None
    return {"memory": EntityMemory(memory_store(ctx), config.key, k=config.k, extractor=config.extractor,
                                   model=model, config=config)}


@_memory_node("knowledge_graph", "Knowledge-graph memory", ExtractingConfig, [MODEL_PORT],
              "Extracts (subject, relation, object) triples from each turn into a networkx graph; recalls "
              "the facts about what the new message mentions.")
def knowledge_graph_node(config: ExtractingConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    model = model_for(config, inputs, ctx) if config.extractor == "model" else None
    return {"memory": KnowledgeGraphMemory(memory_store(ctx), config.key, k=config.k,
                                           extractor=config.extractor, model=model, config=config)}


# ---------------------------------------------------------------- load, save, select
def memory_of(inputs: dict[str, Any]) -> Memory:
    memory = inputs.get("memory")
    if not isinstance(memory, Memory):
        raise PermanentError(f"input 'memory' needs a memory node's output; got {type(memory).__name__}",
                             hint="connect memory.buffer, memory.window, ... to it")
    return memory


_SESSION = Port("session", PortType.TEXT, "Session id; empty = the run's session.", required=False)


class LoadConfig(NodeConfig):
    pass


@node("memory.load", title="Load memory", config=LoadConfig, cacheable=False,
      inputs=[Port("memory", PortType.MEMORY, "The memory to read."),
              Port("message", PortType.TEXT, "The new message (what is relevant depends on it).", required=False),
              _SESSION],
      outputs=[Port("history", PortType.TEXT, "Context and past turns as text, for a prompt."),
               Port("messages", PortType.MESSAGES, "Past turns as chat messages."),
               Port("context", PortType.TEXT, "What the memory derived: summary, entity facts, graph facts.")],
      description="Reads a session's memory before the model call.")
async def load_node(config: LoadConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    memory, session = memory_of(inputs), session_of(inputs, ctx)
    recall = await memory.load(session, as_text(inputs.get("message")), ctx)
    ctx.step("recalled", memory=memory.kind, session=session, turns=len(recall.messages) // 2,
             context=recall.context)
    return {"history": recall.text(), "messages": recall.messages, "context": recall.context}


class SaveConfig(NodeConfig):
    pass


@node("memory.save", title="Save to memory", config=SaveConfig, cacheable=False, side_effects=True,
      inputs=[Port("memory", PortType.MEMORY, "The memory to write."),
              Port("message", PortType.TEXT, "What the user said."),
              Port("reply", PortType.TEXT, "What the flow answered."), _SESSION],
      outputs=[Port("reply", PortType.TEXT, "The reply, passed on (wire it to the output).")],
      description="Records the turn (message and reply) in the session's memory after the model call.")
async def save_node(config: SaveConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    memory, session = memory_of(inputs), session_of(inputs, ctx)
    reply = as_text(inputs["reply"])
    turn = await memory.save(session, as_text(inputs["message"]), reply, ctx)
    ctx.step("saved", memory=memory.kind, session=session, turn=turn.id)
    return {"reply": reply}


class SelectConfig(NodeConfig):
    kind: str = Field("buffer", description="The kind used when the `kind` input is empty: "
                      + ", ".join(KINDS) + ".")


@node("memory.select", title="Choose memory", config=SelectConfig, cacheable=False, blocking=False,
      inputs=[Port("memories", PortType.MEMORY, "Memories to choose from.", multiple=True),
              Port("kind", PortType.TEXT, "Which kind to use (e.g. from a flow input).", required=False)],
      outputs=_OUT, description="Passes on the memory of the chosen kind, so one flow can offer every kind.")
def select_node(config: SelectConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    kind = as_text(inputs.get("kind")).strip().lower().replace(" ", "_").replace("-", "_") or config.kind
    offered = {m.kind: m for m in inputs.get("memories") or [] if isinstance(m, Memory)}
    if kind not in offered:
        raise PermanentError(f"no memory of kind '{kind}' is connected to 'memories'",
                             hint=f"choose one of: {', '.join(offered) or '(none connected)'}")
    ctx.step("chosen", kind=kind)
    return {"memory": offered[kind]}


SPECS: tuple[NodeSpec, ...] = (buffer_node, window_node, summary_node, vector_node, entity_node,
                               knowledge_graph_node, load_node, save_node, select_node)
