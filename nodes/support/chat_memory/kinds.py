"""The six kinds of chat memory, as values that travel on Memory edges.

Every memory records each turn of a session and, on `load`, gives back the turns
worth showing the model (`messages`) plus what it derived (`context`):

- buffer: every turn, oldest dropped first to stay within `max_tokens`;
- window: the last `k` turns;
- summary: a running summary of older turns (folded in by the model whenever the
  verbatim turns pass `max_tokens`) plus the turns not yet summarised;
- vector: the past turns most similar to the new message, from a vector store;
- entity: facts about the entities the new message mentions, plus the last `k` turns;
- knowledge_graph: triples about those entities from a networkx graph, plus the last `k` turns.

All state is keyed by the memory's `key` and the session id; nothing is shared
between sessions. Texts from memory are data for the prompt, never instructions.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

import networkx as nx

from nodes.support.chat_memory import extract
from nodes.support.chat_memory.store import MemoryStore, Turn
from nodes.support.documents import Document
from nodes.support.messages import Message
from nodes.support.model_port import ask
from nodes.support.providers.base import ChatModel, count_words
from nodes.support.providers.config import ModelConfig

if TYPE_CHECKING:
    from engine.context import RunContext
    from nodes.support.vector_store import ChromaStore

Extractor = Literal["rules", "model"]
MAX_FACTS_PER_ENTITY = 10
MAX_TRIPLES = 2000
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Recall:
    """What a memory gives the model: past turns as messages, and derived context."""

    messages: tuple[Message, ...]
    context: str = ""

    def history(self) -> str:
        """The past turns as a transcript ("User: ... / Assistant: ...")."""
        names = {"user": "User", "assistant": "Assistant"}
        return "\n".join(f"{names.get(m.role, m.role)}: {m.content}" for m in self.messages)

    def text(self) -> str:
        """Context and transcript together, ready for a prompt."""
        return "\n\n".join(part for part in (self.context, self.history()) if part)


def turns_as_messages(turns: list[Turn]) -> tuple[Message, ...]:
    out: list[Message] = []
    for turn in turns:
        out += [Message("user", turn.user), Message("assistant", turn.assistant)]
    return tuple(out)


def turn_tokens(turn: Turn) -> int:
    return count_words(turn.user) + count_words(turn.assistant)


def within_budget(turns: list[Turn], max_tokens: int) -> list[Turn]:
    """The newest turns whose words add up to at most `max_tokens`."""
    kept: list[Turn] = []
    total = 0
    for turn in reversed(turns):
        total += turn_tokens(turn)
        if total > max_tokens:
            break
        kept.append(turn)
    return kept[::-1]


def cut_words(text: str, max_tokens: int) -> str:
    words = re.findall(r"\S+", text)
    return text.strip() if len(words) <= max_tokens else " ".join(words[:max_tokens])


@dataclass
class Memory:
    """Base of every memory: records turns; `load` shows the last `k` turns (None = all)."""

    kind: ClassVar[str] = "memory"
    store: MemoryStore
    key: str = "chat"
    k: int | None = None

    def to_preview(self) -> dict[str, Any]:
        return {"memory": self.kind, "key": self.key}

    async def load(self, session: str, query: str, ctx: RunContext) -> Recall:
        turns = await asyncio.to_thread(self.store.turns, self.key, session, last=self.k)
        return Recall(turns_as_messages(turns), await self.context(session, query, ctx))

    async def context(self, session: str, query: str, ctx: RunContext) -> str:
        return ""

    async def save(self, session: str, user: str, reply: str, ctx: RunContext) -> Turn:
        turn = await asyncio.to_thread(self.store.add_turn, self.key, session, user, reply)
        await self.remember(session, turn, ctx)
        return turn

    async def remember(self, session: str, turn: Turn, ctx: RunContext) -> None:
        """Derive what this kind keeps from a newly saved turn."""


@dataclass
class BufferMemory(Memory):
    kind: ClassVar[str] = "buffer"
    max_tokens: int = 2000

    async def load(self, session: str, query: str, ctx: RunContext) -> Recall:
        turns = await asyncio.to_thread(self.store.turns, self.key, session)
        return Recall(turns_as_messages(within_budget(turns, self.max_tokens)))


@dataclass
class WindowMemory(Memory):
    kind: ClassVar[str] = "window"
    k: int | None = 3


SUMMARY_PROMPT = ("Progressively summarise the conversation: add the new lines to the current summary and "
                  "write the new summary, at most {words} words.\n\nCurrent summary:\n{summary}\n\n"
                  "New lines of conversation:\n{lines}\n\nNew summary:")


@dataclass
class SummaryMemory(Memory):
    """Older turns folded into a running summary; recent ones verbatim within `max_tokens`."""

    kind: ClassVar[str] = "summary"
    model: ChatModel | None = None
    config: ModelConfig = field(default_factory=ModelConfig)
    max_tokens: int = 500
    summary_tokens: int = 150

    def _state(self, session: str) -> dict[str, Any]:
        return self.store.state(self.key, session, self.kind)

    async def load(self, session: str, query: str, ctx: RunContext) -> Recall:
        state = await asyncio.to_thread(self._state, session)
        turns = await asyncio.to_thread(self.store.turns, self.key, session, after=int(state.get("upto", 0)))
        summary = state.get("summary", "")
        return Recall(turns_as_messages(within_budget(turns, self.max_tokens)),
                      f"Summary of the conversation so far: {summary}" if summary else "")

    async def remember(self, session: str, turn: Turn, ctx: RunContext) -> None:
        state = await asyncio.to_thread(self._state, session)
        pending = await asyncio.to_thread(self.store.turns, self.key, session, after=int(state.get("upto", 0)))
        kept = within_budget(pending, self.max_tokens)
        folded = pending[:len(pending) - len(kept)]
        if not folded or self.model is None:
            return
        lines = Recall(turns_as_messages(folded)).history()
        prompt = SUMMARY_PROMPT.format(words=self.summary_tokens, summary=state.get("summary") or "(none yet)",
                                       lines=lines)
        answer = (await ask(self.model, self.config, prompt, ctx)).text
        summary = cut_words(answer, self.summary_tokens)
        await asyncio.to_thread(self.store.set_state, self.key, session, self.kind,
                                {"summary": summary, "upto": folded[-1].id})
        ctx.step("summarised", turns=len(folded), summary=summary)


@dataclass
class VectorMemory(Memory):
    """Past turns in a vector store; `load` returns the `k` most similar to the new message."""

    kind: ClassVar[str] = "vector"
    vectors: ChromaStore | None = None
    k: int | None = 4

    def _scope(self, session: str) -> str:
        return f"{self.key}/{session}"

    async def load(self, session: str, query: str, ctx: RunContext) -> Recall:
        if not query.strip() or self.vectors is None:
            return Recall(())
        docs = await asyncio.to_thread(self.vectors.similarity, query, self.k or 4,
                                       {"memory": self._scope(session)})
        ordered = sorted(docs, key=lambda d: int(d.metadata.get("turn", 0)))
        turns = [Turn(int(d.metadata.get("turn", 0)), str(d.metadata.get("user", "")),
                      str(d.metadata.get("assistant", ""))) for d in ordered]
        return Recall(turns_as_messages(turns), "")

    async def remember(self, session: str, turn: Turn, ctx: RunContext) -> None:
        if self.vectors is None:
            return
        doc = Document(f"User: {turn.user}\nAssistant: {turn.assistant}",
                       {"source": f"memory/{self._scope(session)}/{turn.id}", "memory": self._scope(session),
                        "turn": turn.id, "user": turn.user, "assistant": turn.assistant})
        await asyncio.to_thread(self.vectors.upsert, [doc])


@dataclass
class _ExtractingMemory(Memory):
    """Shared by entity and knowledge-graph memory: extract per turn, by rules or by the model."""

    k: int | None = 3
    extractor: Extractor = "rules"
    model: ChatModel | None = None
    config: ModelConfig = field(default_factory=ModelConfig)

    async def _extract(self, prompt: str, parse: Callable[[str], T | None], rules: Callable[[str], T],
                       turn: Turn, ctx: RunContext) -> T:
        """What the model extracts from the turn (when the extractor is `model`), else what the rules find."""
        if self.extractor == "model" and self.model is not None:
            text = f"User: {turn.user}\nAssistant: {turn.assistant}"
            found = parse((await ask(self.model, self.config, prompt.format(turn=text), ctx)).text)
            if found is not None:
                return found
        return rules(turn.user)

    async def _state(self, session: str) -> dict[str, Any]:
        return await asyncio.to_thread(self.store.state, self.key, session, self.kind)

    async def _set_state(self, session: str, value: dict[str, Any]) -> None:
        await asyncio.to_thread(self.store.set_state, self.key, session, self.kind, value)


def mentioned(names: list[str], query: str) -> list[str]:
    """The names that `query` mentions (whole words, any case)."""
    low = query.lower()
    return [n for n in names if re.search(rf"(?<!\w){re.escape(n.lower())}(?!\w)", low)]


@dataclass
class EntityMemory(_ExtractingMemory):
    kind: ClassVar[str] = "entity"

    async def context(self, session: str, query: str, ctx: RunContext) -> str:
        state = await self._state(session)
        entities: dict[str, list[str]] = state.get("entities", {})
        names = mentioned(list(entities), query) or list(state.get("recent", []))
        lines = [f"- {name}: {' '.join(entities[name])}" for name in names if name in entities]
        return "What is known about the entities mentioned:\n" + "\n".join(lines) if lines else ""

    async def remember(self, session: str, turn: Turn, ctx: RunContext) -> None:
        found = await self._extract(extract.ENTITY_PROMPT, extract.parse_entities, extract.rule_entities, turn, ctx)
        entities: dict[str, list[str]] = (await self._state(session)).get("entities", {})
        for name, facts in found.items():
            known = entities.setdefault(name, [])
            known.extend(f for f in facts if f not in known)
            del known[:-MAX_FACTS_PER_ENTITY]
        await self._set_state(session, {"entities": entities, "recent": list(found)})
        ctx.step("entities", found=found)


@dataclass
class KnowledgeGraphMemory(_ExtractingMemory):
    kind: ClassVar[str] = "knowledge_graph"

    async def graph(self, session: str) -> nx.MultiDiGraph[str]:
        g: nx.MultiDiGraph[str] = nx.MultiDiGraph()
        for subject, relation, obj in (await self._state(session)).get("triples", []):
            g.add_edge(subject, obj, relation=relation)
        return g

    async def context(self, session: str, query: str, ctx: RunContext) -> str:
        g = await self.graph(session)
        names = mentioned(sorted(g.nodes), query)
        if re.search(r"\b(i|me|my|mine)\b", query.lower()):
            names += [n for n in g.nodes if n == "user" or n.startswith("user's ")]
        facts: list[str] = []
        for name in dict.fromkeys(names):
            for s, o, data in [*g.out_edges(name, data=True), *g.in_edges(name, data=True)]:
                fact = f"{s} {data['relation']} {o}"
                if fact not in facts:
                    facts.append(fact)
        return "Known facts:\n" + "\n".join(f"- {f}" for f in facts) if facts else ""

    async def remember(self, session: str, turn: Turn, ctx: RunContext) -> None:
        found = await self._extract(extract.TRIPLE_PROMPT, extract.parse_triples, extract.rule_triples, turn, ctx)
        triples = [tuple(t) for t in (await self._state(session)).get("triples", [])]
        triples += [t for t in found if t not in triples]
        await self._set_state(session, {"triples": [list(t) for t in triples[-MAX_TRIPLES:]]})
        ctx.step("triples", found=[" | ".join(t) for t in found])


KINDS: dict[str, type[Memory]] = {m.kind: m for m in (BufferMemory, WindowMemory, SummaryMemory, VectorMemory,
                                                       EntityMemory, KnowledgeGraphMemory)}
