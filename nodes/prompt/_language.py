"""The prompt family's template language: plain variable names, and nothing else.

`{name}` is a variable; `{{` and `}}` are literal braces. Attribute or index
access, conversions, format specs and positional fields are refused when the
config is validated (never at run time), so a template cannot reach into the
objects it formats. Values are inserted literally in one pass: a value holding
`{other}` stays exactly that text. `str.format` is never used. The chat and
few-shot prompts build on the same parser (`variable_ports`, `fill_template`), and
`detect_variables` lets a form show a template's variables as they are typed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Self

from pydantic import Field, model_validator

from engine.node import NodeConfig
from engine.ports import Port, PortType
from nodes.support.values import as_text

MAX_TEMPLATE_CHARS = 100_000
MAX_VARIABLES = 64
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REFUSED = {
    ".": "attribute access",
    "[": "index access",
    "!": "a conversion",
    ":": "a format spec",
}


class TemplateError(ValueError):
    """A template that is not made of plain `{name}` variables and literal text."""


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template: literal text and variable names, alternating."""

    parts: tuple[str, ...]   # literal, name, literal, name, ..., literal
    variables: tuple[str, ...]  # unique names, in order of first use

    def render(self, values: dict[str, str]) -> str:
        out = []
        for i, part in enumerate(self.parts):
            out.append(values[part] if i % 2 else part)
        return "".join(out)


def _placeholder_problem(body: str) -> str | None:
    """Why `{body}` is not a plain variable, or None when it is one."""
    shown = f"'{{{body if len(body) <= 60 else body[:57] + '...'}}}'"
    digits = len(body) - len(body.lstrip("0123456789"))
    if digits == len(body) or body[digits] in _REFUSED:
        return f"placeholder {shown} is positional; name the variable instead, e.g. {{question}}"
    name = _NAME.match(body)
    if name and name.end() < len(body) and body[name.end()] in _REFUSED:
        return (f"placeholder {shown} uses {_REFUSED[body[name.end()]]}, which templates do not "
                f"allow; use a plain variable such as {{{name.group()}}}")
    if not name or name.end() != len(body):
        return (f"placeholder {shown} is not a variable name; use letters, digits and _, starting "
                "with a letter or _ (write {{ and }} for literal braces)")
    return None


@lru_cache(maxsize=512)
def parse_template(text: str) -> Template:
    """Split `text` into literals and variables; TemplateError names the first bad placeholder."""
    parts: list[str] = []
    literal: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "{}" and text.startswith(ch * 2, i):
            literal.append(ch)
            i += 2
        elif ch == "}":
            raise TemplateError(f"single '}}' at position {i}; write '}}}}' for a literal brace")
        elif ch == "{":
            end = text.find("}", i + 1)
            if end == -1:
                raise TemplateError(f"'{{' at position {i} is never closed; write '{{{{' for a literal brace")
            body = text[i + 1:end]
            if "{" in body:
                raise TemplateError(f"'{{' at position {i} opens a placeholder that holds another '{{'; "
                                    "placeholders cannot nest (write '{{' for a literal brace)")
            problem = _placeholder_problem(body)
            if problem:
                raise TemplateError(problem)
            parts.extend(("".join(literal), body))
            literal = []
            i = end + 1
        else:
            literal.append(ch)
            i += 1
    parts.append("".join(literal))
    variables = tuple(dict.fromkeys(parts[1::2]))
    if len(variables) > MAX_VARIABLES:
        raise TemplateError(f"template has {len(variables)} variables; the limit is {MAX_VARIABLES}")
    return Template(tuple(parts), variables)


def detect_variables(text: str) -> tuple[list[str], str | None]:
    """(variables in order of first use, None), or ([], why the template is refused). Never raises."""
    try:
        return list(parse_template(text).variables), None
    except TemplateError as err:
        return [], str(err)


def variable_ports(names: Sequence[str], defaults: Mapping[str, str]) -> list[Port]:
    """One Text input per variable; a variable with a default is optional."""
    return [Port(name, PortType.TEXT, f"Value for {{{name}}}.", required=name not in defaults,
                 default=defaults.get(name)) for name in names]


def fill_template(template: Template, inputs: Mapping[str, Any], defaults: Mapping[str, str]) -> str:
    """`template` with each variable's input value (or its default), as text."""
    return template.render({name: as_text(inputs.get(name, defaults.get(name))) for name in template.variables})


def check_defaults(defaults: Mapping[str, str], variables: Sequence[str]) -> None:
    unknown = [k for k in defaults if k not in variables]
    if unknown:
        raise ValueError(f"defaults names '{unknown[0]}', which is not a variable of the template; "
                         f"variables are: {', '.join(variables) or 'none'}")


def defaults_field() -> Any:
    return Field(default_factory=dict, description="Values for variables left unconnected; a variable listed "
                                                   "here is optional.")


class TemplatedConfig(NodeConfig):
    """Base of the prompt configs: each has `defaults` and `variables()`, and defaults name variables."""

    @model_validator(mode="after")
    def _defaults_name_variables(self) -> Self:
        check_defaults(getattr(self, "defaults", {}), self.variables())
        return self

    def variables(self) -> list[str]:
        """The Text variables, in order of first use: the node's input ports (and what a form shows)."""
        raise NotImplementedError
