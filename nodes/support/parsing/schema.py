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
from pydantic import Field, field_validator, model_validator

from engine.node import NodeConfig
from nodes.support.parsing.repair import ParserConfig

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
    # extra keys are kept, as LangChain's StructuredOutputParser keeps them
    return {"type": "object", "properties": properties, "required": [f.name for f in fields if f.required]}


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


class StructuredParserConfig(ParserConfig):
    json_schema: dict[str, Any] | None = Field(None, description="The JSON schema the value must match.")
    fields: list[FieldSpec] = Field(default_factory=lambda: [FieldSpec(name="answer", description="The answer.")],
                                    max_length=200,
                                    description="Or: the fields of the object (name, type, description, "
                                                "required, choices), like a pydantic model.")

    @field_validator("json_schema")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            check_schema(value)
        return value

    @model_validator(mode="after")
    def _one_source(self) -> StructuredParserConfig:
        both = self.json_schema is not None and "fields" in self.model_fields_set and self.fields
        if both or (self.json_schema is None and not self.fields):
            raise ValueError("give either json_schema or fields (exactly one of them)")
        return self

    def schema(self) -> dict[str, Any]:  # type: ignore[override]  # pydantic's v1 `schema` is deprecated
        """The JSON schema values must match (as given, or built from the fields)."""
        return self.json_schema if self.json_schema is not None else schema_from_fields(self.fields)
