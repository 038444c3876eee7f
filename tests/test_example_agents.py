"""The agent, memory, router and chain example flows, end to end offline: answers pinned, memory across runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.flow import load_flow
from engine.runner import Runner
from nodes.registry import default_registry
from nodes.support.chat_memory.kinds import KINDS

FLOWS = Path(__file__).resolve().parent.parent / "flows"


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Runner:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    return Runner(default_registry(), services={"home": str(tmp_path)})


def outputs(runner: Runner, name: str, inputs: dict[str, Any] | None = None, session: str | None = None) -> Any:
    result = runner.run(load_flow(FLOWS / f"{name}.json"), inputs or {}, session_id=session)
    assert result.ok, result.error
    return result.outputs


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_chatbot_remembers_a_session_with_every_memory_kind(runner: Runner, kind: str) -> None:
    outputs(runner, "chatbot-memory", {"message": "Hi, I'm Ada and I live in Lisbon.", "memory": kind}, "ada")
    later = outputs(runner, "chatbot-memory", {"message": "Where do I live?", "memory": kind}, "ada")
    assert "Lisbon" in later["reply"]["content"]
    stranger = outputs(runner, "chatbot-memory", {"message": "Where do I live?", "memory": kind}, "someone-else")
    assert "Lisbon" not in stranger["reply"]["content"]


def test_the_react_example_calculates_and_searches(runner: Runner) -> None:
    out = outputs(runner, "agent-react")
    assert out["answer"].startswith("14 * 3 = 42 ") and "returned within 30 days" in out["answer"]
    calls = [s["tool"] for s in out["steps"] if s["step"] == "tool_call"]
    assert calls == ["calculator", "search_handbook"]


def test_the_react_example_answers_other_questions(runner: Runner) -> None:
    out = outputs(runner, "agent-react", {"task": "What is (1250 - 50) / 8?"})
    assert out["answer"] == "(1250 - 50) / 8 = 150"


def test_the_plan_example_plans_two_steps(runner: Runner) -> None:
    out = outputs(runner, "agent-plan")
    assert out["answer"].startswith("12 * 4 = 48 ") and "within 30 days" in out["answer"]
    assert [s["task"] for s in out["steps"] if s["step"] == "step"] == \
        ["Work out 12 * 4.", "find out how long unopened coffee can be returned."]


def test_the_sql_agent_example_really_queries_the_database(runner: Runner) -> None:
    out = outputs(runner, "agent-sql")
    observations = [s["text"] for s in out["steps"] if s["step"] == "observation"]
    assert observations[0] == "customers, orders, products"
    assert observations[2] == "name | price\nLeeds Morning Blend | 8.5\nHuila Decaf | 9.75"


def test_the_sql_qa_example_shows_its_sql_and_rows(runner: Runner) -> None:
    out = outputs(runner, "sql-qa")
    assert out["rows"] == [{"name": "Leeds Morning Blend", "quantity": 2, "ordered_on": "2024-03-02"},
                           {"name": "Burr Grinder", "quantity": 1, "ordered_on": "2024-03-02"}]
    assert out["sql"].startswith("SELECT p.name, o.quantity")


def test_the_conversational_rag_example_follows_up(runner: Runner) -> None:
    first = outputs(runner, "conversational-rag", {"message": "Can I return unopened coffee?"}, "s")
    assert "within 30 days" in first["reply"]["content"]
    second = outputs(runner, "conversational-rag", {"message": "And opened bags?"}, "s")
    assert "Opened bags cannot be returned" in second["reply"]["content"]


@pytest.mark.parametrize(("message", "branch"), [
    ("I was charged twice, I want a refund on my card", "billing"),
    ("My parcel is late. Where can I find the tracking number?", "shipping"),
    ("What water temperature should I brew a filter coffee at?", "brewing"),
    ("Lovely weather today", "general"),
])
def test_the_router_example_sends_each_message_to_its_specialist(runner: Runner, message: str, branch: str) -> None:
    result = runner.run(load_flow(FLOWS / "router-specialists.json"), {"message": message})
    ran = {n for n, s in result.node_status.items() if s == "done"}
    assert ({f"{branch}_llm"} if branch != "general" else {"general"}) <= ran
    assert not {f"{b}_llm" for b in ("billing", "shipping", "brewing") if b != branch} & ran
