"""The Model I/O example flows, pinned; the same flows on real clients; tokens that arrive while streaming.

tests/test_example_flows.py already runs every flow; here the Model I/O examples'
answers are pinned, the classifier is tried on several messages, the extraction
flow runs unchanged but for its provider against fake OpenAI and Cohere servers,
and a streamed answer is shown to reach event handlers before the provider has
finished sending it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from engine.events import Event
from engine.flow import Flow, load_flow
from engine.runner import Runner
from nodes.registry import default_registry
from tests.fakes.cohere_server import FakeCohereServer
from tests.fakes.openai_server import TEST_KEY, FakeOpenAIServer, Reply

FLOWS = Path(__file__).resolve().parent.parent / "flows"
PERSON = {"name": "Ada Lovelace", "born": 1815, "city": "London", "known_for": "the first published computer program"}


def load(name: str) -> Flow:
    return load_flow(FLOWS / f"{name}.json")


def run(flow: Flow, inputs: dict[str, Any] | None = None, **kw: Any) -> Any:
    result = Runner(default_registry()).run(flow, inputs or {}, **kw)
    assert result.ok, result.error
    return result


def test_extract_json_puts_the_instructions_in_the_prompt_and_parses_the_messy_answer() -> None:
    result = run(load("extract-json"))
    assert result.outputs == {"person": PERSON}
    started = next(e for e in result.events if e.kind == "node.started" and e.node == "llm")  # type: ignore[attr-defined]
    prompt = started.inputs["prompt"]  # type: ignore[attr-defined]
    assert prompt.startswith("Extract the person described in the text.\n\nAnswer with one JSON value that "
                             "matches this JSON schema")


@pytest.mark.parametrize(("message", "category"), [
    ("My card was charged twice this month", "billing"),
    ("I need to change my delivery address", "shipping"),
    ("the blender came damaged, I want a refund", "returns"),
    ("I cannot sign in to my account", "account"),
    ("where is my package", "other"),  # like no example: the parser fails and the node falls back
])
def test_the_few_shot_classifier_offline(message: str, category: str) -> None:
    result = run(load("few-shot-classifier"), {"message": message})
    assert result.outputs["category"] == {"category": category}
    assert len(result.outputs["examples"]) == 3


def test_the_sequential_chain_narrows_the_facts_then_replies() -> None:
    result = run(load("sequential-chain"))
    assert result.outputs == {
        "facts": "Standard delivery takes three to five days. Refunds reach the original payment method within "
                 "five days of the return arriving.",
        "reply": "Hi Sam, Refunds reach the original payment method within five days of the return arriving."}
    other = run(load("sequential-chain"), {"question": "How much does express delivery cost?", "customer": "Ada"})
    assert other.outputs["reply"] == "Hi Ada, Express delivery arrives the next business day and costs 9 euros."


def _with_provider(flow: Flow, provider: str) -> Flow:
    llm = flow.node("llm")
    assert llm is not None
    llm.config = {**llm.config, "provider": provider}
    llm.config.pop("responses")
    return flow


@pytest.mark.parametrize("provider", ["openai", "cohere"])
def test_the_extraction_flow_runs_on_real_clients_by_changing_only_the_provider(
        provider: str, monkeypatch: pytest.MonkeyPatch) -> None:
    answer = 'Sure:\n```json\n{"name": "Ada Lovelace", "born": 1815, "city": "London", ' \
             '"known_for": "the first published computer program"}\n```'
    with FakeOpenAIServer() as openai, FakeCohereServer() as cohere:
        monkeypatch.setenv("OPENAI_BASE_URL", openai.url)
        monkeypatch.setenv("CO_API_URL", cohere.url)
        monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
        monkeypatch.setenv("COHERE_API_KEY", TEST_KEY)
        server = openai if provider == "openai" else cohere
        server.queue(Reply(text=answer))
        result = run(_with_provider(load("extract-json"), provider))
        assert result.outputs == {"person": PERSON}
        sent = server.requests[0].body["messages"][-1]["content"]
        assert "Ada Lovelace was born in London in 1815." in sent and '"known_for"' in sent


def test_streamed_tokens_reach_handlers_while_the_provider_is_still_sending(monkeypatch: pytest.MonkeyPatch) -> None:
    gate = threading.Event()  # the fake server holds the rest of the answer until a token was handled
    seen: list[str] = []

    def handler(event: Event) -> None:
        if event.kind == "node.token":
            seen.append(event.text)  # type: ignore[attr-defined]
            gate.set()

    with FakeOpenAIServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
        reply = Reply(pieces=["first", " second", " third"], gate=gate, hold_after=2)
        server.queue(reply)
        flow = load("sequential-chain")
        find = flow.node("find")
        assert find is not None
        find.config = {"provider": "openai"}
        result = Runner(default_registry()).run(flow, {}, handlers=[handler])
    assert result.ok, result.error
    assert result.outputs["facts"] == "first second third"
    assert seen[:3] == ["first", " second", " third"]
    assert reply.gate_opened is True  # the first token was handled before the rest was sent
