"""From a node's ModelConfig to a configured model and a request.

`build_model` is the one place a provider name turns into an object: it resolves
`auto`, reads the key through the run context (a missing variable names the config
field and the variable), and wraps the provider in a ConfiguredModel (settings,
retries, cost). `build_request` makes the request for a conversation from the same
config. Vendor SDKs are imported inside their provider modules, on first call.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from engine.errors import PermanentError, SecretMissing
from nodes.support.messages import Message
from nodes.support.providers.base import ChatModel, ChatRequest
from nodes.support.providers.cohere_chat import CohereModel
from nodes.support.providers.config import DEFAULT_COHERE_MODEL, DEFAULT_OPENAI_MODEL, KEY_VARIABLES, ModelConfig
from nodes.support.providers.model import ConfiguredModel
from nodes.support.providers.offline import MODEL_NAME as OFFLINE_MODEL
from nodes.support.providers.offline import OfflineModel
from nodes.support.providers.openai_compat import OpenAICompatModel
from nodes.support.providers.scripted import ScriptedModel

if TYPE_CHECKING:
    from engine.context import RunContext

DEFAULT_MODELS = {"offline": OFFLINE_MODEL, "scripted": "", "openai": DEFAULT_OPENAI_MODEL,
                  "cohere": DEFAULT_COHERE_MODEL}
BASE_URL_ENV = "CHAINLOOM_LLM_BASE_URL"   # provider auto: an OpenAI-compatible server ...
MODEL_ENV = "CHAINLOOM_LLM_MODEL"         # ... its model name ...
SERVER_KEY_ENV = "CHAINLOOM_LLM_API_KEY"  # ... and its key, when it wants one


def key_variable(config: ModelConfig) -> str:
    """The variable holding the key: as named, else the provider's own (none for a base_url server)."""
    if config.api_key_env or config.base_url:
        return config.api_key_env
    return KEY_VARIABLES.get(config.provider, "")


def _key(config: ModelConfig, ctx: RunContext) -> str:
    name = key_variable(config)
    if not name:
        return ""
    try:
        return ctx.secret(name, field="api_key_env")
    except SecretMissing as err:
        if config.api_key_env:
            hint = err.hint + ("; for a local server that needs no key (Ollama, llama.cpp), clear "
                               "api_key_env instead" if config.base_url or config.provider == "openai" else "")
            raise SecretMissing(err.message, hint=hint) from err
        raise SecretMissing(
            f"node '{ctx.node_id}': provider {config.provider} reads its key from {name} (config field "
            "'api_key_env' is empty), which is not set",
            hint=f"export {name}=..., name another variable in api_key_env, or choose provider offline") from err


def _is_set(ctx: RunContext, name: str) -> bool:
    try:
        ctx.secret(name)
    except SecretMissing:
        return False
    return True


def resolve_auto(config: ModelConfig, ctx: RunContext) -> ModelConfig:
    """For provider auto, the config of the first configured provider; others come back as they are."""
    if config.provider != "auto":
        return config
    update: dict[str, object]
    if _is_set(ctx, KEY_VARIABLES["openai"]):
        update = {"provider": "openai", "base_url": "", "api_key_env": ""}
    elif _is_set(ctx, KEY_VARIABLES["cohere"]):
        update = {"provider": "cohere", "base_url": "", "api_key_env": ""}
    elif url := os.environ.get(BASE_URL_ENV, ""):
        update = {"provider": "openai", "base_url": url, "model": config.model or os.environ.get(MODEL_ENV, ""),
                  "api_key_env": SERVER_KEY_ENV if _is_set(ctx, SERVER_KEY_ENV) else ""}
    else:
        update = {"provider": "offline"}
    chosen = config.model_copy(update=update)
    ctx.step("provider", chosen=chosen.provider, base_url=chosen.base_url, model=chosen.model or "(default)")
    return chosen


def _offline(config: ModelConfig, ctx: RunContext) -> ChatModel:
    return OfflineModel()


def _scripted(config: ModelConfig, ctx: RunContext) -> ChatModel:
    return ScriptedModel(config.responses, ctx.state())


def _openai(config: ModelConfig, ctx: RunContext) -> ChatModel:
    return OpenAICompatModel(api_key=_key(config, ctx), base_url=config.base_url, key_env=key_variable(config))


def _cohere(config: ModelConfig, ctx: RunContext) -> ChatModel:
    return CohereModel(api_key=_key(config, ctx), base_url=config.base_url, key_env=key_variable(config))


_BUILDERS: dict[str, Callable[[ModelConfig, RunContext], ChatModel]] = {
    "offline": _offline,
    "scripted": _scripted,
    "openai": _openai,
    "cohere": _cohere,
}


def model_name(config: ModelConfig, ctx: RunContext) -> str:
    """The model to ask for: as configured, else the provider's default (servers have none)."""
    if config.model:
        return config.model
    if config.provider == "openai" and config.base_url and "api.openai.com" not in config.base_url:
        raise PermanentError(f"node '{ctx.node_id}': the server at {config.base_url} needs a model name",
                             hint=f"set model (e.g. llama3.2 for Ollama), or {MODEL_ENV} with provider auto")
    return DEFAULT_MODELS[config.provider]


def build_model(config: ModelConfig, ctx: RunContext) -> ConfiguredModel:
    """The configured model for `config`, with its key read now (SecretMissing names the variable)."""
    config = resolve_auto(config, ctx)
    name = model_name(config, ctx)
    return ConfiguredModel(_BUILDERS[config.provider](config, ctx), config, name)


def build_request(config: ModelConfig, messages: tuple[Message, ...]) -> ChatRequest:
    """The request for `messages` with `config`'s settings (the model name as build_model picks it)."""
    return ChatRequest(messages=messages, model=config.model or DEFAULT_MODELS.get(config.provider, ""),
                       temperature=config.temperature, max_tokens=config.max_tokens,
                       stop=tuple(config.stop), seed=config.seed, stream=config.stream,
                       timeout_s=config.timeout_s, json_mode=config.json_mode)
