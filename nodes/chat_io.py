"""Chat input and chat output: the ends of a conversational flow.

`input.chat` takes the user's message (like a text input) and also gives the
session id the run belongs to (the CLI's --session, the API's session_id, the
UI's chat session; "default" when none), which memory nodes key on. The chat
playground in the UI looks for this node. `output.chat` returns the reply as an
assistant message, {"role": "assistant", "content": ...}.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from engine.errors import FlowInputError
from engine.node import FlowInputConfig, FlowOutputConfig, NodeSpec, node
from engine.ports import Port, PortType
from nodes.values import as_text

if TYPE_CHECKING:
    from engine.context import RunContext

DEFAULT_SESSION = "default"


class ChatInputConfig(FlowInputConfig):
    name: str = Field("message", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$",
                      description="Name of this flow input, used by callers to pass the message.")
    default: str | None = Field(None, max_length=100_000, description="Message used when the caller gives none.")


class ChatOutputConfig(FlowOutputConfig):
    name: str = Field("reply", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$",
                      description="Name under which the reply is returned.")


@node("input.chat", title="Chat input", config=ChatInputConfig, role="input", blocking=False, cacheable=False,
      outputs=[Port("message", PortType.TEXT, "The user's message."),
               Port("session", PortType.TEXT, "The conversation's session id (for memory).")],
      description="The user's chat message, with the session id of the conversation it belongs to.")
def chat_input(config: ChatInputConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    value = ctx.flow_inputs.get(config.name, config.default)
    if isinstance(value, bool) or not isinstance(value, str | int | float | None):
        raise FlowInputError(f"flow input '{config.name}' takes a chat message (text); got a {type(value).__name__}")
    return {"message": as_text(value), "session": ctx.session_id or DEFAULT_SESSION}


@node("output.chat", title="Chat output", config=ChatOutputConfig, role="output", blocking=False,
      cacheable=False, inputs=[Port("message", PortType.TEXT, "The reply to show in the chat.")],
      description="Returns the reply as an assistant chat message.")
def chat_output(config: ChatOutputConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    return {"value": {"role": "assistant", "content": as_text(inputs["message"])}}


SPECS: tuple[NodeSpec, ...] = (chat_input, chat_output)
