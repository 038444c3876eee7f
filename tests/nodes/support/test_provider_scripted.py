"""The scripted model replays its responses in order, per run, and fails clearly when they run out."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from engine.errors import PermanentError
from engine.node import node
from engine.ports import Port, PortType
from engine.registry import Registry
from engine.runner import Runner
from nodes.llm import ChatConfig
from nodes.registry import default_registry
from nodes.support.providers.base import chat_messages
from nodes.support.providers.build import build_model, build_request
from tests.nodes.flowkit import make_flow, run, tokens


@node("test.ask_twice", title="Ask twice", description="Calls its model twice, as an agent would.",
      config=ChatConfig, inputs=[Port("prompt", PortType.TEXT)], outputs=[Port("text", PortType.TEXT)])
async def ask_twice(config: ChatConfig, inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
    answers = []
    for _ in range(2):
        model = build_model(config, ctx)
        completion = await model.complete(build_request(config, chat_messages(inputs["prompt"])), ctx.token)
        answers.append(completion.text)
    return {"text": " | ".join(answers)}


def twice_flow(responses: list[str]) -> Any:
    return make_flow({
        "q": ("input.text", {"name": "q", "default": "hi"}),
        "agent": ("test.ask_twice", {"provider": "scripted", "responses": responses}),
        "out": ("output.text", {"name": "answer"}),
    }, [("q.text", "agent.prompt"), ("agent.text", "out.value")])


def runner() -> Runner:
    return Runner(Registry([*default_registry(), ask_twice]))


def test_replays_the_first_response_each_run_streaming_word_by_word() -> None:
    flow = make_flow({
        "q": ("input.text", {"name": "q", "default": "hi there"}),
        "llm": ("llm.chat", {"provider": "scripted", "responses": ["one two three", "second"]}),
        "out": ("output.text", {"name": "answer"}),
    }, [("q.text", "llm.prompt"), ("llm.text", "out.value")])
    first, again = run(flow), run(flow)
    assert first.outputs == again.outputs == {"answer": "one two three"}
    assert tokens(first, "llm") == ["one", " two", " three"]
    assert first.usage == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}


def test_calls_within_one_run_take_the_next_response_each_run_afresh() -> None:
    r = runner()
    results = [r.run(twice_flow(["a", "b", "c"])) for _ in range(2)]
    assert [res.outputs for res in results] == [{"answer": "a | b"}] * 2


def test_running_out_fails_the_run_naming_the_node_and_is_not_retried() -> None:
    flow = twice_flow(["only"])
    flow.nodes[1].policy.retries = 2
    result = runner().run(flow)
    assert result.status == "failed"
    assert str(result.error) == (
        "node 'agent' (test.ask_twice) failed: scripted model ran out of responses: its one response "
        "was used, and call 2 needs another (add an answer to 'responses' for every "
        "call this node makes in one run)")
    assert isinstance(result.error.__cause__, PermanentError)
    attempts = [e for e in result.events if e.kind == "node.failed"]
    assert len(attempts) == 1


def test_scripted_without_responses_is_refused_at_config_time() -> None:
    with pytest.raises(ValidationError) as caught:
        ChatConfig(provider="scripted")
    assert caught.value.errors()[0]["msg"] == (
        "Value error, provider 'scripted' replays 'responses', which is empty; add at least one")
