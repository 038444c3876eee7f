"""How node values become text: one rule shared by every node that takes Text.

Ports are typed, but an `Any` output may feed a `Text` input; such values are
turned into text here, the same way everywhere: strings as they are, None as "",
numbers and booleans by `str`, messages by their content, and containers as JSON.
Numbers are read from text the same way everywhere too, and user-written regular
expressions are compiled (length-capped) in one place, and JSON values given by
callers are read and checked (finite numbers only) in one place.
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from typing import Any

# A name that becomes a port or a flow input: a Python-style identifier, at most 64 characters.
IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"


def as_text(value: Any) -> str:
    """The text form of a port value (never raises)."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return str(value)
    content = getattr(value, "content", None)
    if isinstance(content, str):
        return content
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


def as_number(value: Any) -> float | None:
    """A finite number from a number or numeric text; None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


MAX_PATTERN_CHARS = 500


@lru_cache(maxsize=256)
def compile_pattern(pattern: str, ignore_case: bool = False) -> re.Pattern[str]:
    """Compile a user's regular expression; ValueError (with the reason) when it is invalid."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise ValueError(f"pattern is {len(pattern)} characters; the limit is {MAX_PATTERN_CHARS}")
    try:
        return re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    except re.error as err:
        raise ValueError(f"pattern {pattern!r} is not a valid regular expression: {err}") from err


def check_branch_names(names: list[str], default: str, *, kind: str, default_field: str) -> None:
    """Router output names must be unique and differ from the default's; ValueError otherwise."""
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"{kind} name '{dupes[0]}' is used twice; {kind} names must be unique")
    if default in names:
        raise ValueError(f"{default_field} '{default}' is also a {kind} name; give the default its own name")


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed in JSON (numbers must be finite)")


def json_value(value: Any, label: str) -> Any:
    """A JSON value from JSON text or an already-decoded value; ValueError when neither."""
    if isinstance(value, str | bytes):
        try:
            return json.loads(value, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as err:
            raise ValueError(f"{label} is not valid JSON: {err}") from err
    return check_json(value, label)


def check_json(value: Any, label: str) -> Any:
    """`value` itself when it is made of JSON types only (finite numbers); else ValueError."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as err:
        raise ValueError(f"{label} is a {type(value).__name__}, which is not a JSON value: {err}") from err
    return value
