"""Saved flows as OpenAI models, with the real `openai` client against uvicorn on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.server.conftest import LiveServer, chat_flow, hello


def _save(server: LiveServer, key: str, flow: dict[str, Any]) -> None:
    r = httpx.post(server.url + "/flows", json={"flow": flow}, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 201, r.text


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    """One uvicorn worker with a memory chat flow, a messages flow, a failing flow and `hello`."""
    server = LiveServer(tmp_path_factory.mktemp("openai"))
    key = server.prepare()
    server.start()
    try:
        _save(server, key, chat_flow("chat"))
        _save(server, key, hello())
        _save(server, key, {"schema_version": 1, "id": "broken", "nodes": [
            {"id": "chat", "type": "input.chat", "config": {}},
            {"id": "llm", "type": "test.fail", "config": {"message": "the tool is down"}},
            {"id": "out", "type": "output.chat", "config": {"name": "reply"}}],
            "edges": [{"from": "chat.message", "to": "llm.text"}, {"from": "llm.text", "to": "out.message"}]})
        _save(server, key, {"schema_version": 1, "id": "slow", "nodes": [
            {"id": "chat", "type": "input.chat", "config": {}},
            {"id": "llm", "type": "test.slow", "config": {"seconds": 1.0, "step": 0.05}},
            {"id": "out", "type": "output.chat", "config": {"name": "reply"}}],
            "edges": [{"from": "chat.message", "to": "llm.text"}, {"from": "llm.text", "to": "out.message"}]})
        _save(server, key, {"schema_version": 1, "id": "transcript", "nodes": [
            {"id": "history", "type": "input.messages", "config": {"name": "history"}},
            {"id": "out", "type": "output.json", "config": {"name": "answer"}}],
            "edges": [{"from": "history.messages", "to": "out.value"}]})
        yield server, key
    finally:
        server.stop()


def _client(served: tuple[LiveServer, str], key: str | None = None) -> openai.OpenAI:
    server, good = served
    return openai.OpenAI(base_url=server.url + "/v1", api_key=key or good, max_retries=0, timeout=30)


def _said(err: openai.APIError) -> str:
    """The server's message (the client prefixes its own 'Error code: N - ')."""
    body = err.body
    assert isinstance(body, dict), body
    return str(body["message"])


def _runs(served: tuple[LiveServer, str], **params: str) -> list[dict[str, Any]]:
    server, key = served
    r = httpx.get(server.url + "/runs", params=params, headers={"Authorization": f"Bearer {key}"})
    runs: list[dict[str, Any]] = r.json()
    return runs


def test_models_lists_the_flows_with_a_chat_input(served: tuple[LiveServer, str]) -> None:
    models = _client(served).models.list()
    assert sorted((m.id, m.object, m.owned_by) for m in models.data) == [
        ("broken", "model", "chainloom"), ("chat", "model", "chainloom"), ("slow", "model", "chainloom"),
        ("transcript", "model", "chainloom")]
    assert _client(served).models.retrieve("chat").id == "chat"
    with pytest.raises(openai.NotFoundError):
        _client(served).models.retrieve("hello")


def test_a_non_streamed_answer_is_a_chat_completion_with_usage(served: tuple[LiveServer, str]) -> None:
    reply = _client(served).chat.completions.create(
        model="chat", messages=[{"role": "user", "content": "My name is Ada."}])
    assert reply.object == "chat.completion"
    assert reply.model == "chat"
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].message.content == "I could not find an answer to that in the text I was given."
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens > 0
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    run_id = reply.id.removeprefix("chatcmpl-")
    run = next(r for r in _runs(served, flow_id="chat") if r["run_id"] == run_id)
    assert run["status"] == "succeeded"
    assert run["usage"]["total_tokens"] == reply.usage.total_tokens


def test_a_streamed_answer_comes_as_chunks_then_finish_then_usage(served: tuple[LiveServer, str]) -> None:
    client = _client(served)
    first = client.chat.completions.create(model="chat", user="stream-1",
                                           messages=[{"role": "user", "content": "My name is Ada."}])
    stream = client.chat.completions.create(
        model="chat", user="stream-1", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "What is my name?"}])
    chunks = list(stream)
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert len({c.id for c in chunks}) == 1 and chunks[0].id != first.id
    assert chunks[0].choices[0].delta.role == "assistant"
    deltas = [c.choices[0].delta.content for c in chunks[1:] if c.choices and c.choices[0].delta.content]
    assert len(deltas) > 3  # token by token, not one block
    assert "".join(deltas) == 'You said: "My name is Ada."'
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])


def test_the_session_from_user_keeps_memory_and_sessions_do_not_mix(served: tuple[LiveServer, str]) -> None:
    client = _client(served)

    def ask(text: str, user: str) -> str:
        reply = client.chat.completions.create(model="chat", user=user, messages=[{"role": "user", "content": text}])
        return str(reply.choices[0].message.content)

    ask("My name is Grace.", "sess-a")
    assert ask("What is my name?", "sess-a") == 'You said: "My name is Grace."'
    assert ask("What is my name?", "sess-b") != 'You said: "My name is Grace."'
    assert {r["session_id"] for r in _runs(served, flow_id="chat", session_id="sess-a")} == {"sess-a"}
    assert len(_runs(served, session_id="sess-a")) == 2


def test_the_session_header_wins_over_user(served: tuple[LiveServer, str]) -> None:
    client = _client(served)
    client.chat.completions.create(model="chat", user="ignored",
                                   messages=[{"role": "user", "content": "My name is Lin."}],
                                   extra_headers={"X-Chainloom-Session": "header-1"})
    assert [r["session_id"] for r in _runs(served, session_id="header-1")] == ["header-1"]
    assert _runs(served, session_id="ignored") == []


def test_async_client_streams_and_answers(served: tuple[LiveServer, str]) -> None:
    server, key = served

    async def both() -> tuple[str, list[str]]:
        async with openai.AsyncOpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0) as client:
            reply = await client.chat.completions.create(
                model="chat", user="async-1", messages=[{"role": "user", "content": "My name is Alan."}])
            stream = await client.chat.completions.create(
                model="chat", user="async-1", stream=True, messages=[{"role": "user", "content": "What is my name?"}])
            deltas = [c.choices[0].delta.content or "" async for c in stream if c.choices]
            return str(reply.choices[0].message.content), deltas

    answer, deltas = asyncio.run(both())
    assert answer == "I could not find an answer to that in the text I was given."
    assert "".join(deltas) == 'You said: "My name is Alan."'


def test_a_bad_key_is_an_authentication_error(served: tuple[LiveServer, str]) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        _client(served, key="cl_not-a-key").chat.completions.create(
            model="chat", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"
    assert caught.value.type == "invalid_request_error"
    assert _said(caught.value).startswith("the API key is not valid, or it was revoked")
    with pytest.raises(openai.AuthenticationError):
        _client(served, key="cl_not-a-key").models.list()


def test_an_unknown_model_is_not_found(served: tuple[LiveServer, str]) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        _client(served).chat.completions.create(model="no-such-flow", messages=[{"role": "user", "content": "hi"}])
    assert (caught.value.code, caught.value.param) == ("model_not_found", "model")
    assert _said(caught.value).startswith("the model 'no-such-flow' does not exist; a model is a saved flow's id")


def test_a_flow_without_chat_input_is_not_served(served: tuple[LiveServer, str]) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        _client(served).chat.completions.create(model="hello", messages=[{"role": "user", "content": "hi"}])
    assert _said(caught.value) == ("the flow 'hello' has no chat input, so it is not served as a model; "
                                    "add an input.chat node to the flow (or an input.messages node) and save it")


def test_bad_requests_are_400_naming_the_parameter(served: tuple[LiveServer, str]) -> None:
    client = _client(served)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="chat", messages=[{"role": "assistant", "content": "hi"}])
    assert (caught.value.param, caught.value.code) == ("messages", "invalid_value")
    assert _said(caught.value).startswith("the last message must be the user's; got role 'assistant'")
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="chat", messages=[])
    assert caught.value.param == "messages"
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="chat", user="bad user", messages=[{"role": "user", "content": "x"}])
    assert caught.value.param == "user"
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="chat", n=2, messages=[{"role": "user", "content": "x"}])
    assert caught.value.param == "n"


def test_a_failed_run_is_a_500_naming_the_node(served: tuple[LiveServer, str]) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        _client(served).chat.completions.create(model="broken", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.code == "run_failed"
    assert "at node 'llm'" in _said(caught.value) and "the tool is down" in _said(caught.value)
    with pytest.raises(openai.APIError) as streamed:
        list(_client(served).chat.completions.create(model="broken", stream=True,
                                                      messages=[{"role": "user", "content": "hi"}]))
    assert "at node 'llm'" in _said(streamed.value)


def test_curl_shape_of_errors_and_stream(served: tuple[LiveServer, str]) -> None:
    server, key = served
    r = httpx.post(server.url + "/v1/chat/completions", json={"model": "x", "messages": [{"role": "user"}]})
    assert r.status_code == 401
    assert set(r.json()["error"]) == {"message", "type", "param", "code"}
    with httpx.stream("POST", server.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                      json={"model": "chat", "stream": True, "messages": [{"role": "user", "content": "hi"}]},
                      timeout=30) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in r.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    assert all(line.startswith("data: ") for line in lines)


def test_tokens_arrive_while_the_run_is_still_running(served: tuple[LiveServer, str]) -> None:
    server, key = served
    stream = _client(served).chat.completions.create(model="slow", stream=True,
                                                     messages=[{"role": "user", "content": "go"}])
    statuses, deltas = [], []
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            deltas.append(chunk.choices[0].delta.content)
            if len(deltas) == 1:
                run = httpx.get(f"{server.url}/runs/{chunk.id.removeprefix('chatcmpl-')}",
                                headers={"Authorization": f"Bearer {key}"}).json()
                statuses.append(run["status"])
    assert statuses == ["running"]
    assert deltas[:20] == ["."] * 20  # the model's tokens as they came
    assert deltas[20:] == []  # the answer ("go") is not a continuation of the tokens: not appended


def test_a_messages_flow_gets_the_whole_conversation(served: tuple[LiveServer, str]) -> None:
    reply = _client(served).chat.completions.create(model="transcript", messages=[
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    said = json.loads(str(reply.choices[0].message.content))
    assert [(m["role"], m["content"]) for m in said] == [("system", "Be brief."), ("user", "Hi")]
