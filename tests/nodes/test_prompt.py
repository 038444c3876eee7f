"""prompt.template: plain variables only, refused at validation, values inserted literally."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from engine.validate import validate
from nodes import prompt as prompts
from nodes.prompt import PromptTemplateConfig, TemplateError, parse_template
from nodes.registry import default_registry
from tests.nodes.flowkit import make_flow, run

REFUSED = [
    ("Hi {user.name}", "placeholder '{user.name}' uses attribute access, which templates do not allow; "
                       "use a plain variable such as {user}"),
    ("{user.__class__.__init__.__globals__}",
     "placeholder '{user.__class__.__init__.__globals__}' uses attribute access, which templates do "
     "not allow; use a plain variable such as {user}"),
    ("{items[0]}", "placeholder '{items[0]}' uses index access, which templates do not allow; "
                   "use a plain variable such as {items}"),
    ("{x!r}", "placeholder '{x!r}' uses a conversion, which templates do not allow; use a plain "
              "variable such as {x}"),
    ("{x:>10}", "placeholder '{x:>10}' uses a format spec, which templates do not allow; use a plain "
                "variable such as {x}"),
    ("{}", "placeholder '{}' is positional; name the variable instead, e.g. {question}"),
    ("{0}", "placeholder '{0}' is positional; name the variable instead, e.g. {question}"),
    ("{0.real}", "placeholder '{0.real}' is positional; name the variable instead, e.g. {question}"),
    ("{ x }", "placeholder '{ x }' is not a variable name; use letters, digits and _, starting with "
              "a letter or _ (write {{ and }} for literal braces)"),
    ('{"a": 1}', "placeholder '{\"a\": 1}' is not a variable name; use letters, digits and _, starting "
                 "with a letter or _ (write {{ and }} for literal braces)"),
    ("a {b", "'{' at position 2 is never closed; write '{{' for a literal brace"),
    ("a } b", "single '}' at position 2; write '}}' for a literal brace"),
    ("{a{b}}", "'{' at position 0 opens a placeholder that holds another '{'; placeholders cannot "
               "nest (write '{{' for a literal brace)"),
]


@pytest.mark.parametrize(("template", "message"), REFUSED)
def test_unsafe_placeholders_are_refused_with_a_message_naming_them(template: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        parse_template(template)
    assert str(caught.value) == message


@pytest.mark.parametrize(("template", "message"), REFUSED[:6])
def test_config_validation_refuses_them_on_the_template_field(template: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        PromptTemplateConfig(template=template)
    errors = caught.value.errors()
    assert [(e["loc"], e["msg"]) for e in errors] == [(("template",), f"Value error, {message}")]


def test_flow_validation_reports_the_bad_template_as_an_issue() -> None:
    flow = make_flow({"p": ("prompt.template", {"template": "{q.__class__}"}),
                      "out": ("output.text", {"name": "out"})}, [("p.prompt", "out.value")])
    issues = validate(flow, default_registry())
    assert [(i.code, i.node, i.message) for i in issues] == [
        ("bad_config", "p", "config field 'template': Value error, placeholder '{q.__class__}' uses "
         "attribute access, which templates do not allow; use a plain variable such as {q}")]


def test_variables_are_unique_in_order_and_braces_escape() -> None:
    t = parse_template("{{literal}} {b} and {a} then {b} }}")
    assert t.variables == ("b", "a")
    assert t.render({"a": "A", "b": "B"}) == "{literal} B and A then B }"


def test_a_value_holding_a_placeholder_stays_literal() -> None:
    flow = make_flow({
        "q": ("input.text", {"name": "q"}),
        "c": ("input.text", {"name": "c"}),
        "p": ("prompt.template", {"template": "Q: {q}\nC: {c}"}),
        "out": ("output.text", {"name": "out"}),
    }, [("q.text", "p.q"), ("c.text", "p.c"), ("p.prompt", "out.value")])
    result = run(flow, {"q": "{c} and {q.__class__} and {{x}}", "c": "{q}"})
    assert result.ok
    assert result.outputs == {"out": "Q: {c} and {q.__class__} and {{x}}\nC: {q}"}


def test_one_input_port_per_variable_optional_when_defaulted() -> None:
    spec = default_registry().get("prompt.template")
    config = PromptTemplateConfig(template="{question} in {language}", defaults={"language": "English"})
    ports = spec.input_ports(config)
    assert [(p.name, p.type.value, p.required, p.default) for p in ports] == [
        ("question", "Text", True, None), ("language", "Text", False, "English")]
    assert [p.name for p in spec.output_ports(config)] == ["prompt"]


def test_unconnected_defaulted_variable_uses_its_default() -> None:
    flow = make_flow({
        "q": ("input.text", {"name": "q", "default": "Why?"}),
        "p": ("prompt.template", {"template": "{q} ({lang})", "defaults": {"lang": "fr"}}),
        "out": ("output.text", {"name": "out"}),
    }, [("q.text", "p.q"), ("p.prompt", "out.value")])
    assert run(flow).outputs == {"out": "Why? (fr)"}


def test_unconnected_required_variable_is_a_validation_issue() -> None:
    flow = make_flow({"p": ("prompt.template", {"template": "{a}"}),
                      "out": ("output.text", {"name": "out"})}, [("p.prompt", "out.value")])
    assert [(i.code, i.node, i.port) for i in validate(flow, default_registry())] == [
        ("missing_input", "p", "a")]


def test_defaults_must_name_template_variables() -> None:
    with pytest.raises(ValidationError) as caught:
        PromptTemplateConfig(template="{a} {b}", defaults={"c": "x"})
    assert caught.value.errors()[0]["msg"] == (
        "Value error, defaults names 'c', which is not a variable of the template; variables are: a, b")


def test_non_text_values_are_written_out() -> None:
    t = parse_template("{n} {items}")
    spec = default_registry().get("prompt.template")
    out = spec.run(PromptTemplateConfig(template="{n} {items}"), {"n": 3, "items": ["a", 1]}, None)
    assert t.variables == ("n", "items")
    assert out == {"prompt": '3 ["a", 1]'}


def test_str_format_is_never_used() -> None:
    sources = list(Path(prompts.__file__).parent.glob("*.py"))
    assert len(sources) >= 4
    for path in sources:
        source = path.read_text(encoding="utf-8")
        assert ".format(" not in source and "format_map" not in source, path
