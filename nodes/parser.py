"""The output parser nodes: `parser.json`, `parser.structured`, `parser.list` and `parser.regex`.

Each reads the model's output on `text`, tolerating the usual mess (code fences,
prose around JSON, bullets and numbering in lists), and gives `value` (JSON) and
static `format_instructions` for the prompt. The reading, the schemas and the
repair-once logic are nodes/support/parsing/ (chain.extract uses them too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator

from engine.node import node
from nodes.support.parsing.extract import ParseError, extract_json, parse_list, parse_regex
from nodes.support.parsing.repair import INPUTS, ParserConfig, output_ports, parse_or_repair
from nodes.support.parsing.schema import StructuredParserConfig, instructions_for, problems
from nodes.support.values import compile_pattern

if TYPE_CHECKING:
    from engine.context import RunContext

JSON_INSTRUCTIONS = "Answer with one JSON object and nothing else (no prose before or after it)."


def _instructions(config: ParserConfig, default: str) -> str:
    return config.format_instructions or default


# ---------------------------------------------------------------- JSON
class JSONParserConfig(ParserConfig):
    pass


@node("parser.json", title="JSON parser", config=JSONParserConfig, inputs=INPUTS,
      outputs=output_ports(lambda c: JSON_INSTRUCTIONS),
      description="Reads JSON from the model's output (code fences and surrounding prose are fine); "
                  "says at which line and column it breaks.")
async def json_parser(config: JSONParserConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    return await parse_or_repair(config, inputs, ctx, extract_json, _instructions(config, JSON_INSTRUCTIONS))


# ---------------------------------------------------------------- structured
def _check_against(schema: dict[str, Any]) -> Any:
    def parse(text: str) -> Any:
        value = extract_json(text)
        found = problems(value, schema)
        if found:
            n = len(found)
            raise ParseError(f"the output does not match the schema ({n} problem{'s' if n > 1 else ''})"
                             + ("" if n > 1 else f": {found[0]}"), found)
        return value
    return parse


@node("parser.structured", title="Structured output parser", config=StructuredParserConfig, inputs=INPUTS,
      outputs=output_ports(lambda c: instructions_for(c.schema())),
      description="Reads a JSON object from the model's output and checks it against a JSON schema or a "
                  "list of fields, listing every problem.")
async def structured_parser(config: StructuredParserConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    schema = config.schema()
    return await parse_or_repair(config, inputs, ctx, _check_against(schema),
                                 _instructions(config, instructions_for(schema)))


# ---------------------------------------------------------------- list
class ListParserConfig(ParserConfig):
    separator: Literal["auto", "comma", "line"] = Field(
        "auto", description="auto: one item per line when there are several lines, else comma-separated.")
    min_items: int = Field(1, ge=0, le=10_000, description="Fewer items than this is a parse failure.")
    max_items: int | None = Field(None, ge=1, le=10_000, description="Keep at most this many items.")


def _list_instructions(config: ListParserConfig) -> str:
    if config.separator == "line":
        return "Answer with one item per line, and nothing else."
    return "Answer with the items on one line, separated by commas (e.g. `red, green, blue`), and nothing else."


def _list_parse(config: ListParserConfig) -> Any:
    def parse(text: str) -> list[str]:
        items = parse_list(text, config.separator)
        if len(items) < config.min_items:
            raise ParseError(f"the output has {len(items)} item(s); at least {config.min_items} are needed")
        return items[:config.max_items] if config.max_items else items
    return parse


@node("parser.list", title="List parser", config=ListParserConfig, inputs=INPUTS,
      outputs=output_ports(_list_instructions),
      description="Reads a comma-separated or one-per-line list; bullets, numbering and quotes are removed.")
async def list_parser(config: ListParserConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    return await parse_or_repair(config, inputs, ctx, _list_parse(config),
                                 _instructions(config, _list_instructions(config)))


# ---------------------------------------------------------------- regex
class RegexParserConfig(ParserConfig):
    pattern: str = Field(r"(?P<label>\w+)", min_length=1, max_length=500,
                         description="A regular expression with named groups, e.g. Label: (?P<label>\\w+).")
    ignore_case: bool = Field(False, description="Match letters regardless of case.")
    every: bool = Field(False, description="Return every match (a list) instead of the first.")

    @field_validator("pattern")
    @classmethod
    def _named_groups(cls, value: str) -> str:
        if not compile_pattern(value).groupindex:
            raise ValueError(f"pattern {value!r} has no named group; name what to keep, e.g. (?P<label>\\w+)")
        return value


def _regex_instructions(config: RegexParserConfig) -> str:
    return f"Answer in a form that matches this regular expression: {config.pattern}"


@node("parser.regex", title="Regex parser", config=RegexParserConfig, inputs=INPUTS,
      outputs=output_ports(_regex_instructions),
      description="Takes the named groups of a regular expression from the model's output, as an object "
                  "(or a list of them).")
async def regex_parser(config: RegexParserConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    pattern = compile_pattern(config.pattern, config.ignore_case)
    return await parse_or_repair(config, inputs, ctx, lambda text: parse_regex(text, pattern, every=config.every),
                                 _instructions(config, _regex_instructions(config)))


SPECS = (json_parser, structured_parser, list_parser, regex_parser)
