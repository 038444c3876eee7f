"""Combine-documents chains (`combine.*`): question and documents in, answer with its sources out.

They answer from documents with a language model through the provider layer
(nodes/support/providers): stuff (all in one prompt), map-reduce (each document,
then combine), refine (improve the answer document by document) and map-rerank
(answer per document, keep the best scored).
Documents' text is inserted into prompts literally, as data.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from pydantic import Field

from engine.context import RunContext
from engine.node import NodeSpec, node
from engine.ports import Port, PortType
from nodes.support.documents import Document, as_documents, format_documents, sources_of
from nodes.support.model_port import fill_fields
from nodes.support.providers.base import ChatModel, chat_messages
from nodes.support.providers.build import build_model, build_request
from nodes.support.providers.config import ModelConfig
from nodes.support.providers.model import record_usage
from nodes.support.values import as_text

STUFF_PROMPT = ("Answer the question using only the context below. Cite sources by their [number]. "
                "If the context does not contain the answer, say you don't know.\n\n"
                "Context:\n{context}\n\nQuestion: {question}")
MAP_PROMPT = ("Use this part of a document to answer the question, or reply NONE if it holds nothing "
              "relevant.\n\nPart ({source}):\n{context}\n\nQuestion: {question}")
REDUCE_PROMPT = ("Combine these partial answers into one final answer. Cite sources by their [number].\n\n"
                 "Partial answers:\n{context}\n\nQuestion: {question}")
REFINE_PROMPT = ("Here is an answer so far:\n{answer}\n\nImprove it if this new context helps, otherwise "
                 "repeat it.\n\nNew context ({source}):\n{context}\n\nQuestion: {question}")
RERANK_PROMPT = ("Answer the question from the context, then on a last line write 'Score: N' where N (0-100) "
                 "is how fully the context answers it.\n\nContext ({source}):\n{context}\n\nQuestion: {question}")
SUMMARY_QUESTION = "Write a concise summary of the main points of this text."
_NONE = re.compile(r"^\W*(none|n/a|nothing relevant|i don't know|i could not find)", re.IGNORECASE)
_SCORE = re.compile(r"score\s*[:=]\s*(\d{1,3})", re.IGNORECASE)


class CombineConfig(ModelConfig):
    prompt: str = Field("", max_length=20_000, description="Prompt with {context} and {question}; "
                        "empty = the strategy's default.")
    max_concurrency: int = Field(4, ge=1, le=64, description="Model calls in flight at once (map steps).")


_COMBINE_IN = (Port("documents", PortType.DOCUMENTS, "The documents to answer from."),
               Port("question", PortType.TEXT, "The question; empty = summarise.", required=False),
               Port("model", PortType.LANGUAGE_MODEL, "A model to use instead of the configured provider.",
                    required=False))
_COMBINE_OUT = (Port("answer", PortType.TEXT, "The answer."),
                Port("sources", PortType.JSON, "The sources the answer drew on (source, pages/rows)."),
                Port("documents", PortType.DOCUMENTS, "The documents the answer drew on."))


class _Llm:
    """Calls the model for one combine node, adding up token usage in the run context."""

    def __init__(self, config: CombineConfig, inputs: dict[str, Any], ctx: RunContext) -> None:
        given = inputs.get("model")
        self.model: ChatModel = given if given is not None and hasattr(given, "complete") else build_model(config, ctx)
        self.config = config
        self.ctx = ctx
        self.gate = asyncio.Semaphore(config.max_concurrency)

    async def __call__(self, prompt: str, *, stream: bool = False) -> str:
        request = build_request(self.config, chat_messages(prompt))
        async with self.gate:
            done = await self.model.complete(request, self.ctx.token if stream else (lambda _t: None))
        record_usage(self.ctx, done)
        return done.text.strip()


def _question(inputs: dict[str, Any]) -> str:
    return as_text(inputs.get("question")).strip() or SUMMARY_QUESTION


def _result(answer: str, used: list[Document]) -> dict[str, Any]:
    return {"answer": answer, "sources": sources_of(used), "documents": used}


def _label(i: int, doc: Document) -> str:
    return f"[{i}] {doc.source}" if doc.source else f"[{i}]"


@node("combine.stuff", title="Answer from documents (stuff)", config=CombineConfig, inputs=_COMBINE_IN,
      outputs=_COMBINE_OUT, cacheable=False,
      description="Puts all documents into one prompt and asks the model once.")
async def stuff_node(config: CombineConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    docs = as_documents(inputs["documents"])
    llm = _Llm(config, inputs, ctx)
    answer = await llm(fill_fields(config.prompt or STUFF_PROMPT, context=format_documents(docs),
                            question=_question(inputs)), stream=True)
    return _result(answer, docs)


@node("combine.map_reduce", title="Answer from documents (map-reduce)", config=CombineConfig,
      inputs=_COMBINE_IN, outputs=_COMBINE_OUT, cacheable=False,
      description="Asks the model about each document, then combines the partial answers (the offline "
                  "model lists each part's point with its [number]; refine keeps only the best few).")
async def map_reduce_node(config: CombineConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    docs = as_documents(inputs["documents"])
    question, llm = _question(inputs), _Llm(config, inputs, ctx)
    partials = await asyncio.gather(*(llm(fill_fields(MAP_PROMPT, context=d.text, question=question,
                                               source=_label(i, d))) for i, d in enumerate(docs, 1)))
    kept = [(d, p) for d, p in zip(docs, partials) if p and not _NONE.match(p)]
    ctx.step("map", answers=len(partials), relevant=len(kept))
    if not kept:
        return _result(await llm(fill_fields(config.prompt or REDUCE_PROMPT, context="(no relevant parts)",
                                      question=question), stream=True), [])
    if getattr(llm.model, "provider", "") == "offline":
        # an extractive model cannot write a combined answer: reduce by listing each part's point, cited
        answer = extractive_reduce([p for _, p in kept])
        ctx.token(answer)
        return _result(answer, [d for d, _ in kept])
    summary = "\n\n".join(f"[{i}] ({d.source})\n{p}" for i, (d, p) in enumerate(kept, 1))
    answer = await llm(fill_fields(config.prompt or REDUCE_PROMPT, context=summary, question=question), stream=True)
    return _result(answer, [d for d, _ in kept])


def extractive_reduce(partials: list[str]) -> str:
    """Each part's point once, in document order, with its [number]: map-reduce by an extractive model."""
    seen: set[str] = set()
    points = []
    for i, text in enumerate(partials, 1):
        key = " ".join(text.lower().split())
        if key not in seen:
            seen.add(key)
            points.append(f"{text} [{i}]")
    return " ".join(points)


@node("combine.refine", title="Answer from documents (refine)", config=CombineConfig, inputs=_COMBINE_IN,
      outputs=_COMBINE_OUT, cacheable=False,
      description="Answers from the first document, then refines the answer with each next one.")
async def refine_node(config: CombineConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    docs = as_documents(inputs["documents"])
    question, llm = _question(inputs), _Llm(config, inputs, ctx)
    answer = ""
    for i, doc in enumerate(docs, 1):
        if not answer:
            answer = await llm(fill_fields(STUFF_PROMPT, context=f"[{i}] {doc.text}", question=question))
        else:
            answer = await llm(fill_fields(config.prompt or REFINE_PROMPT, answer=answer, context=doc.text,
                                    question=question, source=_label(i, doc)), stream=i == len(docs))
        ctx.step("refine", document=i, answer=answer)
    if len(docs) == 1:
        ctx.token(answer)
    return _result(answer, docs)


def _overlap(question: str, answer: str) -> int:
    q = {w for w in re.findall(r"\w+", question.lower()) if len(w) > 3}
    a = set(re.findall(r"\w+", answer.lower()))
    return round(100 * len(q & a) / len(q)) if q else 0


@node("combine.map_rerank", title="Answer from documents (map-rerank)", config=CombineConfig,
      inputs=_COMBINE_IN, outputs=_COMBINE_OUT, cacheable=False,
      description="Answers from each document with a confidence score and keeps the best answer.")
async def map_rerank_node(config: CombineConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    docs = as_documents(inputs["documents"])
    question, llm = _question(inputs), _Llm(config, inputs, ctx)
    replies = await asyncio.gather(*(llm(fill_fields(config.prompt or RERANK_PROMPT, context=d.text, question=question,
                                              source=_label(i, d))) for i, d in enumerate(docs, 1)))
    scored = []
    for doc, reply in zip(docs, replies):
        m = _SCORE.search(reply)
        text = _SCORE.sub("", reply).strip() if m else reply
        score = min(int(m.group(1)), 100) if m else _overlap(question, text)  # models that give no score
        scored.append((score, doc, text))
    ctx.step("rerank", scores=[s for s, _, _ in scored])
    if not scored:
        return _result("", [])
    score, doc, text = max(scored, key=lambda t: t[0])
    ctx.token(text)
    return _result(text, [doc])


SPECS: tuple[NodeSpec, ...] = (stuff_node, map_reduce_node, refine_node, map_rerank_node)
