"""Provider choice (auto), one flow across providers, the LanguageModel edge, scripted tool calls, prices."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from engine.errors import PermanentError
from engine.node import NodeConfig, node
from engine.ports import Port, PortType
from engine.registry import Registry
from engine.runner import Runner
from engine.scheduler import RunResult
from nodes.registry import default_registry
from nodes.support.documents import Document
from nodes.support.messages import Message
from nodes.support.providers.base import Usage
from nodes.support.providers.model import ConfiguredModel, send_request
from nodes.support.providers.pricing import estimate_cost
from nodes.support.providers.retry import parse_retry_after
from tests.fakes.cohere_server import FakeCohereServer
from tests.fakes.openai_server import TEST_KEY, FakeOpenAIServer, Reply
from tests.nodes.flowkit import make_flow, run

ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "COHERE_API_KEY", "CO_API_URL", "CHAINLOOM_LLM_BASE_URL",
       "CHAINLOOM_LLM_MODEL", "CHAINLOOM_LLM_API_KEY", "CHAINLOOM_PRICES")
QUESTION = "Shipping takes three days. Returns are free. How long does shipping take?"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def servers(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeOpenAIServer, FakeCohereServer, FakeOpenAIServer]]:
    """OpenAI, Cohere and a keyless local server, reachable the way the SDKs find their endpoints."""
    with FakeOpenAIServer() as openai, FakeCohereServer() as cohere, FakeOpenAIServer(api_key=None) as local:
        monkeypatch.setenv("OPENAI_BASE_URL", openai.url)
        monkeypatch.setenv("CO_API_URL", cohere.url)
        yield openai, cohere, local


def ask_flow(provider: str) -> Any:
    return make_flow({
        "q": ("input.text", {"name": "q", "default": QUESTION}),
        "llm": ("llm.chat", {"provider": provider, "temperature": 0}),
        "out": ("output.text", {"name": "answer"}),
    }, [("q.text", "llm.prompt"), ("llm.text", "out.value")])


def provider_step(result: RunResult) -> dict[str, Any]:
    [step] = [e.data for e in result.events if e.kind == "node.step" and e.name == "provider"]  # type: ignore[attr-defined]
    return step


def test_the_same_flow_runs_on_every_provider_by_switching_only_the_provider_field(
        servers: tuple[FakeOpenAIServer, FakeCohereServer, FakeOpenAIServer], monkeypatch: pytest.MonkeyPatch) -> None:
    openai, cohere, local = servers
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("COHERE_API_KEY", TEST_KEY)
    openai.queue(Reply(text="Three days (OpenAI)."))
    cohere.queue(Reply(text="Three days (Cohere)."))
    local.queue(Reply(text="Three days (local)."))
    answers = {p: run(ask_flow(p)).outputs["answer"] for p in ("openai", "cohere", "offline")}
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("COHERE_API_KEY")
    monkeypatch.setenv("CHAINLOOM_LLM_BASE_URL", local.url)
    monkeypatch.setenv("CHAINLOOM_LLM_MODEL", "llama3.2")
    answers["auto (local server)"] = run(ask_flow("auto")).outputs["answer"]
    assert answers == {"openai": "Three days (OpenAI).", "cohere": "Three days (Cohere).",
                       "offline": "Shipping takes three days.", "auto (local server)": "Three days (local)."}
    assert [r.body["model"] for r in (openai.requests[0], cohere.requests[0], local.requests[0])] == [
        "gpt-4o-mini", "command-r-08-2024", "llama3.2"]
    assert local.requests[0].headers["authorization"] == "Bearer no-key-needed"


def test_auto_takes_the_first_configured_provider_and_says_which(
        servers: tuple[FakeOpenAIServer, FakeCohereServer, FakeOpenAIServer], monkeypatch: pytest.MonkeyPatch) -> None:
    openai, cohere, local = servers
    result = run(ask_flow("auto"))
    assert (result.outputs["answer"], provider_step(result)) == (
        "Shipping takes three days.", {"chosen": "offline", "base_url": "", "model": "(default)"})
    monkeypatch.setenv("CHAINLOOM_LLM_BASE_URL", local.url)
    monkeypatch.setenv("CHAINLOOM_LLM_MODEL", "qwen2.5")
    assert provider_step(run(ask_flow("auto"))) == {"chosen": "openai", "base_url": local.url, "model": "qwen2.5"}
    monkeypatch.setenv("COHERE_API_KEY", TEST_KEY)
    assert provider_step(run(ask_flow("auto")))["chosen"] == "cohere"
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    assert provider_step(run(ask_flow("auto"))) == {"chosen": "openai", "base_url": "", "model": "(default)"}
    assert (len(openai.requests), len(cohere.requests), len(local.requests)) == (1, 1, 1)


def test_a_server_at_base_url_needs_a_model_name() -> None:
    flow = ask_flow("openai")
    flow.nodes[1].config["base_url"] = "http://127.0.0.1:9/v1"
    result = run(flow)
    assert str(result.error) == (
        "node 'llm' (llm.chat) failed: node 'llm': the server at http://127.0.0.1:9/v1 needs a model name "
        "(set model (e.g. llama3.2 for Ollama), or CHAINLOOM_LLM_MODEL with provider auto)")


def test_a_missing_openai_key_names_the_variable_the_provider_reads() -> None:
    result = run(ask_flow("openai"))
    assert str(result.error) == (
        "node 'llm' (llm.chat) failed: node 'llm': provider openai reads its key from OPENAI_API_KEY (config "
        "field 'api_key_env' is empty), which is not set (export OPENAI_API_KEY=..., name another variable "
        "in api_key_env, or choose provider offline)")


# ---------------------------------------------------------------- the LanguageModel edge
@node("test.asker", title="Asks a connected model", description="Receives a LanguageModel and calls it.",
      config=NodeConfig,
      inputs=[Port("model", PortType.LANGUAGE_MODEL), Port("question", PortType.TEXT)],
      outputs=[Port("text", PortType.TEXT)])
async def asker(config: Any, inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
    model: ConfiguredModel = inputs["model"]
    done = await send_request(model, model.request((Message("user", inputs["question"]),), temperature=1.5), ctx)
    return {"text": done.text}


def test_a_language_model_edge_carries_the_configured_model_and_the_caller_records_usage(
        servers: tuple[FakeOpenAIServer, FakeCohereServer, FakeOpenAIServer]) -> None:
    _, _, local = servers
    local.queue(Reply(text="Forty-two.", usage=(10, 2), model="my-model"))
    flow = make_flow({
        "q": ("input.text", {"name": "q", "default": "Meaning of life?"}),
        "m": ("llm.model", {"provider": "openai", "base_url": local.url, "model": "my-model", "temperature": 0.1,
                            "seed": 3, "price": {"input": 1000, "output": 1000}}),
        "a": ("test.asker", {}),
        "out": ("output.text", {"name": "answer"}),
    }, [("m.model", "a.model"), ("q.text", "a.question"), ("a.text", "out.value")])
    result = Runner(Registry([*default_registry(), asker])).run(flow)
    assert result.outputs == {"answer": "Forty-two."}
    body = local.requests[0].body
    assert (body["model"], body["temperature"], body["seed"]) == ("my-model", 0.1, 3)  # the model's settings win
    usage = {e.node: e.usage for e in result.events if e.kind == "node.finished"}  # type: ignore[attr-defined]
    assert usage["m"] is None
    assert usage["a"] == {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12, "cost": 0.012,
                          "model": "my-model"}
    finished = next(e for e in result.events if e.kind == "node.finished" and e.node == "m")  # type: ignore[attr-defined]
    assert finished.outputs == {"model": {"provider": "openai", "model": "my-model"}}  # type: ignore[attr-defined]


@node("test.docs", title="Documents", description="One document from text.", config=NodeConfig,
      inputs=[Port("text", PortType.TEXT)], outputs=[Port("documents", PortType.DOCUMENTS)], blocking=False)
def docs_node(config: Any, inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
    return {"documents": [Document(inputs["text"], {"source": "policy.md"})]}


def test_answer_from_documents_chains_use_a_connected_model(
        servers: tuple[FakeOpenAIServer, FakeCohereServer, FakeOpenAIServer]) -> None:
    _, _, local = servers
    local.queue(Reply(text="Returns are free."))
    flow = make_flow({
        "q": ("input.text", {"name": "q", "default": "Are returns free?"}),
        "t": ("input.text", {"name": "t", "default": "Returns are free within 30 days."}),
        "docs": ("test.docs", {}),
        "m": ("llm.model", {"provider": "openai", "base_url": local.url, "model": "served-model"}),
        "chain": ("combine.stuff", {}),
        "out": ("output.text", {"name": "answer"}),
    }, [("t.text", "docs.text"), ("docs.documents", "chain.documents"), ("q.text", "chain.question"),
        ("m.model", "chain.model"), ("chain.answer", "out.value")])
    result = Runner(Registry([*default_registry(), docs_node])).run(flow)
    assert result.outputs == {"answer": "Returns are free."}, result.error
    assert local.requests[0].body["model"] == "served-model"


# ---------------------------------------------------------------- scripted tool calls
def test_the_scripted_model_can_ask_for_tool_calls() -> None:
    flow = make_flow({
        "q": ("input.text", {"name": "q", "default": "Weather in Oslo?"}),
        "llm": ("llm.chat", {"provider": "scripted", "responses": [
            {"text": "", "tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]}]}),
        "calls": ("output.json", {"name": "calls"}),
    }, [("q.text", "llm.prompt"), ("llm.tool_calls", "calls.value")])
    result = run(flow)
    assert result.outputs == {"calls": [{"id": "call_1", "name": "get_weather", "arguments": {"city": "Oslo"}}]}
    steps = [(e.name, e.data) for e in result.events if e.kind == "node.step"]  # type: ignore[attr-defined]
    assert steps == [("tool_calls", {"calls": [{"id": "call_1", "name": "get_weather",
                                                "arguments": {"city": "Oslo"}}]})]


def test_chat_without_prompt_or_messages_says_what_to_connect() -> None:
    flow = make_flow({"llm": ("llm.chat", {}), "out": ("output.text", {"name": "a"})}, [("llm.text", "out.value")])
    assert str(run(flow).error) == (
        "node 'llm' (llm.chat) failed: node 'llm': there is nothing to send: 'prompt' and 'messages' are empty "
        "(connect a prompt (Text) or a conversation (Messages))")


# ---------------------------------------------------------------- prices, Retry-After
def test_prices_match_dated_model_names_and_a_price_file_overrides(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    usage = Usage(1_000_000, 1_000_000)
    assert estimate_cost("gpt-4o-2024-08-06", usage) == 12.5
    assert estimate_cost("gpt-4o-mini-2024-07-18", usage) == 0.75  # the longer name wins
    assert estimate_cost("my-local-model", usage) is None
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"my-local-model": {"input": 0, "output": 0}, "gpt-4o": {"input": 1, "output": 1}}))
    monkeypatch.setenv("CHAINLOOM_PRICES", str(prices))
    assert (estimate_cost("my-local-model", usage), estimate_cost("gpt-4o", usage)) == (0.0, 2.0)
    prices2 = tmp_path / "broken.json"
    prices2.write_text("[1, 2]")
    monkeypatch.setenv("CHAINLOOM_PRICES", str(prices2))
    with pytest.raises(PermanentError) as caught:
        estimate_cost("gpt-4o", usage)
    assert caught.value.message.startswith(f"CHAINLOOM_PRICES names {prices2}, which is not a price file")


def test_retry_after_is_read_in_seconds_milliseconds_or_as_a_date() -> None:
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after({"Retry-After": "2.5"}) == 2.5
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "1"}) == 0.25
    assert 25 < (parse_retry_after({"Retry-After": soon}) or 0) <= 30
    assert parse_retry_after({"Retry-After": "soon-ish"}) is None
    assert parse_retry_after({}) is None


def test_offline_json_mode_wraps_its_answer_in_an_object() -> None:
    from nodes.support.providers.base import ChatRequest
    from nodes.support.providers.offline import OfflineModel

    done = asyncio.run(OfflineModel().complete(ChatRequest((Message("user", QUESTION),), json_mode=True),
                                               lambda t: None))
    assert json.loads(done.text) == {"answer": "Shipping takes three days."}
