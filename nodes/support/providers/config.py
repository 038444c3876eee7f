"""The model settings every language-model node shares (provider, model, sampling, limits).

Nodes that call a model subclass `ModelConfig`, so a provider added here reaches
all of them. Secrets are referenced by environment-variable name only; an empty
`api_key_env` means the provider's usual variable (OPENAI_API_KEY, COHERE_API_KEY)
at the provider's own endpoint, and no key at all for a server at `base_url`.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from engine.fields import Where
from engine.node import NodeConfig, SecretRef

Provider = Literal["auto", "offline", "scripted", "openai", "cohere"]
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
DEFAULT_COHERE_MODEL = "command-r-08-2024"
KEY_VARIABLES = {"openai": "OPENAI_API_KEY", "cohere": "COHERE_API_KEY"}


class Price(NodeConfig):
    input: float = Field(ge=0, le=10_000, description="USD per million prompt tokens.")
    output: float = Field(ge=0, le=10_000, description="USD per million completion tokens.")


class ScriptedToolCall(NodeConfig):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$", description="Tool to call.")
    arguments: dict[str, Any] = Field(default_factory=dict, description="Its arguments.")


class ScriptedReply(NodeConfig):
    """A scripted answer that may ask for tool calls (plain text answers can be given as strings)."""

    text: str = Field("", max_length=100_000, description="The answer's text.")
    tool_calls: list[ScriptedToolCall] = Field(default_factory=list, max_length=32,
                                               description="Tool calls the model asks for.")


class ModelConfig(NodeConfig):
    provider: Provider = Where(
        kind="provider", default="offline",
description="offline: built-in extractive model, no key or download; scripted: replays "
        "`responses` (tests, demos); openai: OpenAI, or any OpenAI-compatible server (Ollama, llama.cpp, "
        "vLLM, LM Studio) at `base_url`; cohere: Cohere chat; auto: the first configured of "
        "OPENAI_API_KEY, COHERE_API_KEY, CHAINLOOM_LLM_BASE_URL, else offline.")
    model: str = Field("", max_length=200, description=f"Model name; empty means the provider's default "
                       f"({DEFAULT_OPENAI_MODEL} for openai, {DEFAULT_COHERE_MODEL} for cohere). Local "
                       "servers need their own model name, e.g. llama3.2 for Ollama.")
    base_url: str = Where(kind="url", default="", max_length=2000,
                          description="Another endpoint: empty means the provider's "
                          "own. OpenAI-compatible servers: Ollama http://localhost:11434/v1, llama.cpp "
                          "http://localhost:8080/v1, vLLM http://localhost:8000/v1, LM Studio "
                          "http://localhost:1234/v1.")
    api_key_env: str = SecretRef(
        "", allow_empty=True,
        description="Name of the environment variable that holds the API key (never the key itself). "
                    "Empty: OPENAI_API_KEY or COHERE_API_KEY at the provider's own endpoint, and no key "
                    "for a server at base_url.")
    temperature: float = Field(0.7, ge=0, le=2, description="Randomness: 0 is most deterministic.")
    max_tokens: int | None = Field(None, ge=1, le=1_000_000, description="Longest answer, in tokens.")
    stop: list[str] = Field(default_factory=list, max_length=4,
                            description="Stop generating at any of these texts (up to 4).")
    seed: int | None = Field(None, ge=0, le=2**63 - 1, description="Ask for repeatable sampling "
                             "(where the provider supports it).")
    json_mode: bool = Field(False, description="Ask the model to answer with one JSON object.")
    stream: bool = Field(True, description="Show the answer word by word as it is produced.")
    timeout_s: float = Field(60.0, gt=0, le=3600, description="Seconds to wait for the provider to "
                             "answer (and between streamed pieces).")
    retries: int = Field(2, ge=0, le=10, description="Retries after a rate limit (429), a server error "
                         "(5xx), a timeout or a lost connection, with growing waits.")
    max_retry_wait_s: float = Field(60.0, ge=0, le=3600, description="Longest wait a server may ask for "
                                    "(Retry-After); asking for more fails the call at once.")
    price: Price | None = Field(None, description="USD per million tokens, for the cost estimate; empty "
                                "uses the built-in table (or the file named by CHAINLOOM_PRICES).")
    responses: list[str | ScriptedReply] = Field(
        default_factory=list, max_length=1000,
        description="scripted only: answers replayed in order, one per call; an answer may be "
                    '{"text": ..., "tool_calls": [{"name": ..., "arguments": {...}}]}.')

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value):
            raise ValueError(f"base_url {value!r} is not an http(s) URL; e.g. http://localhost:11434/v1")
        if parts.username or parts.password:
            raise ValueError("base_url must not contain a user name or password; put the key in the "
                             "environment variable named by api_key_env")
        return value

    @field_validator("stop")
    @classmethod
    def _no_empty_stop(cls, value: list[str]) -> list[str]:
        if any(not s for s in value):
            raise ValueError("stop sequences must not be empty")
        return value

    @model_validator(mode="after")
    def _scripted_has_responses(self) -> ModelConfig:
        if self.provider == "scripted" and not self.responses:
            raise ValueError("provider 'scripted' replays 'responses', which is empty; add at least one")
        return self
