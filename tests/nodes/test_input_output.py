"""input.text, input.json, output.text, output.json through the real Runner."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from nodes.input import JSONInputConfig
from nodes.output import JSONOutputConfig, json_output
from nodes.support.messages import Message
from tests.nodes.flowkit import make_flow, run


def text_flow(config: dict[str, object]) -> object:
    return make_flow({"q": ("input.text", {"name": "q", **config}), "out": ("output.text", {"name": "answer"})},
                     [("q.text", "out.value")])


def json_flow(config: dict[str, object]) -> object:
    return make_flow({"d": ("input.json", {"name": "d", **config}), "out": ("output.json", {"name": "data"})},
                     [("d.data", "out.value")])


def test_text_input_passes_the_given_value_or_the_default() -> None:
    flow = text_flow({"default": "fallback"})
    assert run(flow, {"q": "given"}).outputs == {"answer": "given"}
    assert run(flow).outputs == {"answer": "fallback"}


def test_optional_text_input_without_default_gives_empty_text() -> None:
    assert run(text_flow({"required": False})).outputs == {"answer": ""}


def test_numbers_are_written_out_but_structures_are_refused() -> None:
    flow = text_flow({})
    assert run(flow, {"q": 42}).outputs == {"answer": "42"}
    result = run(flow, {"q": {"a": 1}})
    assert result.status == "failed"
    assert str(result.error) == ("node 'q' (input.text) failed: flow input 'q' takes text; got a dict "
                                 "(pass a string, or use an input.json node for structured data)")


def test_json_input_reads_json_text_as_the_cli_gives_it() -> None:
    assert run(json_flow({}), {"d": '{"k": [1, 2.5, null]}'}).outputs == {"data": {"k": [1, 2.5, None]}}


def test_json_input_takes_decoded_values_from_python() -> None:
    assert run(json_flow({}), {"d": [{"a": True}]}).outputs == {"data": [{"a": True}]}


def test_json_input_default_may_be_written_as_json_text() -> None:
    assert run(json_flow({"default": '{"x": 1}'})).outputs == {"data": {"x": 1}}
    assert run(json_flow({"default": {"x": 2}})).outputs == {"data": {"x": 2}}


def test_bad_json_input_names_the_input() -> None:
    result = run(json_flow({}), {"d": "{oops"})
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.message == ("node 'd' (input.json) failed: flow input 'd' is not valid JSON: "
                                    "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)")


def test_nan_is_not_json() -> None:
    result = run(json_flow({}), {"d": "[NaN]"})
    assert result.error is not None
    assert result.error.message == ("node 'd' (input.json) failed: flow input 'd' is not valid JSON: "
                                    "NaN is not allowed in JSON (numbers must be finite)")


def test_bad_json_default_is_refused_at_config_time() -> None:
    with pytest.raises(ValidationError) as caught:
        JSONInputConfig(name="d", default="{nope")
    assert caught.value.errors()[0]["msg"].startswith("Value error, default is not valid JSON: ")


def test_output_json_turns_objects_into_json() -> None:
    # called directly: a flow input cannot carry live objects such as messages or sets
    assert json_output.run(JSONOutputConfig(name="o"), {"value": [Message("user", "hi")]}, None) == {
        "value": [{"role": "user", "content": "hi"}]}
    with pytest.raises(TypeError) as caught:
        json_output.run(JSONOutputConfig(name="o"), {"value": {1, 2}}, None)
    assert str(caught.value).startswith("the value for output 'o' is a set, which is not a JSON value")


def messages_flow() -> object:
    return make_flow({"h": ("input.messages", {"name": "history", "default": [{"role": "user", "content": "hi"}]}),
                      "llm": ("llm.chat", {"provider": "scripted", "responses": ["hello"]}),
                      "out": ("output.json", {"name": "conversation"})},
                     [("h.messages", "llm.messages"), ("llm.messages", "out.value")])


def test_messages_input_reads_a_json_conversation_into_messages() -> None:
    result = run(messages_flow(), {"history": '[{"role": "ai", "content": "yo"}, {"role": "human", "content": "hey"}]'})
    assert result.status == "succeeded", result.error
    roles = [m["role"] for m in result.outputs["conversation"]]
    assert roles == ["assistant", "user", "assistant"]
    assert result.outputs["conversation"][-1]["content"] == "hello"


def test_messages_input_refuses_what_is_not_a_conversation() -> None:
    result = run(messages_flow(), {"history": '{"nope": 1}'})
    assert str(result.error) == (
        "node 'h' (input.messages) failed: flow input 'history' is not a conversation: a message needs a "
        "'role' and a 'content'; got keys ['nope'] "
        """(pass a JSON list, e.g. --input history='[{"role": "user", "content": "hi"}]')""")
