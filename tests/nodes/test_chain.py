"""Chains: SQL QA (read-only, SQL shown, corrections), API calls (allowlist), conversational retrieval QA,
self-critique and entity extraction."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from engine.node import NodeSpec
from engine.runner import Runner
from nodes.chain.api import api_chain, read_request
from nodes.chain.conversational_retrieval import conversational_qa
from nodes.chain.critique import critique_chain
from nodes.chain.extract import extract_chain
from nodes.chain.sql import extract_sql, sql_chain
from nodes.registry import default_registry
from nodes.support.chat_memory.kinds import BufferMemory
from nodes.support.chat_memory.store import memory_store
from nodes.support.documents import Document
from nodes.support.safe_http import allow_loopback_for_tests
from tests.fakes.api_server import FakeApiServer
from tests.nodes.agentkit import ReplayModel, context, make_db, snapshot
from tests.nodes.flowkit import make_flow, run


def chain(spec: NodeSpec, model: Any, inputs: dict[str, Any], ctx: Any = None, **config: Any) -> dict[str, Any]:
    return asyncio.run(spec.run(spec.config(**config), {**inputs, "model": model}, ctx or context()))  # type: ignore[arg-type]


def prompts(model: ReplayModel) -> list[str]:
    return [r.messages[-1].content for r in model.requests]


# ---------------------------------------------------------------- SQL
@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CHAINLOOM_FILES_ROOT", str(tmp_path))
    return make_db(tmp_path / "shop.db")


def test_sql_chain_writes_shows_runs_and_answers(shop: Path) -> None:
    model = ReplayModel(["```sql\nSELECT name FROM customers WHERE city = 'London';\n```", "Ada lives in London."])
    out = chain(sql_chain, model, {"question": "Who lives in London?"}, url=f"sqlite:///{shop}")
    assert out == {"answer": "Ada lives in London.", "sql": "SELECT name FROM customers WHERE city = 'London';",
                   "rows": [{"name": "Ada"}]}
    first, second = prompts(model)
    assert "TABLE customers (\n  id INTEGER PRIMARY KEY,\n  name TEXT NOT NULL,\n  city TEXT\n)" in first
    assert "Write one sqlite SELECT query" in first and first.endswith("Question: Who lives in London?\nSQL:")
    assert "SQL result:\nname\nAda" in second


def test_sql_chain_gives_a_refused_query_back_to_the_model_and_leaves_the_database_intact(shop: Path) -> None:
    before = snapshot(shop)
    model = ReplayModel(["DELETE FROM orders", "SELECT COUNT(*) AS n FROM orders", "There are 3 orders."])
    events: list[Any] = []
    out = chain(sql_chain, model, {"question": "How many orders?"}, context(events=events), url=f"sqlite:///{shop}")
    assert out["answer"] == "There are 3 orders." and out["rows"] == [{"n": 3}]
    assert snapshot(shop) == before
    steps = [(e.name, e.data) for e in events if e.kind == "node.step"]
    assert steps[:3] == [("sql", {"attempt": 1, "query": "DELETE FROM orders"}),
                         ("sql_error", {"error": "only SELECT queries may run here; this statement starts with "
                                                 "'delete'"}),
                         ("sql", {"attempt": 2, "query": "SELECT COUNT(*) AS n FROM orders"})]
    assert "This query failed: only SELECT queries may run here" in prompts(model)[1]


def test_sql_chain_fails_with_the_query_when_corrections_run_out(shop: Path) -> None:
    model = ReplayModel(["SELECT 1; DROP TABLE orders"])
    with pytest.raises(Exception) as caught:
        chain(sql_chain, model, {"question": "x"}, url=f"sqlite:///{shop}", fix_attempts=0)
    assert str(caught.value) == ("the query written for the question failed: the query holds more than one "
                                 "statement (the query was: SELECT 1; DROP TABLE orders)")
    assert snapshot(shop)


def test_sql_chain_in_a_flow_returns_the_rows_directly(shop: Path) -> None:
    flow = make_flow({"q": ("input.text", {"name": "q"}),
                      "sql": ("chain.sql", {"url": f"sqlite:///{shop}", "answer_from_rows": False,
                                            "provider": "scripted",
                                            "responses": ["SQLQuery: SELECT city FROM customers ORDER BY city\n"
                                                          "SQLResult:"]}),
                      "a": ("output.text", {"name": "answer"}), "s": ("output.text", {"name": "sql"})},
                     [("q.text", "sql.question"), ("sql.answer", "a.value"), ("sql.sql", "s.value")])
    assert run(flow, {"q": "Which cities?"}).outputs == {
        "answer": "city\nHelsinki\nLondon\nNew York", "sql": "SELECT city FROM customers ORDER BY city"}


def test_extract_sql() -> None:
    assert extract_sql("Here you go:\n```SQL\nSELECT 1\n```\nDone") == "SELECT 1"
    assert extract_sql("SQLQuery: SELECT 2\nSQLResult: 2\nAnswer: 2") == "SELECT 2"


# ---------------------------------------------------------------- API
DOCS = "Weather API at {url}/v1. GET /v1/weather?city=NAME returns {{\"city\": ..., \"sky\": ...}}."


def test_api_chain_calls_the_documented_endpoint_and_answers() -> None:
    with FakeApiServer({"GET /v1/weather": (200, {"city": "Lisbon", "sky": "sunny"})}) as server, \
            allow_loopback_for_tests(server.port):
        model = ReplayModel(['{"method": "GET", "url": "/v1/weather", "params": {"city": "Lisbon"}}',
                             "It is sunny in Lisbon."])
        out = chain(api_chain, model, {"question": "How is the sky in Lisbon?"}, api_docs=DOCS.format(url=server.url),
                    allowed_hosts=["127.0.0.1"], base_url=server.url + "/")
    assert out["answer"] == "It is sunny in Lisbon."
    assert out["request"] == {"method": "GET", "url": "/v1/weather", "params": {"city": "Lisbon"}, "body": None}
    assert out["response"] == 'HTTP 200 (application/json)\n{"city": "Lisbon", "sky": "sunny"}'
    assert server.requests[0][:2] == ("GET", "/v1/weather?city=Lisbon")
    assert "It answered:\nHTTP 200" in prompts(model)[1]


@pytest.mark.parametrize(("reply", "hosts", "message"), [
    ('{"url": "http://169.254.169.254/latest/meta-data/"}', ["169.254.169.254"], "which is link-local"),
    ('{"url": "https://evil.example.com/steal"}', ["api.example.com"],
     "host 'evil.example.com' is not in the allowlist"),
    ('{"url": "https://api.example.com/x"}', [], "has no allowed hosts"),
    ('{"method": "DELETE", "url": "https://api.example.com/x"}', ["api.example.com"], "method DELETE is not allowed"),
])
def test_api_chain_refuses_what_the_allowlist_does_not_allow(reply: str, hosts: list[str], message: str) -> None:
    with pytest.raises(Exception, match=message):
        chain(api_chain, ReplayModel([reply]), {"question": "q"}, api_docs="docs", allowed_hosts=hosts)


def test_read_request_falls_back_to_the_first_url() -> None:
    assert read_request("Call https://api.example.com/v1/x?y=1.")["url"] == "https://api.example.com/v1/x?y=1"
    with pytest.raises(Exception, match="the model wrote no request"):
        read_request("I cannot help with that")


# ---------------------------------------------------------------- conversational retrieval
class FakeRetriever:
    def __init__(self) -> None:
        self.queries: list[str] = []

    def retrieve(self, query: str, ctx: Any = None) -> list[Document]:
        self.queries.append(query)
        return [Document("Unopened coffee can be returned within 30 days.", {"source": "returns.md"})]


def test_conversational_qa_condenses_follow_ups_and_remembers(tmp_path: Path) -> None:
    ctx = context(services={"home": str(tmp_path)}, session_id="s")
    memory, retriever = BufferMemory(memory_store(ctx)), FakeRetriever()
    first_model = ReplayModel(["Within 30 days [1]."])
    first = chain(conversational_qa, first_model, {"question": "How long can I return coffee?", "memory": memory,
                                                   "retriever": retriever}, ctx)
    assert first["question"] == "How long can I return coffee?" and first["sources"] == [{"source": "returns.md"}]
    second_model = ReplayModel(["How long can I return opened coffee?", "Only unopened coffee [1]."])
    second = chain(conversational_qa, second_model, {"question": "And opened?", "memory": memory,
                                                     "retriever": retriever}, ctx)
    assert second == {"answer": "Only unopened coffee [1].", "question": "How long can I return opened coffee?",
                      "sources": [{"source": "returns.md"}], "documents": second["documents"]}
    assert retriever.queries == ["How long can I return coffee?", "How long can I return opened coffee?"]
    assert "User: How long can I return coffee?\nAssistant: Within 30 days [1].\n\nFollow-up: And opened?" in \
        prompts(second_model)[0]
    assert [t.user for t in memory.store.turns("chat", "s")] == ["How long can I return coffee?", "And opened?"]


def test_conversational_qa_offline_joins_the_follow_up_to_the_previous_question(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAINLOOM_FILES_ROOT", str(tmp_path))
    flow = make_flow({"q": ("input.chat", {}), "mem": ("memory.buffer", {}),
                      "docs": ("loader.text", {"path": "returns.md"}),
                      "embed": ("embeddings.hashing", {}), "vs": ("vectorstore.chroma", {"collection": "ret"}),
                      "ret": ("retriever.vectorstore", {"k": 1}),
                      "qa": ("chain.conversational_retrieval", {}), "out": ("output.text", {"name": "q"})},
                     [("docs.documents", "vs.documents"), ("embed.embeddings", "vs.embeddings"),
                      ("vs.store", "ret.store"), ("ret.retriever", "qa.retriever"), ("q.message", "qa.question"),
                      ("mem.memory", "qa.memory"), ("qa.question", "out.value")])
    (tmp_path / "returns.md").write_text("Unopened coffee can be returned within 30 days.")
    runner = Runner(default_registry(), services={"home": str(tmp_path)})
    result = runner.run(flow, {"message": "Can I return coffee?"}, session_id="s")
    assert result.outputs == {"q": "Can I return coffee?"}
    assert runner.run(flow, {"message": "How long?"}, session_id="s").outputs == {"q": "Can I return coffee? How long?"}


# ---------------------------------------------------------------- critique, extraction
def test_critique_chain_revises_where_a_principle_is_not_met() -> None:
    model = ReplayModel(["It states tomorrow's weather as certain.", "It will probably rain tomorrow.",
                         "No critique needed."])
    out = chain(critique_chain, model, {"answer": "It will rain tomorrow.", "question": "Will it rain?"})
    assert out == {"answer": "It will probably rain tomorrow.", "critiques": [
        {"principle": "honest", "critique": "It states tomorrow's weather as certain.", "revised": True},
        {"principle": "harmless", "critique": "No critique needed.", "revised": False}]}
    assert "Answer: It will probably rain tomorrow." in prompts(model)[2]


FIELDS = [{"name": "name", "type": "string"}, {"name": "kind", "type": "string", "choices": ["person", "place"]}]


def test_extraction_returns_entities_that_fit_the_schema() -> None:
    model = ReplayModel(['```json\n{"entities": [{"name": "Ada", "kind": "person"}, '
                         '{"name": "London", "kind": "place"}]}\n```'])
    out = chain(extract_chain, model, {"text": "Ada lived in London."}, fields=FIELDS)
    assert out == {"entities": [{"name": "Ada", "kind": "person"}, {"name": "London", "kind": "place"}]}
    assert model.requests[0].json_mode is True


def test_extraction_repairs_once_then_fails_listing_every_problem() -> None:
    repaired = chain(extract_chain, ReplayModel(['{"entities": [{"name": "Ada"}]}',
                                                 '{"entities": [{"name": "Ada", "kind": "person"}]}']),
                     {"text": "Ada."}, fields=FIELDS)
    assert repaired == {"entities": [{"name": "Ada", "kind": "person"}]}
    with pytest.raises(Exception) as caught:
        chain(extract_chain, ReplayModel(['[{"name": 1, "kind": "robot"}]', "no json"]), {"text": "x"}, fields=FIELDS)
    message = str(caught.value)
    assert "$.entities[0].kind: 'robot' is not one of ['person', 'place']" in message
    assert "$.entities[0].name: 1 is not of type 'string'" in message and "the repaired output failed too" in message


# ---------------------------------------------------------------- design-time warnings
def _extract_flow(llm: dict[str, Any] | None, provider: str = "offline") -> Any:
    nodes: dict[str, tuple[str, dict[str, Any]]] = {
        "text": ("input.text", {"name": "text", "default": "Ada lived in London."}),
        "extract": ("chain.extract", {"provider": provider}),
        "out": ("output.json", {"name": "entities"})}
    edges = [("text.text", "extract.text"), ("extract.entities", "out.value")]
    if llm is not None:
        nodes["llm"] = ("llm.model", llm)
        edges.append(("llm.model", "extract.model"))
    return make_flow(nodes, edges)


def test_a_chain_that_needs_a_real_model_warns_when_it_would_get_the_offline_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.validate import check, compile_flow

    for var in ("OPENAI_API_KEY", "COHERE_API_KEY", "CHAINLOOM_LLM_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    registry = default_registry()
    plan, issues = check(_extract_flow(None), registry)
    assert plan is not None  # a warning: the flow still runs
    assert [(i.code, i.node, i.severity, i.field) for i in issues] == [
        ("needs_real_model", "extract", "warning", "config.provider")]
    assert issues[0].message == ("it reads entities out of free text into the schema, which the offline model "
                                 "cannot do: offline it only gives a stand-in answer")
    assert "llm.model" in issues[0].hint and "OPENAI_API_KEY" in issues[0].hint
    assert [i.code for i in check(_extract_flow(None, "auto"), registry)[1]] == ["needs_real_model"]
    upstream_offline = check(_extract_flow({"provider": "offline"}, "openai"), registry)[1]
    assert [(i.code, i.field) for i in upstream_offline] == [("needs_real_model", None)]
    scripted = check(_extract_flow({"provider": "scripted", "responses": ["{}"]}), registry)[1]
    assert scripted == []  # the connected model wins over the node's own provider
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert check(_extract_flow(None, "auto"), registry)[1] == []
    compile_flow(_extract_flow(None), registry)  # running never asks


@pytest.mark.parametrize("node_type", ["chain.sql", "chain.api", "chain.extract", "chain.critique"])
def test_each_chain_that_needs_a_real_model_gives_advice(node_type: str) -> None:
    assert default_registry().get(node_type).advice is not None
