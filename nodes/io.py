"""Flow inputs and outputs: the `input.*` and `output.*` nodes.

An input node reads the caller's value for its `name` (or its `default`) and
passes it on; an output node returns what reaches its `value` port under its
`name`. Text inputs take text (numbers are written out); JSON inputs take a JSON
value, and a string given to one (as the CLI gives) is read as JSON text.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from engine.errors import FlowInputError
from engine.node import FlowInputConfig, FlowOutputConfig, node
from engine.ports import Port, PortType
from nodes.messages import as_messages
from nodes.values import as_text

if TYPE_CHECKING:
    from engine.context import RunContext


class TextInputConfig(FlowInputConfig):
    default: str | None = Field(None, description="Text used when the caller gives none.",
                                max_length=100_000, json_schema_extra={"widget": "textarea"})


class JSONInputConfig(FlowInputConfig):
    default: Any = Field(None, description="JSON value used when the caller gives none "
                         "(a string here is read as JSON text).")

    @field_validator("default")
    @classmethod
    def _default_is_json(cls, value: Any) -> Any:
        return None if value is None else read_json(value, "default")


class TextOutputConfig(FlowOutputConfig):
    pass


class JSONOutputConfig(FlowOutputConfig):
    pass


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed in JSON (numbers must be finite)")


def read_json(value: Any, label: str) -> Any:
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


def _given(config: FlowInputConfig, ctx: RunContext) -> Any:
    return ctx.flow_inputs.get(config.name, config.default)


@node("input.text", title="Text input", config=TextInputConfig,
      description="A text value given by whoever runs the flow (CLI --input, API, chat box).",
      outputs=[Port("text", PortType.TEXT, "The caller's text, or the default.")],
      role="input", blocking=False, cacheable=False)
def text_input(config: TextInputConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    value = _given(config, ctx)
    if isinstance(value, bool) or not isinstance(value, str | int | float | None):
        raise FlowInputError(f"flow input '{config.name}' takes text; got a {type(value).__name__}",
                             hint="pass a string, or use an input.json node for structured data")
    return {"text": as_text(value)}


@node("input.json", title="JSON input", config=JSONInputConfig,
      description="A JSON value (object, list, number, ...) given by whoever runs the flow; "
                  "text is parsed as JSON.",
      outputs=[Port("data", PortType.JSON, "The caller's JSON value, or the default.")],
      role="input", blocking=False, cacheable=False)
def json_input(config: JSONInputConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    try:
        return {"data": read_json(_given(config, ctx), f"flow input '{config.name}'")}
    except ValueError as err:
        raise FlowInputError(str(err), hint=f"""pass JSON, e.g. --input {config.name}='{{"key": 1}}'""") from err


@node("input.messages", title="Messages input", config=JSONInputConfig,
      description="A conversation given by whoever runs the flow: a JSON list of "
                  '{"role": ..., "content": ...} objects (roles system, user/human, assistant/ai, tool).',
      outputs=[Port("messages", PortType.MESSAGES, "The caller's conversation, or the default.")],
      role="input", blocking=False, cacheable=False)
def messages_input(config: JSONInputConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    label = f"flow input '{config.name}'"
    try:
        value = _given(config, ctx)
        return {"messages": list(as_messages(read_json(value, label) if value is not None else []))}
    except ValueError as err:
        raise FlowInputError(f"{label} is not a conversation: {err}", hint=(
            f"""pass a JSON list, e.g. --input {config.name}='[{{"role": "user", "content": "hi"}}]'""")) from err


@node("output.text", title="Text output", config=TextOutputConfig,
      description="Returns the text that reaches it under its name.",
      inputs=[Port("value", PortType.TEXT, "The text to return.")],
      role="output", blocking=False, cacheable=False)
def text_output(config: TextOutputConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    return {"value": as_text(inputs["value"])}


def _jsonable(value: Any) -> Any:
    for method in ("model_dump", "to_dict"):
        fn = getattr(value, method, None)
        if callable(fn):
            return fn(mode="json") if method == "model_dump" else fn()
    return value


@node("output.json", title="JSON output", config=JSONOutputConfig,
      description="Returns the value that reaches it, as JSON, under its name.",
      inputs=[Port("value", PortType.ANY, "Any JSON-compatible value.")],
      role="output", blocking=False, cacheable=False)
def json_output(config: JSONOutputConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    value = inputs["value"]
    if isinstance(value, list | tuple):
        value = [_jsonable(v) for v in value]
    try:
        return {"value": check_json(_jsonable(value), f"the value for output '{config.name}'")}
    except ValueError as err:
        raise TypeError(str(err)) from err


SPECS = (text_input, json_input, messages_input, text_output, json_output)
