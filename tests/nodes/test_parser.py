"""Output parsers on messy model output, their format instructions, and repair-once with a connected model."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from engine.validate import validate
from nodes.parser import RegexParserConfig, StructuredParserConfig
from nodes.registry import default_registry
from nodes.support.parsing.extract import ParseError, extract_json, parse_list, parse_regex
from tests.nodes.flowkit import make_flow, run

MESSY_JSON = [
    ('{"a": 1}', {"a": 1}),
    ('```json\n{"a": 1, "b": [1, 2]}\n```', {"a": 1, "b": [1, 2]}),
    ('Sure! Here is the JSON you asked for:\n\n```\n{"a": 1}\n```\n\nLet me know if you need more.', {"a": 1}),
    ('The answer is {"a": {"b": "}"}} - hope that helps.', {"a": {"b": "}"}}),
    ('[Note: abridged] {"a": 1}', {"a": 1}),
    ('  \n[1, 2, 3]\n', [1, 2, 3]),
    ('```JSON\n  {"a": "ünïcode ✓"}\n```', {"a": "ünïcode ✓"}),
]


@pytest.mark.parametrize(("output", "value"), MESSY_JSON)
def test_json_is_found_in_messy_output(output: str, value: Any) -> None:
    assert extract_json(output) == value


@pytest.mark.parametrize(("output", "message"), [
    ('```json\n{"name": "Ada",\n "age": 36\n "city": "London"}\n```',
     "the output is not valid JSON: Expecting ',' delimiter at line 4, column 2: '\"city\": \"London\"}'"),
    ("{'name': 'Ada'}", "the output is not valid JSON: Expecting property name enclosed in double quotes at line 1, "
                        "column 2: \"{'name': 'Ada'}\""),
    ('{"a": 1,}', "the output is not valid JSON: Expecting property name enclosed in double quotes at line 1, "
                  "column 9: '{\"a\": 1,}'"),
    ("I cannot answer that.", "the output holds no JSON object or array (no '{' or '['): 'I cannot answer that.'"),
    ("   ", "the output is empty; expected JSON"),
])
def test_broken_json_says_where(output: str, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        extract_json(output)
    assert str(caught.value) == message


@pytest.mark.parametrize(("output", "separator", "items"), [
    ("red, green, blue", "auto", ["red", "green", "blue"]),
    ("red, green, and blue.", "auto", ["red", "green", "blue."]),
    ('"Paris, France", Berlin, U.S.', "auto", ["Paris, France", "Berlin", "U.S."]),
    ("1. red\n2) green\n- 'blue'\n* \"cyan\"\n", "auto", ["red", "green", "blue", "cyan"]),
    ("Colours:\n```\nred\n\ngreen\n```", "auto", ["red", "green"]),
    ("red, green\nblue", "line", ["red, green", "blue"]),
    ("red\ngreen", "comma", ["red", "green"]),  # read as CSV rows, as LangChain does
])
def test_lists_lose_their_bullets_numbers_and_quotes(output: str, separator: Any, items: list[str]) -> None:
    assert parse_list(output, separator) == items


LIST_OUTPUTS = ["red, green, blue", '"Paris, France", Berlin', "U.S., U.K., E.U.", "Mr. Smith, Dr. Who.",
                'a, "b, c", "d ""quoted"" e", f', "one", "tea,coffee , water"]


@pytest.mark.parametrize("output", LIST_OUTPUTS)
def test_comma_lists_are_read_like_langchains_parser(output: str) -> None:
    lc = pytest.importorskip("langchain_core.output_parsers")
    theirs = [item.strip() for item in lc.CommaSeparatedListOutputParser().parse(output)]
    assert parse_list(output, "comma") == theirs


@pytest.mark.parametrize("output", ['{"text": "line one\nline two"}', '```json\n{"a": "x\ny", "b": 2}\n```',
                                    'Here: {"poem": "roses\n\tare red"} ok', '[1, "a\nb"]'])
def test_raw_newlines_inside_json_strings_parse_like_langchain(output: str) -> None:
    lc = pytest.importorskip("langchain_core.output_parsers")
    expected = lc.JsonOutputParser().parse(output) if not output.startswith("Here") else {"poem": "roses\n\tare red"}
    assert extract_json(output) == expected


def test_an_unterminated_string_says_at_once() -> None:
    with pytest.raises(ParseError) as caught:
        extract_json('{"a": "never closed')
    assert str(caught.value) == ("the output is not valid JSON: Unterminated string starting at line 1, "
                                 "column 7: '{\"a\": \"never closed'")


@pytest.mark.parametrize("text", ["Score: 7 (great)", "Score: 7", "Score: 10 (ok) and more"])
def test_an_unmatched_optional_group_is_null_like_langchains_regex_parser(text: str) -> None:
    lc = pytest.importorskip("langchain_classic.output_parsers")
    regex = r"Score: (\d+)(?: \((\w+)\))?"
    theirs = lc.RegexParser(regex=regex, output_keys=["score", "note"]).parse(text)
    ours = parse_regex(text, re.compile(r"Score: (?P<score>\d+)(?: \((?P<note>\w+)\))?"))
    assert ours == theirs


def test_fields_mode_keeps_extra_keys_like_langchains_structured_parser() -> None:
    lc = pytest.importorskip("langchain_classic.output_parsers")
    output = '```json\n{"name": "Ada", "age": 36, "nickname": "Countess"}\n```'
    theirs = lc.StructuredOutputParser.from_response_schemas(
        [lc.ResponseSchema(name="name", description="Full name"), lc.ResponseSchema(name="age", description="",
                                                                                   type="integer")]).parse(output)
    result = run(parse_flow_("parser.structured", {"fields": PERSON_FIELDS},
                             [output]))
    assert result.ok, result.error
    assert result.outputs["value"] == theirs == {"name": "Ada", "age": 36, "nickname": "Countess"}


def test_regex_named_groups_first_or_every_match() -> None:
    pattern = re.compile(r"(?P<name>\w+): (?P<score>\d+)")
    assert parse_regex("Scores - ada: 9, bob: 7", pattern) == {"name": "ada", "score": "9"}
    assert parse_regex("ada: 9, bob: 7", pattern, every=True) == [{"name": "ada", "score": "9"},
                                                                   {"name": "bob", "score": "7"}]
    with pytest.raises(ParseError) as caught:
        parse_regex("nothing here", pattern)
    assert str(caught.value) == ("the output does not match the pattern '(?P<name>\\\\w+): (?P<score>\\\\d+)': "
                                 "'nothing here'")


# ---------------------------------------------------------------- nodes in flows
PERSON_FIELDS = [{"name": "name", "description": "Full name"}, {"name": "age", "type": "integer"},
                 {"name": "role", "choices": ["engineer", "manager"], "required": False}]


def parse_flow_(parser: str, config: dict[str, Any], answers: list[Any], fixer: list[Any] | None = None) -> Any:
    nodes: dict[str, tuple[str, dict[str, Any]]] = {
        "q": ("input.text", {"name": "q", "default": "Tell me about Ada."}),
        "p": ("prompt.template", {"template": "{q}\n\n{format}"}),
        "llm": ("llm.chat", {"provider": "scripted", "responses": answers}),
        "parse": (parser, config),
        "out": ("output.json", {"name": "value"}),
        "sent": ("output.text", {"name": "prompt"}),
    }
    edges = [("q.text", "p.q"), ("parse.format_instructions", "p.format"), ("p.prompt", "llm.prompt"),
             ("llm.text", "parse.text"), ("parse.value", "out.value"), ("p.prompt", "sent.value")]
    if fixer is not None:
        nodes["fixer"] = ("llm.model", {"provider": "scripted", "responses": fixer})
        edges.append(("fixer.model", "parse.model"))
    return make_flow(nodes, edges)


def test_structured_output_from_fields_with_instructions_wired_upstream() -> None:
    flow = parse_flow_("parser.structured", {"fields": PERSON_FIELDS},
                       ['Here you go:\n```json\n{"name": "Ada Lovelace", "age": 36}\n```'])
    assert validate(flow, default_registry()) == []
    result = run(flow)
    assert result.ok, result.error
    assert result.outputs["value"] == {"name": "Ada Lovelace", "age": 36}
    prompt = result.outputs["prompt"]
    assert prompt.startswith("Tell me about Ada.\n\nAnswer with one JSON value that matches this JSON schema")
    assert '"enum": [\n        "engineer",\n        "manager"\n      ]' in prompt


def test_every_schema_problem_is_listed() -> None:
    result = run(parse_flow_("parser.structured", {"fields": PERSON_FIELDS},
                             ['{"age": "thirty-six", "role": "pilot", "extra": 1}']))
    assert str(result.error) == (
        "node 'parse' (parser.structured) failed: node 'parse': the output does not match the schema (3 problems): "
        "$: 'name' is a required property; "
        "$.age: 'thirty-six' is not of type 'integer'; $.role: 'pilot' is not one of ['engineer', 'manager'] "
        "(wire format_instructions into the prompt, or connect a model to 'model' so the output can be "
        "repaired once)")


def test_a_connected_model_repairs_the_output_once() -> None:
    flow = parse_flow_("parser.structured", {"fields": PERSON_FIELDS}, ['{"name": "Ada", "age": "36"}'],
                       fixer=['{"name": "Ada", "age": 36}'])
    result = run(flow)
    assert result.outputs["value"] == {"name": "Ada", "age": 36}
    steps = [(e.node, e.name) for e in result.events if e.kind == "node.step"]  # type: ignore[attr-defined]
    assert steps == [("parse", "repair"), ("parse", "repaired")]
    finished = {e.node: e.usage for e in result.events if e.kind == "node.finished"}  # type: ignore[attr-defined]
    assert finished["parse"]["completion_tokens"] == 4  # the repair call is charged to the parser


def test_a_failed_repair_reports_both_attempts_and_is_not_retried_again() -> None:
    flow = parse_flow_("parser.json", {}, ["no json at all"], fixer=["still no json", "unused"])
    result = run(flow)
    assert str(result.error) == (
        "node 'parse' (parser.json) failed: node 'parse': the output holds no JSON object or array (no '{' or '['): "
        "'no json at all'; the repaired output failed too: the output holds no JSON object or array (no '{' or "
        "'['): 'still no json' (make the instructions clearer, or use a stronger model)")


def test_the_repair_request_carries_instructions_problems_and_the_bad_output() -> None:
    from nodes.support.parsing.repair import repair_request

    system, user = repair_request('{"a": 1,}', "Answer with JSON.", ParseError("bad", ["bad comma", "bad end"]))
    assert system.role == "system" and user.role == "user"
    assert user.content == ("The answer had to follow these instructions:\nAnswer with JSON.\n\nIt could not be "
                            "read, because:\n- bad comma\n- bad end\n\nThe answer was:\n{\"a\": 1,}\n\n"
                            "Write the corrected answer.")


def test_list_and_regex_parsers_in_flows() -> None:
    listed = run(parse_flow_("parser.list", {"max_items": 2}, ["Sure:\n1. tea\n2. coffee\n3. water"]))
    assert listed.outputs["value"] == ["tea", "coffee"]
    assert listed.outputs["prompt"].endswith("separated by commas (e.g. `red, green, blue`), and nothing else.")
    matched = run(parse_flow_("parser.regex", {"pattern": r"Label:\s*(?P<label>\w+)", "ignore_case": True},
                              ["I think... LABEL: billing"]))
    assert matched.outputs["value"] == {"label": "billing"}
    too_few = run(parse_flow_("parser.list", {"min_items": 2}, ["tea"]))
    assert "the output has 1 item(s); at least 2 are needed" in str(too_few.error)


def test_custom_format_instructions_replace_the_written_ones() -> None:
    result = run(parse_flow_("parser.json", {"format_instructions": "Reply in JSON please."}, ['{"ok": true}']))
    assert result.outputs == {"value": {"ok": True}, "prompt": "Tell me about Ada.\n\nReply in JSON please."}


@pytest.mark.parametrize(("config", "message"), [
    ({"fields": []}, "Value error, give either json_schema or fields (exactly one of them)"),
    ({"json_schema": {"type": "object"}, "fields": PERSON_FIELDS},
     "Value error, give either json_schema or fields (exactly one of them)"),
    ({"json_schema": {"type": "objekt"}},
     "Value error, json_schema is not a valid JSON schema at ['type']: 'objekt' is not valid under any of the "
     "given schemas"),
    ({"fields": [{"name": "bad name"}]}, "String should match pattern '^[A-Za-z_][A-Za-z0-9_]*$'"),
])
def test_structured_configs_are_checked(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        StructuredParserConfig.model_validate(config)
    assert caught.value.errors()[0]["msg"] == message


def test_a_regex_without_named_groups_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        RegexParserConfig(pattern=r"\w+")
    assert caught.value.errors()[0]["msg"] == (
        "Value error, pattern '\\\\w+' has no named group; name what to keep, e.g. (?P<label>\\w+)")


def test_the_default_structured_config_is_valid_and_a_schema_replaces_its_fields() -> None:
    assert StructuredParserConfig().schema()["required"] == ["answer"]
    assert StructuredParserConfig(json_schema={"type": "array"}).schema() == {"type": "array"}


def test_format_instructions_are_a_static_output() -> None:
    spec = default_registry().get("parser.json")
    value, instructions = spec.output_ports(spec.config())
    assert (value.static, instructions.static) == (False, True)
    assert instructions.default == "Answer with one JSON object and nothing else (no prose before or after it)."
