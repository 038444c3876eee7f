"""The provider layer under every language-model node: one request shape, one result shape.

A chat model is anything with `async complete(request, on_token) -> Completion`:
it sends `request.messages`, calls `on_token` with each piece of text as it
arrives (once with the whole text when not streaming) and returns the full text
with token usage, the model's own name, why it stopped and the tool calls it asked
for. `json_mode` asks for a JSON object, `tools` offers functions to call and
`text_mode` asks for the provider's text-completion endpoint where it has one
(others answer the prompt as a chat). Providers raise PermanentError for what
retrying cannot fix (auth, bad request, unknown model) and ProviderError for what
may pass (rate limits, server errors, timeouts, the network).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from engine.errors import ChainloomError
from nodes.support.messages import Message, ToolCall

__all__ = ["ChatModel", "ChatRequest", "Completion", "Message", "ProviderError", "ToolCall", "ToolSpec",
           "TokenSink", "Usage", "apply_limits", "chat_messages", "count_words", "emit_words"]

TokenSink = Callable[[str], None]
ToolChoice = Literal["auto", "required", "none"]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the model may call: its name, what it does and a JSON schema of its arguments."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """What to ask: the conversation and the sampling settings."""

    messages: tuple[Message, ...]
    model: str = ""
    temperature: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    stream: bool = True
    timeout_s: float = 60.0
    json_mode: bool = False
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice = "auto"
    text_mode: bool = False

    @property
    def prompt_text(self) -> str:
        return "\n".join(m.content for m in self.messages)


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class Completion:
    """What came back. `usage` is None when the provider did not say; `cost` (USD) when the
    model is in the price table; `extra["retries"]` lists the failed attempts before it."""

    text: str
    usage: Usage | None
    model: str
    finish_reason: str | None = None
    extra: dict[str, object] = field(default_factory=dict)
    tool_calls: tuple[ToolCall, ...] = ()
    cost: float | None = None

    def message(self) -> Message:
        """The answer as an assistant message, ready to append to the conversation."""
        return Message("assistant", self.text, self.tool_calls)


class ChatModel(Protocol):
    """A chat model behind one provider. Implementations are cheap to create, per call."""

    provider: str

    async def complete(self, request: ChatRequest, on_token: TokenSink) -> Completion: ...


class ProviderError(ChainloomError):
    """A provider call failed in a way that may pass; the node's retry policy may try again.

    `status` is the HTTP status when there was one; `retry_after` the seconds the
    server asked us to wait, when it said.
    """

    def __init__(self, message: str, *, hint: str = "", status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.retry_after = retry_after


def count_words(text: str) -> int:
    """Whitespace-separated words: the offline models' stand-in for a token count."""
    return len(text.split())


def chat_messages(prompt: str, system: str | None = None) -> tuple[Message, ...]:
    """The conversation for a single prompt, with an optional system message first."""
    if system:
        return (Message("system", system), Message("user", prompt))
    return (Message("user", prompt),)


def apply_limits(text: str, stop: Sequence[str], max_tokens: int | None) -> tuple[str, str]:
    """Cut `text` at the first stop sequence or after `max_tokens` words, as a server would."""
    finish = "stop"
    cuts = [i for i in (text.find(s) for s in stop if s) if i != -1]
    if cuts:
        text = text[:min(cuts)]
    if max_tokens is not None and count_words(text) > max_tokens:
        words = re.findall(r"\s*\S+", text)
        text, finish = "".join(words[:max_tokens]), "length"
    return text, finish


async def emit_words(text: str, on_token: TokenSink, *, stream: bool = True) -> None:
    """Send `text` to `on_token` word by word (each piece keeps its leading space), or whole."""
    if not stream:
        on_token(text)
        return
    for piece in re.findall(r"\s*\S+(?:\s+$)?", text) or [text]:
        on_token(piece)
        await asyncio.sleep(0)  # let sibling branches and the live view run between words
