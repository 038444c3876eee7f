"""Structured output: a JSON schema (given, or built from a list of fields) and its checks.

A node's config holds either a JSON schema or a pydantic-like field list (name,
type, description, required, choices); the list becomes a schema here. The schema
is checked when the config is validated, and values are checked with `jsonschema`,
listing every problem with where it is (`$.items[2].price: -1 is less than the
minimum of 0`), so a repair request can name them all.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import jsonschema
from pydantic import Field

from engine.node import NodeConfig

FieldType = Literal["string", "integer", "number", "boolean", "array", "object"]
MAX_PROBLEMS = 20


class FieldSpec(NodeConfig):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="Field name.")
    type: FieldType = Field("string", description="JSON type of the value.")
    description: str = Field("", max_length=1000, description="What the value means (shown to the model).")
    required: bool = Field(True, description="The object must have this field.")
    choices: list[str | int | float] = Field(default_factory=list, max_length=200,
                                             description="The only values allowed (empty: any).")
    items: FieldType | None = Field(None, description="array only: the type of its items.")


def schema_from_fields(fields: list[FieldSpec]) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for f in fields:
        prop: dict[str, Any] = {"type": f.type}
        if f.description:
            prop["description"] = f.description
        if f.choices:
            prop["enum"] = list(f.choices)
        if f.type == "array" and f.items:
            prop["items"] = {"type": f.items}
        properties[f.name] = prop
    return {"type": "object", "properties": properties, "required": [f.name for f in fields if f.required],
            "additionalProperties": False}


def check_schema(schema: dict[str, Any]) -> None:
    """ValueError naming the problem when `schema` is not a valid JSON schema."""
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as err:
        where = "".join(f"[{p!r}]" for p in err.path) or "the top level"
        raise ValueError(f"json_schema is not a valid JSON schema at {where}: {err.message}") from err


def problems(value: Any, schema: dict[str, Any]) -> list[str]:
    """Every way `value` breaks `schema`, each with its JSON path; empty when it fits."""
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(value), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    return [f"{e.json_path}: {e.message}" for e in errors[:MAX_PROBLEMS]]


def instructions_for(schema: dict[str, Any]) -> str:
    return ("Answer with one JSON value that matches this JSON schema, and nothing else (no prose, no code "
            "fence needed):\n" + json.dumps(schema, indent=2, ensure_ascii=False))
