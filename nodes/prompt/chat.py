"""`prompt.chat`: a conversation template - system, human and AI messages, and history slots.

Each message is a role and a template (the same safe `{name}` templates as
`prompt.template`); a `placeholder` message names a Messages input (e.g.
`history`) whose messages are spliced in at that point. Text variables become
Text inputs, placeholders Messages inputs (optional: an empty history is normal).
The output is the filled conversation as Messages, and as plain text (one
"Role: content" line per message, joined by one newline as
LangChain's ChatPromptTemplate's format method does) for text models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from engine.errors import PermanentError
from engine.node import NodeConfig, node
from engine.ports import Port, PortType
from nodes.prompt._language import TemplatedConfig, defaults_field, fill_template, parse_template, variable_ports
from nodes.support.messages import Message, as_messages, parse_role

if TYPE_CHECKING:
    from engine.context import RunContext

ChatRole = Literal["system", "human", "ai", "user", "assistant", "placeholder"]
_LABELS = {"system": "System", "user": "Human", "assistant": "AI", "tool": "Tool"}


class ChatMessageTemplate(NodeConfig):
    role: ChatRole = Field(description="system, human or ai (user/assistant also work); placeholder "
                                       "inserts the messages of the input named in content.")
    content: str = Field(max_length=100_000, description="The message, with {variables}; for a "
                         "placeholder, the name of its Messages input (e.g. history).",
                         json_schema_extra={"widget": "prompt"})

    @model_validator(mode="after")
    def _check(self) -> ChatMessageTemplate:
        if self.role == "placeholder":
            name = self.content.strip().removeprefix("{").removesuffix("}")
            if not name.isidentifier() or not name.isascii():
                raise ValueError(f"placeholder content {self.content!r} must be the name of a Messages input, "
                                 "e.g. history")
            self.content = name
        else:
            parse_template(self.content)
        return self


def _default_messages() -> list[ChatMessageTemplate]:
    return [ChatMessageTemplate(role="system", content="You are a helpful assistant."),
            ChatMessageTemplate(role="placeholder", content="history"),
            ChatMessageTemplate(role="human", content="{question}")]


class ChatPromptConfig(TemplatedConfig):
    messages: list[ChatMessageTemplate] = Field(default_factory=_default_messages, min_length=1, max_length=200,
                                                description="The conversation, in order.")
    defaults: dict[str, str] = defaults_field()

    @field_validator("messages")
    @classmethod
    def _distinct_names(cls, value: list[ChatMessageTemplate]) -> list[ChatMessageTemplate]:
        slots = [m.content for m in value if m.role == "placeholder"]
        texts = {v for m in value if m.role != "placeholder" for v in parse_template(m.content).variables}
        clash = next((s for s in slots if s in texts or slots.count(s) > 1), None)
        if clash:
            raise ValueError(f"'{clash}' is used twice (as a placeholder and a variable, or by two "
                             "placeholders); give each its own name")
        return value

    def variables(self) -> list[str]:
        """Text variables of every message, in order of first use (the Text input ports)."""
        names = (v for m in self.messages if m.role != "placeholder" for v in parse_template(m.content).variables)
        return list(dict.fromkeys(names))

    def placeholders(self) -> list[str]:
        return [m.content for m in self.messages if m.role == "placeholder"]


def _inputs(config: ChatPromptConfig) -> list[Port]:
    slots = [Port(name, PortType.MESSAGES, f"Messages inserted at the {name} placeholder.", required=False)
             for name in config.placeholders()]
    return variable_ports(config.variables(), config.defaults) + slots


def as_transcript(messages: tuple[Message, ...]) -> str:
    """A conversation as text, one "Role: content" line per message (LangChain's ChatPromptTemplate's format method)."""
    return "\n".join(f"{_LABELS[m.role]}: {m.content}" for m in messages)


@node("prompt.chat", title="Chat prompt", config=ChatPromptConfig,
      description="Builds a conversation from system, human and AI message templates, with placeholders "
                  "where history (or any Messages) is inserted.",
      inputs=_inputs,
      outputs=[Port("messages", PortType.MESSAGES, "The filled conversation, for a chat model."),
               Port("text", PortType.TEXT, "The same conversation as text, for a text model.")],
      blocking=False)
def chat_prompt(config: ChatPromptConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    out: list[Message] = []
    for m in config.messages:
        if m.role == "placeholder":
            try:
                out.extend(as_messages(inputs.get(m.content)))
            except ValueError as err:
                raise PermanentError(f"node '{ctx.node_id}': input '{m.content}': {err}") from err
        else:
            out.append(Message(parse_role(m.role), fill_template(parse_template(m.content), inputs, config.defaults)))
    messages = tuple(out)
    return {"messages": messages, "text": as_transcript(messages)}


SPECS = (chat_prompt,)
