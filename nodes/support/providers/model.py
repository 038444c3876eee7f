"""A configured model: what `build_model` returns and what a LanguageModel edge carries.

`ConfiguredModel` wraps one provider's ChatModel with the settings of the node
that configured it (model name, sampling, JSON mode, timeout, retries, price). It
is itself a ChatModel: `complete(request, on_token)` sends the request's messages,
tools, JSON mode and streaming choice with *its own* model settings, retries
what may pass, and returns the completion with its estimated cost. Whoever calls
it records the usage in their own trace with `record_usage`, so tokens and cost
land on the node that asked.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from nodes.support.messages import Message
from nodes.support.providers.base import ChatModel, ChatRequest, Completion, TokenSink
from nodes.support.providers.config import ModelConfig
from nodes.support.providers.pricing import estimate_cost
from nodes.support.providers.retry import RetryPolicy, with_retries

if TYPE_CHECKING:
    from engine.context import RunContext


class ConfiguredModel:
    """A provider's model with the settings it was configured with. Cheap; one per node run."""

    def __init__(self, inner: ChatModel, config: ModelConfig, model: str) -> None:
        self.inner = inner
        self.config = config
        self.model = model
        self.provider = inner.provider
        self.policy = RetryPolicy(config.retries, config.max_retry_wait_s)

    def request(self, messages: tuple[Message, ...], **changes: Any) -> ChatRequest:
        """A request for `messages` with this model's settings (`changes` overrides any field)."""
        c = self.config
        base = ChatRequest(messages=messages, model=self.model, temperature=c.temperature,
                           max_tokens=c.max_tokens, stop=tuple(c.stop), seed=c.seed, stream=c.stream,
                           timeout_s=c.timeout_s, json_mode=c.json_mode)
        return dataclasses.replace(base, **changes) if changes else base

    def settle(self, request: ChatRequest) -> ChatRequest:
        """The caller's conversation and options with this model's own name and sampling settings."""
        c = self.config
        return dataclasses.replace(request, model=self.model, temperature=c.temperature,
                                   max_tokens=c.max_tokens, stop=tuple(c.stop), seed=c.seed,
                                   timeout_s=c.timeout_s, json_mode=request.json_mode or c.json_mode)

    async def complete(self, request: ChatRequest, on_token: TokenSink) -> Completion:
        request = self.settle(request)
        streamed = False

        def sink(piece: str) -> None:
            nonlocal streamed
            streamed = True
            on_token(piece)

        completion, failures = await with_retries(lambda: self.inner.complete(request, sink), self.policy,
                                                  lambda: streamed)
        price = (self.config.price.input, self.config.price.output) if self.config.price else None
        cost = None if self.provider in ("offline", "scripted") and price is None else \
            estimate_cost(completion.model, completion.usage, price)
        extra = {**completion.extra, "retries": failures} if failures else completion.extra
        return dataclasses.replace(completion, cost=cost, extra=extra)

    def to_preview(self) -> dict[str, Any]:
        return {"provider": self.provider, "model": self.model}


def record_usage(ctx: RunContext, completion: Completion) -> None:
    """Put a completion's tokens, cost and retries into the calling node's trace."""
    for failure in completion.extra.get("retries", ()):  # type: ignore[attr-defined]
        ctx.step("retry", **failure)
    if completion.usage is not None:
        ctx.usage(prompt_tokens=completion.usage.prompt_tokens,
                  completion_tokens=completion.usage.completion_tokens, cost=completion.cost,
                  model=completion.model)
    else:
        ctx.step("usage", model=completion.model, note="the provider reported no token usage")
    if completion.finish_reason == "length":
        ctx.step("truncated", note="the answer stopped at max_tokens")


async def send_request(model: ConfiguredModel | ChatModel, request: ChatRequest, ctx: RunContext, *,
                       stream: bool = True) -> Completion:
    """Call `model`, streaming its tokens into the node's trace (when `stream`), and record usage."""
    completion = await model.complete(request, ctx.token if stream else _discard)
    record_usage(ctx, completion)
    return completion


def _discard(_piece: str) -> None:
    pass
