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
from nodes.llms.base import ChatRequest, ProviderError
from nodes.llms.chat import ChatConfig
from nodes.llms.openai_compat import OpenAICompatModel
from nodes.messages import Message
from nodes.registry import default_registry
from tests.fakes.openai_server import TEST_KEY, FakeOpenAIServer, Reply, openai_server  # noqa: F401
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
    wrong = "sk-wrong-but-still-secret-9876"
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


def test_rate_limit_is_retryable_and_keeps_retry_after(openai_server: FakeOpenAIServer) -> None:
    openai_server.queue(Reply(status=429, error="slow down", headers={"Retry-After": "3"}), Reply(text="ok"))
    result = run(chat_flow(openai_server.url, policy={"retries": 1, "backoff": 0}))
    assert result.outputs == {"answer": "ok"}
    failed = [e for e in result.events if e.kind == "node.failed"]
    assert [(e.error, e.will_retry) for e in failed] == [  # type: ignore[attr-defined]
        (f"{openai_server.url} failed (HTTP 429): slow down", True)]
    openai_server.queue(Reply(status=503, error="overloaded", headers={"Retry-After": "7"}))
    with pytest.raises(ProviderError) as caught:
        asyncio.run(model(openai_server).complete(request(), lambda t: None))
    assert (caught.value.status, caught.value.retry_after) == (503, 7.0)


def model(server: FakeOpenAIServer) -> OpenAICompatModel:
    return OpenAICompatModel(api_key=TEST_KEY, base_url=server.url, key_env=KEY_ENV)


def request(**kw: Any) -> ChatRequest:
    return ChatRequest(messages=(Message("user", "hi"),), model="fake-model", **kw)


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
    code = ("import sys; from nodes import io, llms, logic, prompts, transforms; "
            "print('openai' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "False"
