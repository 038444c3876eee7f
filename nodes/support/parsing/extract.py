"""Reading structured values out of messy model output: JSON, lists and regex groups.

Models wrap JSON in code fences, put a sentence before it or after it, number
their list items or bullet them. These functions take what is meant and leave
the rest; when there is nothing to take they raise ParseError saying what was
expected and where it went wrong (for JSON: line, column and the line itself, in
the model's output as it came).
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

MAX_SHOWN = 120
MAX_STARTS = 20
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)(?:\n[ \t]*```|\Z)", re.DOTALL)
_ITEM_MARK = re.compile(r"^\s*(?:[-*•+]|\d+[.)]|[a-z][.)]|and|or)\s+")
_QUOTES = "\"'`“”‘’"


class ParseError(ValueError):
    """Output that does not hold what the parser expects. `problems` lists each one found."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or [message]


@dataclass(frozen=True, slots=True)
class Location:
    line: int
    column: int
    text: str  # the whole line

    def describe(self) -> str:
        shown = self.text if len(self.text) <= MAX_SHOWN else self.text[:MAX_SHOWN] + "…"
        return f"line {self.line}, column {self.column}: {shown.strip()!r}"


def locate(text: str, offset: int) -> Location:
    """1-based line and column of `offset` in `text`, with that line."""
    line = text.count("\n", 0, offset) + 1
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    return Location(line, offset - start + 1, text[start:end if end != -1 else len(text)])


def _candidates(text: str) -> list[int]:
    """Where JSON may start: inside the first fenced block, else at each { or [ (the first few)."""
    fence = _FENCE.search(text)
    if fence:
        start = fence.start(2)
        return [start + len(fence.group(2)) - len(fence.group(2).lstrip())]
    return [m.start() for m in re.finditer(r"[{\[]", text)][:MAX_STARTS]


def extract_json(text: str) -> Any:
    """The first JSON object or array in `text` (fenced or surrounded by prose); ParseError otherwise.

    When no start parses, the error reported is the one that got furthest into the text:
    that is where the model's JSON went wrong.
    """
    stripped = text.strip()
    if not stripped:
        raise ParseError("the output is empty; expected JSON")
    try:
        return json.loads(stripped, strict=False)  # raw newlines inside strings are fine (LangChain's too)
    except ValueError:
        pass
    starts = _candidates(text)
    if not starts:
        raise ParseError(f"the output holds no JSON object or array (no '{{' or '['): {_shorten(stripped)!r}")
    decoder = json.JSONDecoder(strict=False)
    errors: list[json.JSONDecodeError] = []
    for start in starts:
        try:
            return decoder.raw_decode(text, start)[0]
        except json.JSONDecodeError as err:
            errors.append(err)
    furthest = max(errors, key=lambda err: err.pos)  # the first of equals, like the model's first try
    where = locate(text, furthest.pos)
    reason = furthest.msg.removesuffix(" at")  # "Invalid control character at" already ends in "at"
    raise ParseError(f"the output is not valid JSON: {reason} at {where.describe()}")


def parse_list(text: str, separator: Literal["auto", "comma", "line"] = "auto") -> list[str]:
    """Items of a comma-separated or one-per-line list; bullets, numbers, quotes and a lead-in line
    ending in ':' are removed."""
    body = _unfence(text).strip()
    if not body:
        raise ParseError("the output is empty; expected a list")
    lines = [ln for ln in body.splitlines() if ln.strip()]
    by_line = separator == "line" or (separator == "auto" and len(lines) > 1)
    if by_line and len(lines) > 1 and lines[0].rstrip().endswith(":"):
        lines = lines[1:]  # a lead-in such as "Here are the items:"
    raw = lines if by_line else _comma_items(body)
    items = [_clean_item(item) for item in raw]
    return [item for item in items if item]


def _comma_items(body: str) -> list[str]:
    """Comma-separated items read as CSV, so "Paris, France" in double quotes stays one item (as in
    LangChain's CommaSeparatedListOutputParser)."""
    try:
        return [item for row in csv.reader(io.StringIO(body), skipinitialspace=True) for item in row]
    except csv.Error:
        return body.split(",")


Groups = dict[str, str | None]


def parse_regex(text: str, pattern: re.Pattern[str], *, every: bool = False) -> Groups | list[Groups]:
    """The named groups of the first match (or of every match); ParseError when nothing matches.

    An optional group that did not take part in the match is None (null), as in LangChain's RegexParser.
    """
    matches = [m.groupdict() for m in pattern.finditer(text)] if every else []
    if not every:
        first = pattern.search(text)
        matches = [first.groupdict()] if first else []
    if not matches:
        raise ParseError(f"the output does not match the pattern {pattern.pattern!r}: {_shorten(text.strip())!r}")
    return matches if every else matches[0]


def _unfence(text: str) -> str:
    fence = _FENCE.search(text)
    return fence.group(2) if fence else text


def _clean_item(item: str) -> str:
    item = _ITEM_MARK.sub("", item).strip()  # a trailing period is kept: "U.S." stays "U.S."
    if len(item) >= 2 and item[0] in _QUOTES and item[-1] in _QUOTES:
        item = item[1:-1].strip()
    return item


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "…"
