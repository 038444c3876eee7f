"""The model settings every language-model node shares (provider, model, sampling, limits).

Nodes that call a model subclass `ModelConfig`, so a provider added here reaches
all of them. Secrets are referenced by environment-variable name only.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from engine.node import SECRET_NAME_PATTERN, NodeConfig

Provider = Literal["offline", "scripted", "openai"]
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"


class ModelConfig(NodeConfig):
    provider: Provider = Field(
        "offline", description="offline: built-in extractive model, no key or download; "
        "scripted: replays `responses` (for tests); openai: OpenAI or any OpenAI-compatible "
        "server (Ollama, llama.cpp, vLLM, LM Studio) at `base_url`.")
    model: str = Field("", max_length=200, description=f"Model name; empty means the provider's "
                       f"default ({DEFAULT_OPENAI_MODEL} for openai). Local servers need their own "
                       "model name, e.g. llama3.2 for Ollama.")
    base_url: str = Field("", max_length=2000, description="OpenAI-compatible endpoint; empty means "
                          "api.openai.com. Ollama: http://localhost:11434/v1, llama.cpp: "
                          "http://localhost:8080/v1, vLLM: http://localhost:8000/v1, "
                          "LM Studio: http://localhost:1234/v1.")
    # Not SecretRef(): that helper refuses an empty name when the default is non-empty, and
    # an empty name is how a flow says "this local server needs no key".
    api_key_env: str = Field(
        "OPENAI_API_KEY", pattern=r"^$|" + SECRET_NAME_PATTERN, json_schema_extra={"secret": True},
        description="Name of the environment variable that holds the API key (never the key "
                    "itself). Leave empty for a local server that needs no key.")
    temperature: float = Field(0.7, ge=0, le=2, description="Randomness: 0 is most deterministic.")
    max_tokens: int | None = Field(None, ge=1, le=1_000_000, description="Longest answer, in tokens.")
    stop: list[str] = Field(default_factory=list, max_length=4,
                            description="Stop generating at any of these texts (up to 4).")
    seed: int | None = Field(None, ge=0, le=2**63 - 1, description="Ask for repeatable sampling "
                             "(where the provider supports it).")
    stream: bool = Field(True, description="Show the answer word by word as it is produced.")
    timeout_s: float = Field(60.0, gt=0, le=3600, description="Seconds to wait for the provider.")
    responses: list[str] = Field(default_factory=list, max_length=1000,
                                 description="scripted only: answers replayed in order, one per call.")

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
