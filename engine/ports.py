"""Typed ports: what flows along an edge.

A port has a name, a type from `PortType` and, for inputs, whether it must be
connected and whether it gathers many edges into a list. Two ports fit when their
types are equal or either is `Any`; nothing is ever coerced silently. A `static`
output is known from the node's config alone (its `default` is the value): it is
sent at the start of the run, so its edges do not order the nodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PortType(StrEnum):
    """The kinds of value that travel along edges. Values are the names users see."""

    ANY = "Any"
    TEXT = "Text"
    NUMBER = "Number"
    BOOL = "Bool"
    JSON = "JSON"
    MESSAGE = "Message"
    MESSAGES = "Messages"
    DOCUMENTS = "Documents"
    EMBEDDINGS = "Embeddings"
    VECTOR_STORE = "VectorStore"
    RETRIEVER = "Retriever"
    LANGUAGE_MODEL = "LanguageModel"
    MEMORY = "Memory"
    TOOL = "Tool"


def fits(source: PortType, target: PortType) -> bool:
    """True when a value of type `source` may be sent into a port of type `target`."""
    return source == target or PortType.ANY in (source, target)


@dataclass(frozen=True, slots=True)
class Port:
    """One named, typed socket of a node.

    `required` applies to inputs: an unconnected required input is a validation
    error, and a skipped one skips the node. `multiple` inputs accept any number of
    edges and receive a list of the values that arrived, in edge order. `default`
    is what an unconnected optional input receives. A `static` output's value is its
    `default`, delivered when the run starts, before the node itself runs (a
    parser's format instructions can so feed the prompt upstream of the parser).
    """

    name: str
    type: PortType
    description: str = ""
    required: bool = True
    multiple: bool = False
    default: object = None
    static: bool = False

    def label(self) -> str:
        return f"{self.name} ({self.type.value}{', many' if self.multiple else ''})"

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "type": self.type.value,
            "description": self.description,
            "required": self.required,
            "multiple": self.multiple,
            **({"static": True} if self.static else {}),
        }
