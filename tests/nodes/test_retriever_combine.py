"""Retriever and combine-documents strategies, and the RAG example flows end to end offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.flow import load_flow
from engine.runner import Runner
from nodes.registry import default_registry
from nodes.support.documents import Document
from tests.nodes.flowkit import make_flow, run

FLOWS = Path(__file__).resolve().parents[2] / "flows"
DOCS = [{"text": "Unopened bags can be returned within 30 days.", "metadata": {"source": "returns.md"}},
        {"text": "Tracked next-day delivery costs 6.95 GBP.", "metadata": {"source": "shipping.md", "page": 2}}]


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CHAINLOOM_HOME", str(tmp_path))
    monkeypatch.delenv("CHAINLOOM_FILES_ROOT", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    return tmp_path


def combine(strategy: str, responses: list[str], question: str = "How much is next-day delivery?") -> Any:
    import csv
    import os

    root = Path(os.environ["CHAINLOOM_HOME"])
    with (root / "docs.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "source"])
        writer.writerows([d["text"], d["metadata"]["source"]] for d in DOCS)
    flow = make_flow({
        "docs": ("loader.csv", {"path": "docs.csv", "content_columns": ["text"], "metadata_columns": ["source"]}),
        "q": ("input.text", {"name": "q", "default": question}),
        "c": (f"combine.{strategy}", {"provider": "scripted", "responses": responses, "max_concurrency": 1}),
        "answer": ("output.text", {"name": "answer"}),
        "sources": ("output.json", {"name": "sources"})},
        [("docs.documents", "c.documents"), ("q.text", "c.question"), ("c.answer", "answer.value"),
         ("c.sources", "sources.value")])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CHAINLOOM_FILES_ROOT", str(root))
        return run(flow)


def test_stuff_answers_with_all_sources() -> None:
    result = combine("stuff", ["It costs 6.95 GBP [2]."])
    assert result.outputs == {"answer": "It costs 6.95 GBP [2].",
                              "sources": [{"source": "returns.md", "rows": [1]},
                                          {"source": "shipping.md", "rows": [2]}]}


def test_map_reduce_keeps_only_documents_that_helped() -> None:
    result = combine("map_reduce", ["NONE", "6.95 GBP", "Next-day delivery costs 6.95 GBP [1]."])
    assert result.outputs["answer"] == "Next-day delivery costs 6.95 GBP [1]."
    assert result.outputs["sources"] == [{"source": "shipping.md", "rows": [2]}]
    reduce_step = [e for e in result.events if e.kind == "node.step" and e.name == "map"]
    assert reduce_step[0].data == {"answers": 2, "relevant": 1}


def test_refine_passes_the_answer_along() -> None:
    result = combine("refine", ["Returns take 30 days.", "Next-day delivery is 6.95 GBP."])
    assert result.outputs["answer"] == "Next-day delivery is 6.95 GBP."
    steps = [e.data["answer"] for e in result.events if e.kind == "node.step" and e.name == "refine"]
    assert steps == ["Returns take 30 days.", "Next-day delivery is 6.95 GBP."]


def test_map_rerank_keeps_the_best_scored_answer() -> None:
    result = combine("map_rerank", ["30 days.\nScore: 10", "6.95 GBP.\nScore: 95"])
    assert result.outputs == {"answer": "6.95 GBP.", "sources": [{"source": "shipping.md", "rows": [2]}]}


def ingest_and_ask(tmp: Path, search_type: str, question: str, **retriever: Any) -> Any:
    flow = make_flow({
        "q": ("input.text", {"name": "q", "default": question}),
        "load": ("loader.directory", {"path": "flows/data/handbook", "glob": "*.md"}),
        "split": ("splitter.recursive", {"chunk_size": 400, "chunk_overlap": 50}),
        "embed": ("embeddings.hashing", {}),
        "store": ("vectorstore.chroma", {"collection": "retrieval-test"}),
        "ret": ("retriever.vectorstore", {"search_type": search_type, "k": 2, **retriever}),
        "docs": ("output.json", {"name": "docs"}), "ctx": ("output.text", {"name": "context"})},
        [("load.documents", "split.documents"), ("split.documents", "store.documents"),
         ("embed.embeddings", "store.embeddings"), ("store.store", "ret.store"), ("q.text", "ret.query"),
         ("ret.documents", "docs.value"), ("ret.context", "ctx.value")])
    return Runner(default_registry(), services={"home": str(tmp)}).run(flow)


@pytest.mark.parametrize("search_type", ["similarity", "mmr", "threshold", "hybrid"])
def test_retriever_finds_the_shipping_page(home: Path, search_type: str) -> None:
    result = ingest_and_ask(home, search_type, "tracked next-day delivery price", score_threshold=0.1)
    assert result.ok, result.error
    docs = result.outputs["docs"]
    assert docs[0]["metadata"]["source"] == "data/handbook/shipping.md"
    assert result.outputs["context"].startswith("[1] (data/handbook/shipping.md)\n")


def test_retriever_filter(home: Path) -> None:
    result = ingest_and_ask(home, "similarity", "delivery", filter={"source": "data/handbook/faq.md"})
    assert {d["metadata"]["source"] for d in result.outputs["docs"]} == {"data/handbook/faq.md"}


def run_example(name: str, home: Path, **inputs: Any) -> Any:
    result = Runner(default_registry(), services={"home": str(home)}).run(load_flow(FLOWS / f"{name}.json"), inputs)
    assert result.ok, result.error
    return result.outputs


def test_ingest_then_ask_offline_with_sources(home: Path) -> None:
    first = run_example("rag-ingest", home)
    assert first["stats"]["added"] == first["stats"]["count"] > 5
    again = run_example("rag-ingest", home)
    assert again["stats"]["added"] == 0 and again["stats"]["unchanged"] == first["stats"]["count"]
    out = run_example("rag-ask", home, question="How long do I have to return unopened coffee?")
    assert "within 30 days" in out["answer"]
    assert out["sources"][0] == {"source": "data/handbook/returns.md"}


def test_rag_qa_example_answers_from_the_shipping_page(home: Path) -> None:
    out = run_example("rag-qa", home)
    assert "6.95 GBP" in out["answer"]
    assert out["sources"][0] == {"source": "data/handbook/shipping.md"}
    out = run_example("rag-qa", home, question="Which process is used to decaffeinate the decaf?")
    assert "sugarcane" in out["answer"] and out["sources"][0]["source"].endswith("faq.md")


@pytest.mark.parametrize("name", ["summarize-map-reduce", "summarize-refine"])
def test_summary_examples(home: Path, name: str) -> None:
    out = run_example(name, home)
    assert len(out["summary"]) > 100 and "York" in out["summary"]
    assert out["sources"] == [{"source": "data/annual-letter-2023.md"}]


def test_documents_arrive_as_plain_dicts_or_documents() -> None:
    from nodes.support.documents import as_documents

    docs = as_documents([DOCS[0], Document("x"), "plain", [DOCS[1]]])
    assert [d.text for d in docs] == [DOCS[0]["text"], "x", "plain", DOCS[1]["text"]]
