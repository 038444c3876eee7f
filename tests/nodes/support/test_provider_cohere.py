"""The Cohere provider, with the real `cohere` client (API v2) against a fake server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from engine.runner import Runner
from engine.scheduler import RunResult
from nodes.registry import default_registry
from tests.fakes.cohere_server import TEST_KEY, FakeCohereServer, Reply
from tests.nodes.flowkit import make_flow, tokens

KEY_ENV = "CHAINLOOM_TEST_COHERE_KEY"
WEATHER = {"name": "get_weather", "description": "Weather for a city.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, TEST_KEY)


def chat_flow(url: str, **config: Any) -> Any:
    return make_flow({
        "q": ("input.text", {"name": "q", "default": "Say hello"}),
        "sys": ("input.text", {"name": "sys", "default": "Be brief."}),
        "llm": ("llm.chat", {"provider": "cohere", "base_url": url, "api_key_env": KEY_ENV, **config}),
        "out": ("output.text", {"name": "answer"}),
        "calls": ("output.json", {"name": "calls"}),
    }, [("q.text", "llm.prompt"), ("sys.text", "llm.system"), ("llm.text", "out.value"),
        ("llm.tool_calls", "calls.value")])


def run(flow: Any, trace_dir: Path | None = None) -> RunResult:
    return Runner(default_registry(), trace_dir=trace_dir).run(flow)


def finished(result: RunResult) -> Any:
    return next(e for e in result.events if e.kind == "node.finished" and e.node == "llm")  # type: ignore[attr-defined]


def test_streaming_chat_v2_sends_the_settings_streams_and_reads_billed_usage(cohere_server: FakeCohereServer) -> None:
    cohere_server.queue(Reply(pieces=["Hel", "lo", " there"], usage=(1000, 200)))
    result = run(chat_flow(cohere_server.url, temperature=0.2, max_tokens=50, stop=["\n\n"], seed=7))
    assert result.ok, result.error
    assert result.outputs == {"answer": "Hello there", "calls": []}
    assert tokens(result, "llm") == ["Hel", "lo", " there"]
    # billed units priced as command-r-08-2024: 1000 * 0.15 / 1M + 200 * 0.60 / 1M
    assert finished(result).usage == {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200,
                                      "cost": 0.00027, "model": "command-r-08-2024"}
    [request] = cohere_server.requests
    assert request.path == "/v2/chat"
    assert request.headers["authorization"] == f"Bearer {TEST_KEY}"
    assert request.body == {"model": "command-r-08-2024", "stream": True, "temperature": 0.2, "max_tokens": 50,
                            "stop_sequences": ["\n\n"], "seed": 7,
                            "messages": [{"role": "system", "content": "Be brief."},
                                         {"role": "user", "content": "Say hello"}]}


def test_a_whole_answer_without_streaming(cohere_server: FakeCohereServer) -> None:
    cohere_server.queue(Reply(text="Hello there.", usage=(3, 2)))
    result = run(chat_flow(cohere_server.url, stream=False, model="command-a-03-2025"))
    assert result.outputs == {"answer": "Hello there.", "calls": []}
    assert tokens(result, "llm") == ["Hello there."]
    assert finished(result).usage["model"] == "command-a-03-2025"
    assert cohere_server.requests[0].body["stream"] is False


@pytest.mark.parametrize("stream", [True, False])
def test_tool_calls_and_json_mode(cohere_server: FakeCohereServer, stream: bool) -> None:
    cohere_server.queue(Reply(text="", finish_reason="tool_calls",
                              tool_calls=[{"id": "c1", "name": "get_weather", "arguments": {"city": "Oslo"}}]))
    result = run(chat_flow(cohere_server.url, stream=stream, tools=[WEATHER], tool_choice="required",
                           json_mode=True))
    assert result.outputs == {"answer": "", "calls": [{"id": "c1", "name": "get_weather",
                                                        "arguments": {"city": "Oslo"}}]}
    body = cohere_server.requests[0].body
    assert body["tools"] == [{"type": "function", "function": WEATHER}]
    assert (body["tool_choice"], body["response_format"]) == ("REQUIRED", {"type": "json_object"})


def test_a_rejected_key_names_the_variable_and_never_shows_the_key(
        cohere_server: FakeCohereServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    wrong = "co-wrong-but-still-secret-5555"
    monkeypatch.setenv(KEY_ENV, wrong)
    result = run(chat_flow(cohere_server.url), trace_dir=tmp_path)
    assert str(result.error) == (
        f"node 'llm' (llm.chat) failed: {cohere_server.url} refused the API key (HTTP 401) "
        f"(check that the environment variable {KEY_ENV} holds a valid key for this server)")
    assert len(cohere_server.requests) == 1
    everything = json.dumps([e.to_dict() for e in result.events]) + str(result.error)
    everything += "".join(p.read_text() for p in tmp_path.iterdir())
    assert wrong not in everything


def test_a_missing_default_key_names_cohere_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COHERE_API_KEY", raising=False)
    flow = chat_flow("")
    flow.nodes[2].config.pop("base_url")
    flow.nodes[2].config.pop("api_key_env")
    result = run(flow)
    assert str(result.error) == (
        "node 'llm' (llm.chat) failed: node 'llm': provider cohere reads its key from COHERE_API_KEY (config "
        "field 'api_key_env' is empty), which is not set (export COHERE_API_KEY=..., name another variable "
        "in api_key_env, or choose provider offline)")


def test_rate_limit_then_success_and_timeouts_are_retried(cohere_server: FakeCohereServer,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("nodes.support.providers.retry.BACKOFF_S", 0.001)
    cohere_server.queue(Reply(status=429, error="too many requests", headers={"Retry-After": "0"}),
                        Reply(text="late", delay=1.0), Reply(text="ok"))
    result = run(chat_flow(cohere_server.url, timeout_s=0.3))
    assert result.outputs == {"answer": "ok", "calls": []}
    steps = [e.data for e in result.events if e.kind == "node.step"]  # type: ignore[attr-defined]
    assert [(s["attempt"], s["status"], s["error"]) for s in steps] == [
        (1, 429, f"{cohere_server.url} failed (HTTP 429): too many requests"),
        (2, None, f"no answer from {cohere_server.url} within 0.3s")]


def test_unknown_model_is_permanent(cohere_server: FakeCohereServer) -> None:
    cohere_server.queue(Reply(status=404, error="model 'nope' not found"))
    result = run(chat_flow(cohere_server.url, model="nope"))
    assert str(result.error) == (
        f"node 'llm' (llm.chat) failed: {cohere_server.url} does not know model 'nope' (HTTP 404): model 'nope' "
        "not found (check the model name (e.g. command-r-08-2024) and base_url)")
    assert len(cohere_server.requests) == 1


def test_text_mode_answers_the_prompt_as_one_chat_message(cohere_server: FakeCohereServer) -> None:
    from nodes.support.messages import Message
    from nodes.support.providers.base import ChatRequest
    from nodes.support.providers.cohere_chat import CohereModel

    cohere_server.queue(Reply(text="blue."))
    model = CohereModel(api_key=TEST_KEY, base_url=cohere_server.url)
    done = asyncio.run(model.complete(ChatRequest((Message("user", "The sky is"),), model="command-r7b-12-2024",
                                                  text_mode=True, stream=False), lambda t: None))
    assert done.text == "blue."
    assert cohere_server.requests[0].body["messages"] == [{"role": "user", "content": "The sky is"}]
