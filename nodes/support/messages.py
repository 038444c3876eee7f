"""Chat messages: a role and its text, plus the tool calls an assistant asked for.

Every provider reads this one shape (each translates it to its own wire format).
A Messages port carries a tuple of Message. `as_messages` is the one rule that
turns port values into messages: a Message, text (a user message), a dict such as
{"role": "human", "content": "..."} or a list of any of these. The roles `human`
and `ai` are accepted as spellings of `user` and `assistant`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

Role = Literal["system", "user", "assistant", "tool"]
ROLES: tuple[str, ...] = ("system", "user", "assistant", "tool")
ROLE_ALIASES = {"human": "user", "ai": "assistant"}


def parse_role(role: str) -> Role:
    """`role` as one of ROLES (accepting human/ai); ValueError naming the choices."""
    name = ROLE_ALIASES.get(role, role)
    if name not in ROLES:
        raise ValueError(f"message role must be one of {', '.join(ROLES)} (or human, ai); got {role!r}")
    return cast(Role, name)


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function the model asked to call, with its arguments decoded from JSON."""

    id: str
    name: str
    arguments: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "arguments": self.arguments}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ToolCall:
        args = raw.get("arguments") or {}
        if isinstance(args, str):
            args = decode_arguments(args)
        return cls(str(raw.get("id") or ""), str(raw["name"]), dict(args))


def decode_arguments(raw: str) -> dict[str, Any]:
    """A tool call's JSON arguments as a dict; text that is not a JSON object is kept under `_raw`."""
    try:
        value = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return {"_raw": raw}
    return value if isinstance(value, dict) else {"_raw": raw}


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str = ""  # on role "tool": which call this message answers

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"message role must be one of {', '.join(ROLES)}; got {self.role!r}")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = [c.to_dict() for c in self.tool_calls]
        if self.tool_call_id:
            out["tool_call_id"] = self.tool_call_id
        return out

    def to_preview(self) -> dict[str, Any]:
        return self.to_dict()

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Message:
        if "role" not in raw:
            raise ValueError(f"a message needs a 'role' and a 'content'; got keys {sorted(raw)}")
        calls = tuple(ToolCall.from_dict(c) for c in raw.get("tool_calls") or ())
        content = raw.get("content")
        return cls(parse_role(str(raw["role"])), "" if content is None else str(content), calls,
                   str(raw.get("tool_call_id") or ""))


def as_messages(value: Any) -> tuple[Message, ...]:
    """The messages a port value stands for (see the module docstring); ValueError otherwise."""
    if value is None:
        return ()
    if isinstance(value, Message | str | Mapping):
        value = [value]
    if not isinstance(value, list | tuple):
        raise ValueError(f"expected messages (a list of role/content pairs); got {type(value).__name__}")
    out = []
    for item in value:
        if isinstance(item, Message):
            out.append(item)
        elif isinstance(item, str):
            out.append(Message("user", item))
        elif isinstance(item, Mapping):
            out.append(Message.from_dict(item))
        else:
            raise ValueError(f"a message must be a Message, text or a role/content mapping; "
                             f"got {type(item).__name__}")
    return tuple(out)
