"""Retrievers and combine-documents chains: question in, answer with its sources out.

`retriever.vectorstore` turns a VectorStore into a Retriever (similarity, MMR,
score threshold or hybrid BM25+dense, with a metadata filter) and, given a query,
retrieves right away. The combine nodes answer from documents with a language
model through the provider layer (nodes/llms): stuff (all in one prompt),
map-reduce (each document, then combine), refine (improve the answer document by
document) and map-rerank (answer per document, keep the best scored).
Documents' text is inserted into prompts literally, as data.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from engine.context import RunContext
from engine.node import NodeConfig, NodeSpec, node
from engine.ports import Port, PortType
from nodes.documents import Document, as_documents, format_documents, sources_of
from nodes.llms.base import ChatModel, chat_messages
from nodes.llms.config import ModelConfig
from nodes.llms.model import record_usage
from nodes.llms.providers import build_model, build_request
from nodes.values import as_text
from nodes.vectorstores import ChromaStore, SearchType


# ---------------------------------------------------------------- retriever
@dataclass
class Retriever:
    """A store plus search settings; the value on Retriever edges."""

    store: ChromaStore
    search_type: SearchType = "similarity"
    k: int = 4
    fetch_k: int = 20
    lambda_mult: float = 0.5
    score_threshold: float = 0.0
    where: dict[str, Any] | None = None

    def retrieve(self, query: str, ctx: RunContext | None = None) -> list[Document]:
        usage = (lambda n: ctx.usage(prompt_tokens=n, model=self.store.embedder.name)) if ctx else None
        return self.store.search(query, search_type=self.search_type, k=self.k, fetch_k=self.fetch_k,
                                 lambda_mult=self.lambda_mult, score_threshold=self.score_threshold,
                                 where=self.where, usage=usage)

    def to_preview(self) -> dict[str, Any]:
        return {"retriever": self.search_type, "k": self.k, "store": self.store.to_preview()}


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


# ---------------------------------------------------------------- combine documents
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
_FIELDS = re.compile(r"\{(context|question|answer|source)\}")


def fill(template: str, **values: str) -> str:
    """Replace {context}/{question}/{answer}/{source} in one pass; values stay literal."""
    return _FIELDS.sub(lambda m: values.get(m.group(1), m.group(0)), template)


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


class _Asker:
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
    ask = _Asker(config, inputs, ctx)
    answer = await ask(fill(config.prompt or STUFF_PROMPT, context=format_documents(docs),
                            question=_question(inputs)), stream=True)
    return _result(answer, docs)


@node("combine.map_reduce", title="Answer from documents (map-reduce)", config=CombineConfig,
      inputs=_COMBINE_IN, outputs=_COMBINE_OUT, cacheable=False,
      description="Asks the model about each document, then combines the partial answers.")
async def map_reduce_node(config: CombineConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    docs = as_documents(inputs["documents"])
    question, ask = _question(inputs), _Asker(config, inputs, ctx)
    partials = await asyncio.gather(*(ask(fill(MAP_PROMPT, context=d.text, question=question,
                                               source=_label(i, d))) for i, d in enumerate(docs, 1)))
    kept = [(d, p) for d, p in zip(docs, partials) if p and not _NONE.match(p)]
    ctx.step("map", answers=len(partials), relevant=len(kept))
    if not kept:
        return _result(await ask(fill(config.prompt or REDUCE_PROMPT, context="(no relevant parts)",
                                      question=question), stream=True), [])
    summary = "\n\n".join(f"[{i}] ({d.source})\n{p}" for i, (d, p) in enumerate(kept, 1))
    answer = await ask(fill(config.prompt or REDUCE_PROMPT, context=summary, question=question), stream=True)
    return _result(answer, [d for d, _ in kept])


@node("combine.refine", title="Answer from documents (refine)", config=CombineConfig, inputs=_COMBINE_IN,
      outputs=_COMBINE_OUT, cacheable=False,
      description="Answers from the first document, then refines the answer with each next one.")
async def refine_node(config: CombineConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    docs = as_documents(inputs["documents"])
    question, ask = _question(inputs), _Asker(config, inputs, ctx)
    answer = ""
    for i, doc in enumerate(docs, 1):
        if not answer:
            answer = await ask(fill(STUFF_PROMPT, context=f"[{i}] {doc.text}", question=question))
        else:
            answer = await ask(fill(config.prompt or REFINE_PROMPT, answer=answer, context=doc.text,
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
    question, ask = _question(inputs), _Asker(config, inputs, ctx)
    replies = await asyncio.gather(*(ask(fill(config.prompt or RERANK_PROMPT, context=d.text, question=question,
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


SPECS: tuple[NodeSpec, ...] = (retriever_node, stuff_node, map_reduce_node, refine_node, map_rerank_node)
