"""The model a node talks to: the LanguageModel input when one is connected, else its own config.

Memory, routers, agents and chains call a model the same way: `model_for` picks
the model (a ConfiguredModel from `llm.model`, or one built from the node's own
ModelConfig), `ask` sends a conversation as a request made with the node's
settings, streams tokens into the node's trace when asked, and records usage,
cost and retries on the node that asked (nodes.support.providers.model.send_request).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from engine.issues import Issue
from engine.node import Advice
from engine.ports import Port, PortType
from nodes.support.messages import Message
from nodes.support.providers.base import ChatModel, Completion, chat_messages
from nodes.support.providers.build import build_model, build_request
from nodes.support.providers.config import ModelConfig
from nodes.support.providers.model import ConfiguredModel, send_request

if TYPE_CHECKING:
    from engine.context import RunContext

MODEL_PORT = Port("model", PortType.LANGUAGE_MODEL, "A model to use instead of the one configured here "
                  "(from llm.model).", required=False)


def model_for(config: ModelConfig, inputs: dict[str, Any], ctx: RunContext) -> ChatModel:
    given = inputs.get("model")
    if given is not None and hasattr(given, "complete"):
        return given  # type: ignore[no-any-return]
    return build_model(config, ctx)


async def ask(model: ChatModel, config: ModelConfig, messages: tuple[Message, ...] | str, ctx: RunContext,
              *, stream: bool = False, **changes: Any) -> Completion:
    """One model call; `changes` set request fields (tools, tool_choice, json_mode, ...)."""
    convo = chat_messages(messages) if isinstance(messages, str) else messages
    if isinstance(model, ConfiguredModel):
        request = model.request(convo, **changes)
    else:
        request = dataclasses.replace(build_request(config, convo), **changes)
    return await send_request(model, request, ctx, stream=stream)


def fill_fields(template: str, **values: Any) -> str:
    """Replace the `{name}` fields that `values` names, in one pass; values are inserted literally."""
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0),
                  template)


OFFLINE_HINT = ("connect an llm.model node set to openai, cohere or a local OpenAI-compatible server (Ollama: "
                "provider openai, base_url http://localhost:11434/v1), set this node's provider the same way, or "
                "export OPENAI_API_KEY (or CHAINLOOM_LLM_BASE_URL) and keep provider auto")


def needs_real_model(what: str) -> Advice:
    """NodeSpec.advice for a node that is only useful with a real model: a warning when it would get the
    offline one (provider offline, or auto with no provider configured), naming how to switch."""
    def advise(config: Any, upstream: Mapping[str, Any], secrets: Callable[[str], str | None]) -> list[Issue]:
        source = upstream.get("model")
        provider = getattr(source if source is not None else config, "provider", None)
        if provider == "auto":
            from nodes.support.providers.build import BASE_URL_ENV  # noqa: PLC0415
            from nodes.support.providers.config import KEY_VARIABLES  # noqa: PLC0415

            configured = any(secrets(var) for var in KEY_VARIABLES.values()) or os.environ.get(BASE_URL_ENV)
            provider = None if configured else "offline"
        if provider != "offline":
            return []
        return [Issue("needs_real_model", f"{what}, which the offline model cannot do: offline it only "
                      "gives a stand-in answer", hint=OFFLINE_HINT, field="config.provider"
                      if source is None else None)]
    return advise
