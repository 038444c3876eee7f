"""A chat message: a role and its text. Chat models take a list of them.

Kept deliberately small: later features (tool calls, names, images) add optional
fields here rather than new types, so every provider reads one shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]
ROLES: tuple[str, ...] = ("system", "user", "assistant", "tool")


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"message role must be one of {', '.join(ROLES)}; got {self.role!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "content": self.content}

    def to_preview(self) -> dict[str, Any]:
        return self.to_dict()
