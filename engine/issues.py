"""A problem found in a flow or its inputs, as a structured record.

Validation returns a list of them, every problem at once; front ends draw them on
the canvas, print them or send them as JSON. An `error` stops the flow from
running; a `warning` (e.g. a secret variable that is not set here) does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from engine.redact import redact_urls

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Issue:
    code: str
    message: str
    node: str | None = None
    port: str | None = None
    hint: str = ""
    severity: Severity = "error"
    field: str | None = None  # what the caller should edit: "config.chunk_size", "inputs.question"

    def __post_init__(self) -> None:
        # Messages may quote config values; a URL's user name and password never show.
        object.__setattr__(self, "message", redact_urls(self.message))
        object.__setattr__(self, "hint", redact_urls(self.hint))

    def __str__(self) -> str:
        where = f"node '{self.node}'" if self.node else "flow"
        if self.port:
            where += f" port '{self.port}'"
        return f"{where}: {self.message}" + (f" ({self.hint})" if self.hint else "")

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "node": self.node, "port": self.port,
                "field": self.field, "message": self.message, "hint": self.hint,
                "severity": self.severity}


def errors(issues: list[Issue]) -> list[Issue]:
    """The issues that stop a run (warnings left out)."""
    return [i for i in issues if i.severity == "error"]
