"""The language-model nodes: `llm.chat`, `llm.text` and `llm.model`.

`llm.chat` sends a conversation (history on `messages`, then `system`, then the
`prompt` as the user's turn) and returns the answer as text, as a message, as the
tool calls it asked for and as the whole conversation. `llm.text` is the
text-completion flavour (a prompt continued; OpenAI's legacy completions for
text models). `llm.model` hands a configured model to other nodes (parsers that
repair output, RAG chains, agents) over a LanguageModel edge. Answers stream
through the run context; token usage and estimated cost go to the node's trace.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from engine.errors import PermanentError
from engine.fields import Where
from engine.node import NodeConfig, node
from engine.ports import Port, PortType
from nodes.support.messages import Message, as_messages
from nodes.support.providers.base import ToolSpec
from nodes.support.providers.build import build_model
from nodes.support.providers.config import ModelConfig
from nodes.support.providers.model import send_request
from nodes.support.values import as_text

if TYPE_CHECKING:
    from engine.context import RunContext


class ToolDefinition(NodeConfig):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
                      description="Function name the model calls.")
    description: str = Field("", max_length=2000, description="What the function does, for the model.")
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}},
                                       description="JSON schema of the arguments.")


class ChatConfig(ModelConfig):
    tools: list[ToolDefinition] = Where(kind="tool", default_factory=list, max_length=128,
                                        description="Functions the model may ask to call; the calls come "
                                                    "out on `tool_calls` (nothing is executed here).")
    tool_choice: Literal["auto", "required", "none"] = Field(
        "auto", description="auto: the model decides; required: it must call a tool; none: it must not.")


class TextConfig(ModelConfig):
    pass


def _conversation(inputs: dict[str, Any], node_id: str) -> tuple[Message, ...]:
    try:
        history = as_messages(inputs.get("messages"))
    except ValueError as err:
        raise PermanentError(f"node '{node_id}': input 'messages': {err}") from err
    system, prompt = as_text(inputs.get("system")), as_text(inputs.get("prompt"))
    conversation = ((Message("system", system),) if system else ()) + history
    if prompt:
        conversation += (Message("user", prompt),)
    if not history and not prompt:
        raise PermanentError(f"node '{node_id}': there is nothing to send: 'prompt' and 'messages' are empty",
                             hint="connect a prompt (Text) or a conversation (Messages)")
    return conversation


@node("llm.chat", title="Chat model", config=ChatConfig,
      description="Sends a conversation to a chat model and returns its answer, streaming. Providers: "
                  "offline (extractive, no key), scripted, OpenAI or any OpenAI-compatible server "
                  "(Ollama, llama.cpp, vLLM, LM Studio), Cohere, or auto.",
      inputs=[Port("prompt", PortType.TEXT, "The user's turn.", required=False),
              Port("system", PortType.TEXT, "Instructions that frame the conversation.", required=False),
              Port("messages", PortType.MESSAGES, "Earlier conversation (or a chat prompt), sent before "
                   "the prompt.", required=False)],
      outputs=[Port("text", PortType.TEXT, "The model's answer."),
               Port("message", PortType.MESSAGE, "The answer as an assistant message (with tool calls)."),
               Port("tool_calls", PortType.JSON, "Tool calls asked for: [{id, name, arguments}]."),
               Port("messages", PortType.MESSAGES, "The conversation sent, followed by the answer.")])
async def llm_chat(config: ChatConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    conversation = _conversation(inputs, ctx.node_id)
    model = build_model(config, ctx)
    tools = tuple(ToolSpec(t.name, t.description, t.parameters) for t in config.tools)
    request = dataclasses.replace(model.request(conversation), tools=tools, tool_choice=config.tool_choice)
    completion = await send_request(model, request, ctx)
    if completion.tool_calls:
        ctx.step("tool_calls", calls=[c.to_dict() for c in completion.tool_calls])
    answer = completion.message()
    return {"text": completion.text, "message": answer,
            "tool_calls": [c.to_dict() for c in completion.tool_calls],
            "messages": (*conversation, answer)}


@node("llm.text", title="Text model", config=TextConfig,
      description="Continues a prompt with a text-completion model (OpenAI's legacy completions, e.g. "
                  "gpt-3.5-turbo-instruct, or a local server's text models); providers without one answer "
                  "the prompt as a chat.",
      inputs=[Port("prompt", PortType.TEXT, "The text to continue.")],
      outputs=[Port("text", PortType.TEXT, "The continuation.")])
async def llm_text(config: TextConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    model = build_model(config, ctx)
    request = model.request((Message("user", as_text(inputs["prompt"])),), text_mode=True)
    completion = await send_request(model, request, ctx)
    return {"text": completion.text}


@node("llm.model", title="Language model", config=ModelConfig,
      description="A configured model (provider, name, sampling, retries) for nodes that call a model "
                  "themselves: parsers that repair output, answer-from-documents chains, agents.",
      outputs=[Port("model", PortType.LANGUAGE_MODEL, "The configured model.")],
      blocking=False, cacheable=False)
def llm_model(config: ModelConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    return {"model": build_model(config, ctx)}


SPECS = (llm_chat, llm_text, llm_model)
