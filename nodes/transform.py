"""Declarative text transforms: a list of named steps, applied in order.

Each step is data (`{"op": "replace", "old": "a", "new": "b"}`), checked when the
config is validated (regexes compiled, group references resolved); there is no
way to run code from a flow. Text in, text out.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, model_validator

from engine.node import NodeConfig, node
from engine.ports import Port, PortType
from nodes.support.values import as_text, compile_pattern

if TYPE_CHECKING:
    from engine.context import RunContext

_WORD = re.compile(r"\S+")
_SPACES = re.compile(r"\s+")


class _Step(NodeConfig):
    def apply(self, text: str) -> str:
        raise NotImplementedError


class Strip(_Step):
    """Remove whitespace at both ends."""

    op: Literal["strip"]

    def apply(self, text: str) -> str:
        return text.strip()


class Lower(_Step):
    op: Literal["lower"]

    def apply(self, text: str) -> str:
        return text.lower()


class Upper(_Step):
    op: Literal["upper"]

    def apply(self, text: str) -> str:
        return text.upper()


class Title(_Step):
    """Capitalise the first letter of each word, lower-case the rest ("don't" stays "Don't")."""

    op: Literal["title"]

    def apply(self, text: str) -> str:
        return _WORD.sub(lambda m: m[0][:1].upper() + m[0][1:].lower(), text)


class Replace(_Step):
    op: Literal["replace"]
    old: str = Field(min_length=1, max_length=10_000, description="Exact text to find.")
    new: str = Field("", max_length=100_000, description="Text to put in its place.")
    count: int = Field(0, ge=0, description="Replace at most this many (0 = all).")

    def apply(self, text: str) -> str:
        return text.replace(self.old, self.new, self.count or -1)


class RegexReplace(_Step):
    op: Literal["regex_replace"]
    pattern: str = Field(min_length=1, description="Regular expression to find.")
    repl: str = Field("", max_length=100_000, description=r"Replacement; \1 or \g<name> insert groups.")
    count: int = Field(0, ge=0, description="Replace at most this many (0 = all).")
    ignore_case: bool = False

    @model_validator(mode="after")
    def _compiles(self) -> RegexReplace:
        compile_pattern(self.pattern, self.ignore_case)
        try:  # the empty alternative always matches, so the replacement's group references get checked
            re.compile(self.pattern + "\n|").sub(self.repl, "")
        except (re.error, IndexError) as err:
            raise ValueError(f"replacement {self.repl!r} does not fit pattern {self.pattern!r}: {err}") from err
        return self

    def apply(self, text: str) -> str:
        return compile_pattern(self.pattern, self.ignore_case).sub(self.repl, text, count=self.count)


class Truncate(_Step):
    op: Literal["truncate"]
    max_chars: int = Field(ge=0, le=10_000_000, description="Longest result, in characters.")
    suffix: str = Field("", max_length=100, description="Appended when text was cut (counted in max_chars).")

    def apply(self, text: str) -> str:
        if len(text) <= self.max_chars:
            return text
        if len(self.suffix) >= self.max_chars:
            return text[:self.max_chars]
        return text[:self.max_chars - len(self.suffix)] + self.suffix


class Prepend(_Step):
    op: Literal["prepend"]
    text: str = Field(max_length=100_000)

    def apply(self, text: str) -> str:
        return self.text + text


class Append(_Step):
    op: Literal["append"]
    text: str = Field(max_length=100_000)

    def apply(self, text: str) -> str:
        return text + self.text


class CollapseWhitespace(_Step):
    """Turn every run of whitespace (newlines included) into one space and strip the ends."""

    op: Literal["collapse_whitespace"]

    def apply(self, text: str) -> str:
        return _SPACES.sub(" ", text).strip()


Step = Annotated[Strip | Lower | Upper | Title | Replace | RegexReplace | Truncate | Prepend | Append
                 | CollapseWhitespace, Field(discriminator="op")]


class TransformConfig(NodeConfig):
    steps: list[Step] = Field(default_factory=list, max_length=50,
                              description="Applied in order, each to the result of the one before.")


@node("transform.text", title="Text transform", config=TransformConfig,
      description="Cleans or reshapes text with declarative steps (strip, case, replace, regex "
                  "replace, truncate, prepend/append, collapse whitespace). Runs no code.",
      inputs=[Port("text", PortType.TEXT, "Text to transform.")],
      outputs=[Port("text", PortType.TEXT, "The transformed text.")],
      blocking=False)
def transform_text(config: TransformConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    text = as_text(inputs["text"])
    for step in config.steps:
        text = step.apply(text)
    return {"text": text}


SPECS = (transform_text,)
