"""From a node's ModelConfig to a ChatModel and a ChatRequest.

`build_model` is the one place a provider name turns into an object; the next
providers (Cohere, `auto`) are added to `_BUILDERS`. Secrets are read here, through
the run context, so that a missing variable names the config field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from engine.errors import SecretMissing
from nodes.llms.base import ChatModel, ChatRequest
from nodes.llms.config import DEFAULT_OPENAI_MODEL, ModelConfig
from nodes.llms.offline import MODEL_NAME as OFFLINE_MODEL
from nodes.llms.offline import OfflineModel
from nodes.llms.openai_compat import OpenAICompatModel
from nodes.llms.scripted import ScriptedModel
from nodes.messages import Message

if TYPE_CHECKING:
    from engine.context import RunContext

DEFAULT_MODELS = {"offline": OFFLINE_MODEL, "scripted": "", "openai": DEFAULT_OPENAI_MODEL}


def _offline(config: ModelConfig, ctx: RunContext) -> ChatModel:
    return OfflineModel()


def _scripted(config: ModelConfig, ctx: RunContext) -> ChatModel:
    return ScriptedModel(config.responses, ctx.state())


def _openai(config: ModelConfig, ctx: RunContext) -> ChatModel:
    key = ""
    if config.api_key_env:
        try:
            key = ctx.secret(config.api_key_env, field="api_key_env")
        except SecretMissing as err:
            raise SecretMissing(err.message, hint=f"{err.hint}; for a local server that needs no key "
                                "(Ollama, llama.cpp), clear api_key_env instead") from err
    return OpenAICompatModel(api_key=key, base_url=config.base_url, key_env=config.api_key_env)


_BUILDERS: dict[str, Callable[[ModelConfig, RunContext], ChatModel]] = {
    "offline": _offline,
    "scripted": _scripted,
    "openai": _openai,
}


def build_model(config: ModelConfig, ctx: RunContext) -> ChatModel:
    return _BUILDERS[config.provider](config, ctx)


def build_request(config: ModelConfig, messages: tuple[Message, ...]) -> ChatRequest:
    return ChatRequest(messages=messages, model=config.model or DEFAULT_MODELS[config.provider],
                       temperature=config.temperature, max_tokens=config.max_tokens,
                       stop=tuple(config.stop), seed=config.seed, stream=config.stream,
                       timeout_s=config.timeout_s)
