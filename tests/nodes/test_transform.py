"""transform.text: each declarative step, the order they apply in, and config-time checks."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from nodes.transform import TransformConfig, transform_text


def apply(steps: list[dict[str, Any]], text: Any) -> str:
    out = transform_text.run(TransformConfig(steps=steps), {"text": text}, None)
    return out["text"]


@pytest.mark.parametrize(("step", "given", "expected"), [
    ({"op": "strip"}, "  hi \n", "hi"),
    ({"op": "lower"}, "HeLLo", "hello"),
    ({"op": "upper"}, "HeLLo", "HELLO"),
    ({"op": "title"}, "don't STOP me-now", "Don't Stop Me-now"),
    ({"op": "replace", "old": "a", "new": "o"}, "banana", "bonono"),
    ({"op": "replace", "old": "a", "new": "o", "count": 1}, "banana", "bonana"),
    ({"op": "regex_replace", "pattern": r"(\w+)@(\w+)\.com", "repl": r"\2:\1"}, "mail bob@ex.com", "mail ex:bob"),
    ({"op": "regex_replace", "pattern": r"(?P<n>\d+)", "repl": r"<\g<n>>", "count": 1}, "1 2", "<1> 2"),
    ({"op": "regex_replace", "pattern": "X", "repl": "", "ignore_case": True}, "axbX", "ab"),
    ({"op": "truncate", "max_chars": 5}, "abcdefgh", "abcde"),
    ({"op": "truncate", "max_chars": 5, "suffix": "..."}, "abcdefgh", "ab..."),
    ({"op": "truncate", "max_chars": 5, "suffix": "..."}, "abcde", "abcde"),
    ({"op": "truncate", "max_chars": 2, "suffix": "..."}, "abcdefgh", "ab"),
    ({"op": "prepend", "text": "> "}, "quote", "> quote"),
    ({"op": "append", "text": "!"}, "wow", "wow!"),
    ({"op": "collapse_whitespace"}, "  a \n\n b\tc  ", "a b c"),
])
def test_each_step(step: dict[str, Any], given: str, expected: str) -> None:
    assert apply([step], given) == expected


def test_steps_apply_in_order_and_no_steps_is_identity() -> None:
    steps = [{"op": "strip"}, {"op": "lower"}, {"op": "replace", "old": " ", "new": "-"},
             {"op": "append", "text": ".md"}]
    assert apply(steps, "  My Note Title ") == "my-note-title.md"
    assert apply([], " as is ") == " as is "


def test_replacement_text_is_not_a_template() -> None:
    assert apply([{"op": "replace", "old": "x", "new": "{y.__class__}"}], "x") == "{y.__class__}"


@pytest.mark.parametrize(("step", "message"), [
    ({"op": "eval", "code": "1+1"},
     "Input tag 'eval' found using 'op' does not match any of the expected tags: 'strip', 'lower', "
     "'upper', 'title', 'replace', 'regex_replace', 'truncate', 'prepend', 'append', 'collapse_whitespace'"),
    ({"op": "regex_replace", "pattern": "(a", "repl": ""},
     "Value error, pattern '(a' is not a valid regular expression: missing ), unterminated subpattern at position 0"),
    ({"op": "regex_replace", "pattern": "(a)", "repl": r"\2"},
     "Value error, replacement '\\\\2' does not fit pattern '(a)': invalid group reference 2 at position 1"),
    ({"op": "regex_replace", "pattern": "(a)", "repl": r"\g<name>"},
     "Value error, replacement '\\\\g<name>' does not fit pattern '(a)': unknown group name 'name'"),
    ({"op": "replace", "old": "", "new": "x"}, "String should have at least 1 character"),
    ({"op": "truncate", "max_chars": -1}, "Input should be greater than or equal to 0"),
    ({"op": "upper", "extra": 1}, "Extra inputs are not permitted"),
])
def test_bad_steps_are_refused_at_config_time(step: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        TransformConfig(steps=[step])
    assert caught.value.errors()[0]["msg"] == message
