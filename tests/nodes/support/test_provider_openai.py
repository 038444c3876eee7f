"""The OpenAI-compatible provider, with the real `openai` client against a fake server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from engine.runner import Runner
from engine.scheduler import RunResult
from engine.validate import validate
from nodes.llm import ChatConfig
from nodes.registry import default_registry
from nodes.support.messages import Message, as_messages
from nodes.support.providers.base import ChatRequest, ProviderError
from nodes.support.providers.openai_compat import OpenAICompatModel
from tests.fakes.openai_server import TEST_KEY, FakeOpenAIServer, Reply
from tests.nodes.flowkit import make_flow, tokens

KEY_ENV = "CHAINLOOM_TEST_OPENAI_KEY"


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, TEST_KEY)


def chat_flow(url: str, policy: dict[str, Any] | None = None, **config: Any) -> Any:
    flow = make_flow({
        "q": ("input.text", {"name": "q", "default": "Say hello"}),
        "sys": ("input.text", {"name": "sys", "default": "Be brief."}),
        "llm": ("llm.chat", {"provider": "openai", "base_url": url, "model": "fake-model",
                             "api_key_env": KEY_ENV, **config}),
        "out": ("output.text", {"name": "answer"}),
    }, [("q.text", "llm.prompt"), ("sys.text", "llm.system"), ("llm.text", "out.value")])
    if policy:
        flow.nodes[2].policy = flow.nodes[2].policy.model_copy(update=policy)
    return flow


def run(flow: Any, trace_dir: Path | None = None) -> RunResult:
    return Runner(default_registry(), trace_dir=trace_dir).run(flow)


def llm_finished(result: RunResult) -> Any:
    return next(e for e in result.events if e.kind == "node.finished" and e.node == "llm")  # type: ignore[attr-defined]


def test_non_streaming_call_sends_the_settings_and_records_usage(openai_server: FakeOpenAIServer) -> None:
    openai_server.queue(Reply(text="Hello there.", usage=(12, 3), model="fake-model-0613"))
    flow = chat_flow(openai_server.url, stream=False, temperature=0.2, max_tokens=50, stop=["\n\n"], seed=7)
    result = run(flow)
    assert result.ok, result.error
    assert result.outputs == {"answer": "Hello there."}
    assert tokens(result, "llm") == ["Hello there."]
    assert llm_finished(result).usage == {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15,
                                          "model": "fake-model-0613"}
    [request] = openai_server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {TEST_KEY}"
    assert request.body == {"model": "fake-model", "stream": False, "temperature": 0.2, "max_tokens": 50,
                            "stop": ["\n\n"], "seed": 7,
                            "messages": [{"role": "system", "content": "Be brief."},
                                         {"role": "user", "content": "Say hello"}]}


def test_streaming_call_streams_pieces_and_reads_the_usage_chunk(openai_server: FakeOpenAIServer) -> None:
    openai_server.queue(Reply(pieces=["Hel", "lo", " wor", "ld"], usage=(9, 4)))
    result = run(chat_flow(openai_server.url))
    assert result.outputs == {"answer": "Hello world"}
    assert tokens(result, "llm") == ["Hel", "lo", " wor", "ld"]
    assert llm_finished(result).usage == {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13,
                                          "model": "fake-model"}
    body = openai_server.requests[0].body
    assert (body["stream"], body["stream_options"]) == (True, {"include_usage": True})


def test_a_server_without_usage_leaves_a_step_instead_of_made_up_counts(openai_server: FakeOpenAIServer) -> None:
    openai_server.queue(Reply(text="No usage here", usage=None))
    result = run(chat_flow(openai_server.url))
    assert result.outputs == {"answer": "No usage here"}
    assert llm_finished(result).usage is None
    steps = [(e.name, e.data) for e in result.events if e.kind == "node.step"]  # type: ignore[attr-defined]
    assert steps == [("usage", {"model": "fake-model", "note": "the provider reported no token usage"})]


def test_a_rejected_key_is_a_clear_permanent_error_that_never_shows_the_key(
        openai_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    wrong = "sk-wrong-secret-98"
    monkeypatch.setenv(KEY_ENV, wrong)
    result = run(chat_flow(openai_server.url, policy={"retries": 2, "backoff": 0}), trace_dir=tmp_path)
    assert result.status == "failed"
    assert str(result.error) == (
        f"node 'llm' (llm.chat) failed: {openai_server.url} refused the API key (HTTP 401) "
        f"(check that the environment variable {KEY_ENV} holds a valid key for this server)")
    assert len(openai_server.requests) == 1  # not retried: retrying cannot fix a bad key
    everything = json.dumps([e.to_dict() for e in result.events]) + str(result.error)
    everything += "".join(p.read_text() for p in tmp_path.iterdir())
    assert wrong not in everything and "sk-wrong" not in everything


def test_a_missing_variable_names_the_field_and_sends_nothing(
        openai_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV)
    result = run(chat_flow(openai_server.url))
    assert result.status == "failed"
    assert str(result.error) == (
        f"node 'llm' (llm.chat) failed: node 'llm': config field 'api_key_env' names the secret "
        f"'{KEY_ENV}', which is not set (export {KEY_ENV}=... in the environment that runs chainloom; "
        "for a local server that needs no key (Ollama, llama.cpp), clear api_key_env instead)")
    assert openai_server.requests == []


def test_an_empty_key_variable_sends_a_placeholder_for_local_servers() -> None:
    with FakeOpenAIServer(api_key=None) as server:
        result = run(chat_flow(server.url, api_key_env=""))
        assert result.outputs == {"answer": "Hello from the fake server."}
        assert server.requests[0].headers["authorization"] == "Bearer no-key-needed"


def test_rate_limit_then_success_is_retried_by_the_provider_honouring_retry_after(
        openai_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr("nodes.support.providers.retry.asyncio.sleep", sleep)
    openai_server.queue(Reply(status=429, error="slow down", headers={"Retry-After": "3"}), Reply(text="ok"))
    result = run(chat_flow(openai_server.url))
    assert result.outputs == {"answer": "ok"}
    assert waits == [3.0]
    assert [e for e in result.events if e.kind == "node.failed"] == []
    steps = [(e.name, e.data) for e in result.events if e.kind == "node.step"]  # type: ignore[attr-defined]
    assert steps == [("retry", {"attempt": 1, "error": f"{openai_server.url} failed (HTTP 429): slow down",
                                "status": 429, "wait_s": 3.0})]
    assert len(openai_server.requests) == 2


def test_server_errors_without_retry_after_back_off_then_give_up_retryable(
        openai_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("nodes.support.providers.retry.BACKOFF_S", 0.001)
    openai_server.queue(*[Reply(status=503, error="overloaded")] * 3)
    result = run(chat_flow(openai_server.url, retries=2))
    assert str(result.error) == (f"node 'llm' (llm.chat) failed: {openai_server.url} failed (HTTP 503): "
                                 "overloaded (raise retries on this node, or try again later)")
    assert len(openai_server.requests) == 3
    openai_server.queue(Reply(status=503, error="overloaded", headers={"Retry-After": "7"}))
    with pytest.raises(ProviderError) as caught:
        asyncio.run(model(openai_server).complete(request(), lambda t: None))
    assert (caught.value.status, caught.value.retry_after) == (503, 7.0)


def test_an_absurd_retry_after_fails_at_once_and_is_not_retried_by_the_node(
        openai_server: FakeOpenAIServer) -> None:
    openai_server.queue(Reply(status=429, error="quota", headers={"Retry-After": "86400"}))
    result = run(chat_flow(openai_server.url, policy={"retries": 2, "backoff": 0}))
    assert str(result.error) == (
        f"node 'llm' (llm.chat) failed: {openai_server.url} failed (HTTP 429): quota; the server asks to wait "
        "86400s before trying again, more than max_retry_wait_s (60s) (try again later, or raise "
        "max_retry_wait_s)")
    assert len(openai_server.requests) == 1


def test_a_timeout_is_retried_and_the_next_attempt_answers(openai_server: FakeOpenAIServer,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("nodes.support.providers.retry.BACKOFF_S", 0.001)
    openai_server.queue(Reply(text="too late", delay=1.0), Reply(text="in time"))
    result = run(chat_flow(openai_server.url, timeout_s=0.3, stream=False))
    assert result.outputs == {"answer": "in time"}
    [step] = [e for e in result.events if e.kind == "node.step"]
    assert step.data["error"] == f"no answer from {openai_server.url} within 0.3s"  # type: ignore[attr-defined]


def test_nothing_is_retried_once_the_answer_started_streaming() -> None:
    from nodes.support.providers.retry import RetryPolicy, with_retries

    calls = 0

    async def fails_after_a_token() -> str:
        nonlocal calls
        calls += 1
        raise ProviderError("connection dropped mid-answer")

    with pytest.raises(ProviderError):
        asyncio.run(with_retries(fails_after_a_token, RetryPolicy(retries=3), lambda: True))
    assert calls == 1


def model(server: FakeOpenAIServer) -> OpenAICompatModel:
    return OpenAICompatModel(api_key=TEST_KEY, base_url=server.url, key_env=KEY_ENV)


def request(**kw: Any) -> ChatRequest:
    return ChatRequest(**{"messages": (Message("user", "hi"),), "model": "fake-model", **kw})


def test_unknown_model_is_permanent_and_quotes_the_server(openai_server: FakeOpenAIServer) -> None:
    openai_server.queue(Reply(status=404, error="model 'nope' not found"))
    result = run(chat_flow(openai_server.url, model="nope", stream=False))
    assert str(result.error) == (
        f"node 'llm' (llm.chat) failed: {openai_server.url} does not know model 'nope' (HTTP 404): "
        "model 'nope' not found (check the model name and base_url (they must end in /v1 for most servers))")


def test_an_unreachable_server_is_a_retryable_connection_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(ProviderError) as caught:
        asyncio.run(OpenAICompatModel(api_key="k", base_url=url).complete(request(timeout_s=5), lambda t: None))
    assert caught.value.message.startswith(f"cannot reach {url}: ")
    assert caught.value.hint == "check base_url and that the server is running (for Ollama: `ollama serve`)"


@pytest.mark.parametrize(("base_url", "message"), [
    ("ftp://example.com/v1", "Value error, base_url 'ftp://example.com/v1' is not an http(s) URL; "
                             "e.g. http://localhost:11434/v1"),
    ("http://user:pw@localhost/v1", "Value error, base_url must not contain a user name or password; "
                                    "put the key in the environment variable named by api_key_env"),
])
def test_bad_base_urls_are_refused_at_config_time(base_url: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ChatConfig(provider="openai", base_url=base_url)
    assert caught.value.errors()[0]["msg"] == message


def test_a_key_value_in_api_key_env_is_refused_with_a_hint() -> None:
    flow = chat_flow("http://localhost:1/v1", api_key_env="sk-abc123-not-a-name")
    [issue] = validate(flow, default_registry())
    assert (issue.code, issue.node, issue.hint) == (
        "bad_config", "llm", "secret fields hold the NAME of an environment variable (e.g. OPENAI_API_KEY), "
        "never the key")


def test_the_sdk_is_imported_only_when_a_flow_calls_the_provider() -> None:
    code = ("import sys; from nodes import input, llm, flow, prompt, transform; from nodes.support import providers; "
            "print('openai' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[3])
    assert out.stdout.strip() == "False"


WEATHER = {"name": "get_weather", "description": "Weather for a city.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def tool_flow(url: str, **config: Any) -> Any:
    return make_flow({
        "q": ("input.text", {"name": "q", "default": "Weather in Oslo and Lima?"}),
        "llm": ("llm.chat", {"provider": "openai", "base_url": url, "model": "fake-model",
                             "api_key_env": KEY_ENV, "tools": [WEATHER], **config}),
        "calls": ("output.json", {"name": "calls"}),
        "text": ("output.text", {"name": "text"}),
    }, [("q.text", "llm.prompt"), ("llm.tool_calls", "calls.value"), ("llm.text", "text.value")])


@pytest.mark.parametrize("stream", [True, False])
def test_tool_calls_come_back_structured_streamed_or_whole(openai_server: FakeOpenAIServer, stream: bool) -> None:
    openai_server.queue(Reply(text="", finish_reason="tool_calls", tool_calls=[
        {"id": "call_a", "name": "get_weather", "arguments": {"city": "Oslo"}},
        {"id": "call_b", "name": "get_weather", "arguments": {"city": "Lima"}}]))
    result = run(tool_flow(openai_server.url, stream=stream, tool_choice="required"))
    assert result.ok, result.error
    assert result.outputs == {"calls": [{"id": "call_a", "name": "get_weather", "arguments": {"city": "Oslo"}},
                                        {"id": "call_b", "name": "get_weather", "arguments": {"city": "Lima"}}],
                              "text": ""}
    body = openai_server.requests[0].body
    assert body["tools"] == [{"type": "function", "function": WEATHER}]
    assert body["tool_choice"] == "required"


def test_a_conversation_with_tool_results_goes_out_in_openai_form(openai_server: FakeOpenAIServer) -> None:
    history = as_messages([{"role": "human", "content": "Weather in Oslo?"},
                           {"role": "ai", "content": "", "tool_calls": [
                               {"id": "call_a", "name": "get_weather", "arguments": {"city": "Oslo"}}]},
                           {"role": "tool", "content": "4 C, rain", "tool_call_id": "call_a"}])
    openai_server.queue(Reply(text="Rainy, 4 C."))
    done = asyncio.run(model(openai_server).complete(request(messages=history), lambda t: None))
    assert done.text == "Rainy, 4 C."
    assert openai_server.requests[0].body["messages"] == [
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call_a", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}]},
        {"role": "tool", "content": "4 C, rain", "tool_call_id": "call_a"}]


def test_json_mode_asks_for_a_json_object(openai_server: FakeOpenAIServer) -> None:
    openai_server.queue(Reply(text='{"ok": true}'))
    result = run(chat_flow(openai_server.url, json_mode=True))
    assert result.outputs == {"answer": '{"ok": true}'}
    assert openai_server.requests[0].body["response_format"] == {"type": "json_object"}


@pytest.mark.parametrize("stream", [True, False])
def test_text_models_use_the_legacy_completions_endpoint(openai_server: FakeOpenAIServer, stream: bool) -> None:
    openai_server.queue(Reply(text="blue, like the sea.", usage=(4, 5), model="gpt-3.5-turbo-instruct-0914"))
    flow = make_flow({
        "q": ("input.text", {"name": "q", "default": "The sky is"}),
        "llm": ("llm.text", {"provider": "openai", "base_url": openai_server.url, "api_key_env": KEY_ENV,
                             "model": "gpt-3.5-turbo-instruct", "stream": stream, "max_tokens": 20, "stop": ["\n"]}),
        "out": ("output.text", {"name": "answer"}),
    }, [("q.text", "llm.prompt"), ("llm.text", "out.value")])
    result = run(flow)
    assert result.outputs == {"answer": "blue, like the sea."}
    [request_] = openai_server.requests
    assert request_.path == "/v1/completions"
    assert {k: request_.body[k] for k in ("model", "prompt", "max_tokens", "stop", "stream")} == {
        "model": "gpt-3.5-turbo-instruct", "prompt": "The sky is", "max_tokens": 20, "stop": ["\n"], "stream": stream}
    assert llm_finished(result).usage == {"prompt_tokens": 4, "completion_tokens": 5, "total_tokens": 9,
                                          "cost": 0.000016, "model": "gpt-3.5-turbo-instruct-0914"}
    if stream:
        assert tokens(result, "llm") == ["blue,", " like", " the", " sea."]


def test_a_priced_model_reports_an_estimated_cost_per_node_and_per_run(openai_server: FakeOpenAIServer) -> None:
    openai_server.queue(Reply(text="Hi.", usage=(1000, 500), model="gpt-4o-mini-2024-07-18"))
    result = run(chat_flow(openai_server.url, model="gpt-4o-mini"))
    # 1000 * 0.15 / 1M + 500 * 0.60 / 1M
    assert llm_finished(result).usage["cost"] == 0.00045
    assert result.usage == {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500, "cost": 0.00045}
    openai_server.queue(Reply(text="Hi.", usage=(1000, 500), model="gpt-4o-mini-2024-07-18"))
    priced = run(chat_flow(openai_server.url, model="gpt-4o-mini", price={"input": 1.0, "output": 2.0}))
    assert llm_finished(priced).usage["cost"] == 0.002
