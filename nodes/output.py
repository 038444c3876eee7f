"""Flow outputs: the `output.*` nodes, where a run's results leave.

An output node returns what reaches its `value` port under its `name`: text,
any JSON value, or (for `output.chat`) the reply as an assistant message,
{"role": "assistant", "content": ...}, which the UI's chat playground shows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from engine.node import FlowOutputConfig, NodeSpec, node
from engine.ports import Port, PortType
from nodes.support.values import as_text, check_json

if TYPE_CHECKING:
    from engine.context import RunContext


class TextOutputConfig(FlowOutputConfig):
    pass


class JSONOutputConfig(FlowOutputConfig):
    pass


class ChatOutputConfig(FlowOutputConfig):
    name: str = Field("reply", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$",
                      description="Name under which the reply is returned.")


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


@node("output.chat", title="Chat output", config=ChatOutputConfig, role="output", blocking=False,
      cacheable=False, inputs=[Port("message", PortType.TEXT, "The reply to show in the chat.")],
      description="Returns the reply as an assistant chat message.")
def chat_output(config: ChatOutputConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    return {"value": {"role": "assistant", "content": as_text(inputs["message"])}}


SPECS: tuple[NodeSpec, ...] = (text_output, json_output, chat_output)
