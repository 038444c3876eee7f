"""Property forms generated from a node's config JSON schema, as pure functions.

`form_fields(schema)` describes one widget per config field: text, multi-line
text, prompt editor (`json_schema_extra={"widget": "prompt"}`), integer/number with
bounds, select (enums, Literals), multiselect, checkbox, list (one item per line),
JSON, and secret fields (`json_schema_extra={"secret": True}`) shown as the NAME of
an environment variable, never its value. `parse_widget` turns what a widget holds
back into a config value (or raises FieldError), and `config_errors` maps the
config model's validation errors onto fields so the form can show them inline.
`essential(field)` splits a form into the fields most flows set and the advanced
rest; `applies(field, config)` hides provider-specific fields for other providers;
`with_field(model, config, field, value)` writes one field, where an empty value
means "use the default" and never overwrites it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from engine.node import SECRET_NAME_PATTERN

FieldKind = Literal["text", "textarea", "prompt", "integer", "number", "select", "multiselect",
                    "bool", "list", "json", "secret"]
LONG_TEXT = 300          # prose fields allowed to be longer than this get a multi-line box
# Strings that hold prose (several lines make sense); every other string is one line
# (paths, URLs, names, globs, models) and refuses line breaks.
PROSE = re.compile(r"^(description|query|script|format_instructions|default|text|system|instructions|"
                   r"template|message|content|prefix|suffix|separator)$")
# Fields most flows set, shown first; the rest is folded under "Advanced".
ESSENTIAL = frozenset({
    "name", "default", "provider", "model", "base_url", "api_key_env", "responses", "tools", "template",
    "messages", "path", "glob", "url", "query", "collection", "chunk_size", "k", "steps", "routes",
    "branches", "key", "mode", "flow", "node_type", "node_config", "dimension", "search_type", "levels",
    "script", "fields", "json_schema", "pattern", "examples", "prefix", "suffix", "example_template",
    "description", "kind", "source", "where", "allowed_hosts", "records_path", "text_field",
    "content_columns", "language", "separator",
})
# Fields that only mean something for some providers (on nodes with a `provider` field).
PROVIDER_FIELDS: dict[str, frozenset[str]] = {
    "model": frozenset({"openai", "cohere", "auto"}),
    "base_url": frozenset({"openai", "auto"}),
    "api_key_env": frozenset({"openai", "cohere", "auto"}),
    "seed": frozenset({"openai", "auto"}),
    "responses": frozenset({"scripted"}),
}
_SECRET_NAME = re.compile(SECRET_NAME_PATTERN)
_MISSING = object()


class FieldError(ValueError):
    """A widget holds something that cannot become the field's value; says how to fix it."""


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    kind: FieldKind
    help: str = ""
    required: bool = False
    default: Any = None
    nullable: bool = False
    minimum: float | None = None
    maximum: float | None = None
    options: tuple[Any, ...] = ()
    item_kind: str = "text"          # for lists: text | integer | number
    max_length: int | None = None
    loose: bool = False              # untyped (Any): plain text unless it parses as JSON
    provider_gated: bool = False     # shown only for the providers in PROVIDER_FIELDS


def _resolve(node: Mapping[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    """Follow a `$ref` (and a single-item allOf) into `$defs`, keeping local keys."""
    out = dict(node)
    for _ in range(8):
        ref = out.pop("$ref", None)
        if ref is None and isinstance(out.get("allOf"), list) and len(out["allOf"]) == 1:
            ref = out.pop("allOf")[0].get("$ref")
        if not ref:
            return out
        target = defs.get(str(ref).rsplit("/", 1)[-1], {})
        out = {**target, **out}
    return out


def _split_nullable(node: dict[str, Any], defs: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    variants = node.get("anyOf") or node.get("oneOf")
    if not isinstance(variants, list):
        if isinstance(node.get("type"), list) and "null" in node["type"]:
            rest = [t for t in node["type"] if t != "null"]
            return {**node, "type": rest[0] if len(rest) == 1 else rest}, True
        return node, False
    others = [_resolve(v, defs) for v in variants if v.get("type") != "null"]
    nullable = len(others) < len(variants)
    if len(others) == 1:
        merged = {k: v for k, v in node.items() if k not in ("anyOf", "oneOf")}
        return {**others[0], **merged}, nullable
    return {k: v for k, v in node.items() if k not in ("anyOf", "oneOf")} | {"type": "__union__"}, nullable


def _bounds(node: Mapping[str, Any], integer: bool) -> tuple[float | None, float | None]:
    lo, hi = node.get("minimum"), node.get("maximum")
    if node.get("exclusiveMinimum") is not None:
        lo = node["exclusiveMinimum"] + 1 if integer else node["exclusiveMinimum"]
    if node.get("exclusiveMaximum") is not None:
        hi = node["exclusiveMaximum"] - 1 if integer else node["exclusiveMaximum"]
    return lo, hi


def _kind(node: Mapping[str, Any], defs: Mapping[str, Any], name: str = "") -> tuple[FieldKind, dict[str, Any]]:
    extra: dict[str, Any] = {}
    if node.get("secret"):
        return "secret", extra
    if "enum" in node or "const" in node:
        extra["options"] = tuple(node.get("enum") or [node.get("const")])
        return "select", extra
    kind = node.get("type")
    if kind == "boolean":
        return "bool", extra
    if kind in ("integer", "number"):
        extra["minimum"], extra["maximum"] = _bounds(node, kind == "integer")
        return ("integer" if kind == "integer" else "number"), extra
    if kind == "string":
        extra["max_length"] = node.get("maxLength")
        if node.get("widget") == "prompt":
            return "prompt", extra
        prose = bool(PROSE.match(name)) and (node.get("maxLength") or LONG_TEXT + 1) > LONG_TEXT
        long_text = node.get("widget") == "textarea" or prose
        return ("textarea" if long_text else "text"), extra
    if kind == "array":
        items = _resolve(node.get("items") or {}, defs)
        if "enum" in items:
            extra["options"] = tuple(items["enum"])
            return "multiselect", extra
        if items.get("type") in ("string", "integer", "number"):
            extra["item_kind"] = {"string": "text"}.get(items["type"], items["type"])
            return "list", extra
        return "json", extra
    if kind is None and "type" not in node:
        extra["loose"] = True
    return "json", extra


def form_fields(schema: Mapping[str, Any]) -> list[FormField]:
    """One FormField per property of a config model's JSON schema, in declaration order."""
    defs = schema.get("$defs") or {}
    required = set(schema.get("required") or [])
    gated = "provider" in (schema.get("properties") or {})
    fields = []
    for name, raw in (schema.get("properties") or {}).items():
        node, nullable = _split_nullable(_resolve(raw, defs), defs)
        kind, extra = _kind(node, defs, name)
        if kind == "select" and nullable and None not in extra["options"]:
            extra["options"] = (None, *extra["options"])
        fields.append(FormField(
            name=name, label=str(raw.get("title") or node.get("title") or name.replace("_", " ").title()),
            kind=kind, help=str(raw.get("description") or node.get("description") or ""),
            required=name in required, default=raw.get("default", node.get("default")),
            nullable=nullable, provider_gated=gated and name in PROVIDER_FIELDS, **extra))
    return fields


def essential(field: FormField) -> bool:
    """Shown first: required fields, prompts and the fields most flows set."""
    return field.required or field.kind == "prompt" or field.name in ESSENTIAL


def applies(field: FormField, config: Mapping[str, Any]) -> bool:
    """False for a provider-specific field while another provider is chosen."""
    if not field.provider_gated:
        return True
    return str(config.get("provider", "offline")) in PROVIDER_FIELDS[field.name]


def with_field(model: type[BaseModel], config: Mapping[str, Any], field: FormField, value: Any) -> dict[str, Any]:
    """`config` with one field set; an empty value on an optional field means its default."""
    out = dict(config)
    empty = value is None or (isinstance(value, str) and value.strip() == "") or \
        (field.kind in ("json", "list") and value in ([], {}))
    if empty and not field.required:
        out.pop(field.name, None)
    else:
        out[field.name] = value
    return stored_config(model, out)


# ---------------------------------------------------------------- values
def widget_value(field: FormField, value: Any = _MISSING) -> Any:
    """What the widget should show for a stored config value (or the field default)."""
    if value is _MISSING:
        value = field.default
    if field.kind in ("text", "textarea", "prompt", "secret"):
        return "" if value is None else str(value)
    if field.kind == "list":
        return "\n".join(str(v) for v in value or [])
    if field.kind == "multiselect":
        return [v for v in value or [] if v in field.options]
    if field.kind == "json":
        if value is None:
            return ""
        if field.loose and isinstance(value, str):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False)
    if field.kind == "bool":
        return bool(value)
    if field.kind in ("integer", "number"):
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    return value


def parse_widget(field: FormField, raw: Any) -> Any:
    """The config value a widget's content stands for; FieldError when it cannot be one."""
    if field.kind in ("text", "textarea", "prompt"):
        text = "" if raw is None else str(raw)
        if field.kind == "text" and ("\n" in text or "\r" in text):
            raise FieldError(f"'{field.label}' is one line (a path, URL or name); remove the line breaks")
        return None if text == "" and field.nullable else text
    if field.kind == "secret":
        return _secret_name(field, raw)
    if field.kind == "list":
        return _list(field, raw)
    if field.kind == "json":
        return _json(field, raw)
    if field.kind in ("integer", "number"):
        if raw is None:
            if field.nullable:
                return None
            raise FieldError(f"'{field.label}' needs a number")
        return int(raw) if field.kind == "integer" else float(raw)
    if field.kind == "bool":
        return bool(raw)
    if field.kind == "multiselect":
        return list(raw or [])
    return raw


def _secret_name(field: FormField, raw: Any) -> str:
    name = str(raw or "").strip()
    if name and not _SECRET_NAME.match(name):
        raise FieldError(
            f"'{field.label}' takes the NAME of an environment variable (letters, digits and _, "
            f"like OPENAI_API_KEY), never the secret itself; export the key in the shell that "
            f"runs chainloom and type its name here")
    return name


def _list(field: FormField, raw: Any) -> list[Any]:
    lines = [line.strip() for line in str(raw or "").splitlines()]
    items = [line for line in lines if line]
    if field.item_kind == "text":
        return items
    convert = int if field.item_kind == "integer" else float
    out = []
    for n, item in enumerate(items, 1):
        try:
            out.append(convert(item))
        except ValueError as err:
            raise FieldError(f"'{field.label}' line {n}: '{item}' is not a number") from err
    return out


def _json(field: FormField, raw: Any) -> Any:
    text = str(raw or "").strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError as err:
        if field.loose:
            return str(raw)
        raise FieldError(f"'{field.label}' is not valid JSON: {err}") from err


def config_errors(model: type[BaseModel], values: Mapping[str, Any]) -> dict[str, list[str]]:
    """Validation messages of `values` against the config model, by top-level field
    ("" for problems of the whole config)."""
    try:
        model.model_validate(dict(values))
    except ValidationError as err:
        out: dict[str, list[str]] = {}
        for e in err.errors():
            loc = [str(p) for p in e["loc"]]
            key = loc[0] if loc else ""
            where = ".".join(loc[1:])
            msg = e["msg"] if not where else f"{where}: {e['msg']}"
            if e["type"] == "extra_forbidden":
                msg = f"unknown field; valid fields are: {', '.join(model.model_fields)}"
            out.setdefault(key, []).append(msg)
        return out
    return {}


def stored_config(model: type[BaseModel], values: Mapping[str, Any]) -> dict[str, Any]:
    """What the flow file keeps: required fields and values that differ from their default."""
    out = {}
    for name, value in values.items():
        info = model.model_fields.get(name)
        if info is None or info.is_required():
            out[name] = value
            continue
        default = info.get_default(call_default_factory=True)
        if isinstance(default, BaseModel):
            default = default.model_dump(mode="json")
        if value != default:
            out[name] = value
    return out
