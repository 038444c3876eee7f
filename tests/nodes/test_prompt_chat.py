"""prompt.chat: roles, variables, history placeholders, the same template safety, into llm.chat."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from engine.validate import validate
from nodes.prompt import ChatPromptConfig, detect_variables
from nodes.registry import default_registry
from nodes.support.messages import Message
from tests.nodes.flowkit import make_flow, run

SPEC = default_registry().get("prompt.chat")


def chat(config: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    return SPEC.run(ChatPromptConfig.model_validate(config), inputs, None)  # type: ignore[arg-type]


def test_the_default_has_a_system_message_a_history_slot_and_the_question() -> None:
    history = (Message("user", "Hi"), Message("assistant", "Hello!"))
    out = chat({}, {"question": "Who are you?", "history": history})
    assert out["messages"] == (Message("system", "You are a helpful assistant."), *history,
                               Message("user", "Who are you?"))
    assert out["text"] == "System: You are a helpful assistant.\nHuman: Hi\nAI: Hello!\nHuman: Who are you?"


@pytest.mark.parametrize("history", [[], [("user", "Hi"), ("assistant", "Hello!")],
                                     [("user", "two\nlines"), ("assistant", "ok"), ("tool", "42")]])
def test_text_is_what_langchains_chat_prompt_format_gives(history: list[tuple[str, str]]) -> None:
    lc = pytest.importorskip("langchain_core.prompts")
    lc_messages = pytest.importorskip("langchain_core.messages")
    kinds = {"user": lc_messages.HumanMessage, "assistant": lc_messages.AIMessage,
             "tool": lambda c: lc_messages.ToolMessage(c, tool_call_id="t1")}
    template = lc.ChatPromptTemplate.from_messages([("system", "Answer in {language}."),
                                                    lc.MessagesPlaceholder("history"), ("human", "{question}")])
    theirs = template.format(language="French", question="Why?", history=[kinds[r](c) for r, c in history])
    config = {"messages": [{"role": "system", "content": "Answer in {language}."},
                           {"role": "placeholder", "content": "{history}"},
                           {"role": "human", "content": "{question}"}]}
    out = chat(config, {"language": "French", "question": "Why?",
                        "history": [{"role": r, "content": c} for r, c in history]})
    assert out["text"] == theirs


def test_ports_are_text_variables_then_optional_message_slots() -> None:
    config = ChatPromptConfig.model_validate({"messages": [
        {"role": "system", "content": "Answer in {language}."},
        {"role": "placeholder", "content": "{history}"},
        {"role": "human", "content": "{question} ({language})"},
        {"role": "ai", "content": "Sure, about {topic}:"}], "defaults": {"language": "English"}})
    ports = SPEC.input_ports(config)
    assert [(p.name, p.type.value, p.required) for p in ports] == [
        ("language", "Text", False), ("question", "Text", True), ("topic", "Text", True),
        ("history", "Messages", False)]
    assert config.variables() == ["language", "question", "topic"]
    out = chat(config.model_dump(), {"question": "Why?", "topic": "tea"})
    assert [m.to_dict() for m in out["messages"]] == [
        {"role": "system", "content": "Answer in English."}, {"role": "user", "content": "Why? (English)"},
        {"role": "assistant", "content": "Sure, about tea:"}]


def test_history_may_be_plain_dicts_with_human_and_ai_roles() -> None:
    out = chat({}, {"question": "And now?", "history": [{"role": "human", "content": "before"},
                                                        {"role": "ai", "content": "reply"}]})
    assert [m.role for m in out["messages"]] == ["system", "user", "assistant", "user"]


def test_values_stay_literal_and_unsafe_placeholders_are_refused() -> None:
    out = chat({"messages": [{"role": "human", "content": "{a} {b}"}]},
               {"a": "{b} {a.__class__}", "b": "{{x}}"})
    assert out["messages"] == (Message("user", "{b} {a.__class__} {{x}}"),)
    for attack in ("{a.__globals__}", "{a[0]}", "{a!r}", "{a:>99}", "{0}"):
        with pytest.raises(ValidationError):
            ChatPromptConfig.model_validate({"messages": [{"role": "system", "content": attack}]})


def test_bad_configs_say_what_is_wrong() -> None:
    cases = [
        ({"messages": [{"role": "placeholder", "content": "my history"}]},
         "Value error, placeholder content 'my history' must be the name of a Messages input, e.g. history"),
        ({"messages": [{"role": "placeholder", "content": "q"}, {"role": "human", "content": "{q}"}]},
         "Value error, 'q' is used twice (as a placeholder and a variable, or by two placeholders); give "
         "each its own name"),
        ({"messages": [{"role": "human", "content": "{q}"}], "defaults": {"x": "1"}},
         "Value error, defaults names 'x', which is not a variable of the template; variables are: q"),
        ({"messages": [{"role": "robot", "content": "hi"}]},
         "Input should be 'system', 'human', 'ai', 'user', 'assistant' or 'placeholder'"),
    ]
    for config, message in cases:
        with pytest.raises(ValidationError) as caught:
            ChatPromptConfig.model_validate(config)
        assert caught.value.errors()[0]["msg"] == message


def test_detect_variables_never_raises() -> None:
    assert detect_variables("Hi {name}, {{not}} {place}") == (["name", "place"], None)
    assert detect_variables("Hi {name.attr}") == ([], "placeholder '{name.attr}' uses attribute access, which "
                                                      "templates do not allow; use a plain variable such as {name}")


def test_a_chat_prompt_feeds_a_chat_model_through_its_messages_port() -> None:
    flow = make_flow({
        "q": ("input.text", {"name": "q", "default": "How long does shipping take?"}),
        "p": ("prompt.chat", {"messages": [
            {"role": "system", "content": "Use these facts:\nShipping takes three days.\nReturns are free."},
            {"role": "human", "content": "{question}"}]}),
        "llm": ("llm.chat", {}),
        "out": ("output.text", {"name": "answer"}),
        "conv": ("output.json", {"name": "conversation"}),
    }, [("q.text", "p.question"), ("p.messages", "llm.messages"), ("llm.text", "out.value"),
        ("llm.messages", "conv.value")])
    assert validate(flow, default_registry()) == []
    result = run(flow)
    assert result.outputs == {"answer": "Shipping takes three days.", "conversation": [
        {"role": "system", "content": "Use these facts:\nShipping takes three days.\nReturns are free."},
        {"role": "user", "content": "How long does shipping take?"},
        {"role": "assistant", "content": "Shipping takes three days."}]}
