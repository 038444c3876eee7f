"""Conversational retrieval QA: condense the follow-up, retrieve, answer, remember.

With a memory connected, the session's conversation is loaded first; when there
is one, the model rewrites the new message as a question that stands on its own
("What about opened bags?" -> "How long can opened bags of coffee be returned?"),
and that question is what the retriever searches for. The answer comes from the
retrieved documents only (the `combine.stuff` prompt), cites its sources, and the
turn is saved to the memory in the same run. The offline model cannot rewrite
questions; with it, the follow-up is joined to the previous question instead.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from pydantic import Field

from engine.node import NodeSpec, node
from engine.ports import Port, PortType
from nodes.combine import STUFF_PROMPT
from nodes.support.chat_memory.kinds import Memory, Recall
from nodes.support.chat_memory.store import session_of
from nodes.support.documents import format_documents, sources_of
from nodes.support.model_port import MODEL_PORT, ask, fill_fields, model_for
from nodes.support.providers.config import ModelConfig
from nodes.support.values import as_text

if TYPE_CHECKING:
    from engine.context import RunContext

CONDENSE_PROMPT = ("Given the conversation and a follow-up message, rewrite the follow-up as one question that "
                   "can be understood without the conversation. Answer with the question only.\n\n"
                   "Conversation:\n{history}\n\nFollow-up: {question}\nStandalone question:")


class ConversationalConfig(ModelConfig):
    condense_prompt: str = Field("", max_length=20_000, description="Prompt with {history} and {question}; "
                                 "empty = the built-in one.")
    answer_prompt: str = Field("", max_length=20_000, description="Prompt with {context} and {question}; "
                               "empty = answer from the documents only, citing them.")


async def condense(question: str, recall: Recall, model: Any, config: ConversationalConfig,
                   ctx: RunContext) -> str:
    """The follow-up as a standalone question (unchanged when there is no conversation yet)."""
    if not recall.messages:
        return question
    if getattr(model, "provider", "") == "offline":
        previous = next((m.content for m in reversed(recall.messages) if m.role == "user"), "")
        ctx.step("condensed", question=f"{previous} {question}".strip(),
                 note="offline: the follow-up is joined to the previous question")
        return f"{previous} {question}".strip()
    prompt = fill_fields(config.condense_prompt or CONDENSE_PROMPT, history=recall.history(), question=question)
    standalone = (await ask(model, config, prompt, ctx)).text.strip() or question
    ctx.step("condensed", question=standalone)
    return standalone


@node("chain.conversational_retrieval", title="Conversational retrieval QA", config=ConversationalConfig,
      cacheable=False, side_effects=True,
      inputs=[Port("question", PortType.TEXT, "The new message."),
              Port("retriever", PortType.RETRIEVER, "Where to look for the answer."),
              Port("memory", PortType.MEMORY, "The conversation (loaded before, saved after).", required=False),
              Port("session", PortType.TEXT, "Session id; empty = the run's session.", required=False),
              MODEL_PORT],
      outputs=[Port("answer", PortType.TEXT, "The answer, citing its sources."),
               Port("question", PortType.TEXT, "The standalone question that was searched for."),
               Port("sources", PortType.JSON, "The sources of the documents used."),
               Port("documents", PortType.DOCUMENTS, "The documents used.")],
      description="Answers follow-up questions over documents: condenses the follow-up with the conversation, "
                  "retrieves, answers with sources and saves the turn to memory.")
async def conversational_qa(config: ConversationalConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    message = as_text(inputs["question"]).strip()
    memory = inputs.get("memory") if isinstance(inputs.get("memory"), Memory) else None
    session = session_of(inputs, ctx)
    recall = await memory.load(session, message, ctx) if memory is not None else Recall(())
    model = model_for(config, inputs, ctx)
    question = await condense(message, recall, model, config, ctx)
    docs = await asyncio.to_thread(inputs["retriever"].retrieve, question, ctx)
    ctx.step("retrieved", query=question, sources=[d.source for d in docs])
    prompt = fill_fields(config.answer_prompt or STUFF_PROMPT, context=format_documents(docs), question=question)
    answer = (await ask(model, config, prompt, ctx, stream=True)).text.strip()
    if memory is not None:
        await memory.save(session, message, answer, ctx)
    return {"answer": answer, "question": question, "sources": sources_of(docs), "documents": docs}


SPECS: tuple[NodeSpec, ...] = (conversational_qa,)
