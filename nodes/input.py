"""Flow inputs: the `input.*` nodes, where a run's values come in.

An input node reads the caller's value for its `name` (or its `default`) and
passes it on. Text inputs take text (numbers are written out); JSON inputs take a
JSON value, and a string given to one (as the CLI gives) is read as JSON text.
`input.chat` also gives the run's session id (for memory), and `input.file` reads
the file at a path inside the allowed folder by its type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from engine.errors import FlowInputError
from engine.fields import Where
from engine.node import FlowInputConfig, NodeSpec, node
from engine.ports import Port, PortType
from nodes.support import readers
from nodes.support.messages import as_messages
from nodes.support.paths import display, resolve_path
from nodes.support.values import as_text, json_value

if TYPE_CHECKING:
    from engine.context import RunContext

DEFAULT_SESSION = "default"


class TextInputConfig(FlowInputConfig):
    default: str | None = Field(None, description="Text used when the caller gives none.",
                                max_length=100_000, json_schema_extra={"widget": "textarea"})


class JSONInputConfig(FlowInputConfig):
    default: Any = Field(None, description="JSON value used when the caller gives none "
                         "(a string here is read as JSON text).")

    @field_validator("default")
    @classmethod
    def _default_is_json(cls, value: Any) -> Any:
        return None if value is None else json_value(value, "default")


class ChatInputConfig(FlowInputConfig):
    name: str = Field("message", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$",
                      description="Name of this flow input, used by callers to pass the message.")
    default: str | None = Field(None, max_length=100_000, description="Message used when the caller gives none.")


class FileInputConfig(FlowInputConfig):
    default: str | None = Where(kind="path", default=None, max_length=4096,
                                description="Path used when the caller gives none (inside the allowed folder).")


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
        return {"data": json_value(_given(config, ctx), f"flow input '{config.name}'")}
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
        return {"messages": list(as_messages(json_value(value, label) if value is not None else []))}
    except ValueError as err:
        raise FlowInputError(f"{label} is not a conversation: {err}", hint=(
            f"""pass a JSON list, e.g. --input {config.name}='[{{"role": "user", "content": "hi"}}]'""")) from err


@node("input.chat", title="Chat input", config=ChatInputConfig, role="input", blocking=False, cacheable=False,
      outputs=[Port("message", PortType.TEXT, "The user's message."),
               Port("session", PortType.TEXT, "The conversation's session id (for memory).")],
      description="The user's chat message, with the session id of the conversation it belongs to.")
def chat_input(config: ChatInputConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    value = ctx.flow_inputs.get(config.name, config.default)
    if isinstance(value, bool) or not isinstance(value, str | int | float | None):
        raise FlowInputError(f"flow input '{config.name}' takes a chat message (text); got a {type(value).__name__}")
    return {"message": as_text(value), "session": ctx.session_id or DEFAULT_SESSION}


@node("input.file", title="File input", config=FileInputConfig, role="input", cacheable=False,
      description="A file given by whoever runs the flow, as a path inside an allowed folder "
                  "(the folders in CHAINLOOM_FILES_ROOT, the working directory); read by its type: text, "
                  "Markdown, PDF, CSV, JSON/JSONL, HTML.",
      outputs=(Port("documents", PortType.DOCUMENTS, "The file's documents."),
               Port("text", PortType.TEXT, "All of the file's text."),
               Port("path", PortType.TEXT, "The file's path as shown in sources.")))
def file_input(config: FileInputConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    raw = ctx.flow_inputs.get(config.name, config.default)
    label = f"flow input '{config.name}'"
    if not isinstance(raw, str) or not raw:
        raise FlowInputError(f"{label} takes a file path; got {type(raw).__name__}",
                             hint=f"pass --input {config.name}=path/to/file")
    path = resolve_path(raw, field=config.name, label=label)
    if not path.is_file():
        raise FlowInputError(f"{label}: '{raw}' (resolved to {path}) is not a file", hint="give a file, not a folder")
    docs = readers.read_any(path, display(path))
    return {"documents": docs, "text": "\n\n".join(d.text for d in docs), "path": display(path)}



SPECS: tuple[NodeSpec, ...] = (text_input, json_input, messages_input, chat_input, file_input)
