"""The model a node talks to: the LanguageModel input when one is connected, else its own config.

Memory, routers, agents and chains all call a model the same way: `model_for`
picks the model, `ask` sends a conversation with the node's sampling settings,
streams tokens into the node's trace when asked, and records token usage on the
node that asked. `MODEL_PORT` is the optional input every such node offers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.ports import Port, PortType
from nodes.llms.base import ChatModel, Completion, chat_messages
from nodes.llms.config import ModelConfig
from nodes.llms.providers import build_model, build_request
from nodes.messages import Message

if TYPE_CHECKING:
    from engine.context import RunContext

MODEL_PORT = Port("model", PortType.LANGUAGE_MODEL, "A model to use instead of the one configured here.",
                  required=False)


def model_for(config: ModelConfig, inputs: dict[str, Any], ctx: RunContext) -> ChatModel:
    given = inputs.get("model")
    if given is not None and hasattr(given, "complete"):
        return given  # type: ignore[no-any-return]
    return build_model(config, ctx)


async def ask(model: ChatModel, config: ModelConfig, messages: tuple[Message, ...] | str, ctx: RunContext,
              *, stream: bool = False, **changes: Any) -> Completion:
    """One model call; usage lands on `ctx`'s node. `changes` override request fields (e.g. tools)."""
    import dataclasses  # noqa: PLC0415

    convo = chat_messages(messages) if isinstance(messages, str) else messages
    request = build_request(config, convo)
    if changes:
        request = dataclasses.replace(request, **changes)
    completion = await model.complete(request, ctx.token if stream else _discard)
    if completion.usage is not None:
        ctx.usage(prompt_tokens=completion.usage.prompt_tokens,
                  completion_tokens=completion.usage.completion_tokens,
                  cost=getattr(completion, "cost", None), model=completion.model)
    return completion


def _discard(_piece: str) -> None:
    pass
