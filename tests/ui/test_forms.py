"""Property forms generated from config schemas."""

from __future__ import annotations

import pytest

from engine.node import FlowInputConfig
from tests.ui.demo_nodes import LLMConfig, LoaderConfig, PromptConfig
from ui.forms import FieldError, config_errors, form_fields, parse_widget, stored_config, widget_value


def fields(model: type) -> dict[str, object]:
    return {f.name: f for f in form_fields(model.model_json_schema())}


def test_each_field_gets_the_widget_its_type_asks_for() -> None:
    f = fields(LLMConfig)
    kinds = {name: fld.kind for name, fld in f.items()}  # type: ignore[attr-defined]
    assert kinds == {"model": "select", "temperature": "number", "max_tokens": "integer", "stop": "list",
                     "api_key_env": "secret", "json_mode": "bool", "extra": "json", "delay": "number",
                     "fail": "bool"}
    assert f["model"].options == ("echo", "shout") and f["model"].default == "echo"  # type: ignore[attr-defined]
    assert (f["temperature"].minimum, f["temperature"].maximum) == (0, 2)  # type: ignore[attr-defined]
    assert f["max_tokens"].nullable and (f["max_tokens"].minimum, f["max_tokens"].maximum) == (1, 4096)  # type: ignore[attr-defined]
    assert f["temperature"].help == "Randomness."  # type: ignore[attr-defined]
    assert fields(PromptConfig)["template"].kind == "prompt"  # type: ignore[attr-defined]


def test_flow_input_fields() -> None:
    f = fields(FlowInputConfig)
    assert {n: x.kind for n, x in f.items()} == {  # type: ignore[attr-defined]
        "name": "text", "description": "textarea", "required": "bool", "default": "json"}
    assert f["name"].required and f["default"].loose  # type: ignore[attr-defined]


def test_widget_values_round_trip() -> None:
    f = fields(LLMConfig)
    for name, value in {"stop": ["###", "END"], "extra": {"seed": 1}, "max_tokens": 5, "api_key_env": "KEY",
                        "model": "shout", "json_mode": True}.items():
        assert parse_widget(f[name], widget_value(f[name], value)) == value  # type: ignore[arg-type]
    assert parse_widget(f["max_tokens"], None) is None  # type: ignore[arg-type]
    assert widget_value(fields(LoaderConfig)["paths"]) == ""  # default_factory has no JSON default  # type: ignore[arg-type]


def test_loose_fields_take_plain_text_or_json() -> None:
    default = fields(FlowInputConfig)["default"]
    assert parse_widget(default, "hello there") == "hello there"  # type: ignore[arg-type]
    assert parse_widget(default, "[1, 2]") == [1, 2]  # type: ignore[arg-type]
    assert parse_widget(default, "") is None  # type: ignore[arg-type]


def test_bad_widget_content_is_refused_with_the_fix() -> None:
    f = fields(LLMConfig)
    with pytest.raises(FieldError, match="not valid JSON"):
        parse_widget(f["extra"], "{nope")  # type: ignore[arg-type]
    with pytest.raises(FieldError, match="NAME of an environment variable"):
        parse_widget(f["api_key_env"], "sk-live-1234567890")  # type: ignore[arg-type]


def test_config_errors_are_reported_per_field() -> None:
    errors = config_errors(LLMConfig, {"temperature": 3, "model": "nope", "bogus": 1})
    assert set(errors) == {"temperature", "model", "bogus"}
    assert errors["temperature"] == ["Input should be less than or equal to 2"]
    assert errors["bogus"][0].startswith("unknown field; valid fields are: model, temperature")
    assert config_errors(LLMConfig, {"temperature": 1}) == {}


def test_stored_config_keeps_required_and_changed_values_only() -> None:
    assert stored_config(LLMConfig, {"model": "echo", "temperature": 0.5, "stop": []}) == {"temperature": 0.5}
    assert stored_config(FlowInputConfig, {"name": "q", "required": True}) == {"name": "q"}


def test_one_line_fields_are_single_line_and_refuse_line_breaks() -> None:
    llm = fields(_config("llm.chat"))
    loader = fields(_config("loader.directory"))
    assert llm["base_url"].kind == "text" and loader["path"].kind == "text" and loader["glob"].kind == "text"  # type: ignore[attr-defined]
    with pytest.raises(FieldError, match="'Path' is one line \\(a path, URL or name\\); remove the line breaks"):
        parse_widget(loader["path"], "docs\n/etc")  # type: ignore[arg-type]
    assert parse_widget(loader["path"], "docs/notes") == "docs/notes"  # type: ignore[arg-type]
    assert fields(FlowInputConfig)["description"].kind == "textarea"  # type: ignore[attr-defined]


def test_an_empty_value_means_the_default_and_never_overwrites_it() -> None:
    from ui.forms import with_field

    ChatConfig = _config("llm.chat")  # noqa: N806
    f = fields(ChatConfig)
    config = {"provider": "scripted", "responses": ["hi"], "model": "m"}
    assert with_field(ChatConfig, config, f["tools"], None) == config   # type: ignore[arg-type]
    assert with_field(ChatConfig, config, f["model"], "  ") == {"provider": "scripted", "responses": ["hi"]}  # type: ignore[arg-type]
    assert with_field(ChatConfig, config, f["responses"], []) == {"provider": "scripted", "model": "m"}  # type: ignore[arg-type]
    assert with_field(ChatConfig, config, f["temperature"], 0.0)["temperature"] == 0.0  # type: ignore[arg-type]
    name = fields(FlowInputConfig)["name"]
    assert with_field(FlowInputConfig, {"name": "q"}, name, "") == {"name": ""}  # type: ignore[arg-type]  # required: shown as an error


def test_essential_fields_first_and_provider_fields_only_where_they_apply() -> None:
    from ui.forms import applies, essential

    f = fields(_config("llm.chat"))
    assert [n for n, x in f.items() if essential(x)][:5] == ["provider", "model", "base_url", "api_key_env",  # type: ignore[arg-type]
                                                            "responses"]
    assert not essential(f["temperature"]) and not essential(f["timeout_s"])  # type: ignore[arg-type]
    shown = {p: {n for n, x in f.items() if applies(x, {"provider": p})}  # type: ignore[arg-type]
             for p in ("offline", "scripted", "openai", "cohere")}
    assert "responses" in shown["scripted"] and "responses" not in shown["offline"] | shown["openai"]
    assert {"model", "base_url", "api_key_env"} <= shown["openai"] and not {"model", "base_url"} & shown["offline"]
    assert "base_url" not in shown["cohere"] and "api_key_env" in shown["cohere"]
    assert applies(f["responses"], {}) is False and applies(fields(LLMConfig)["model"], {}) is True  # type: ignore[arg-type]


def _config(type_id: str) -> type:
    from nodes.registry import default_registry

    return default_registry().get(type_id).config
