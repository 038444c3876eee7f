"""The agent loop every agent shares: decide, call tools, observe, until an answer or a limit.

An agent is a `Strategy` (how to ask the model for the next decision and how to
tell it what the tools said) run by `run_loop` under a `Budget`: at most
`max_iterations` decisions, `max_seconds` of wall time (model and tool calls are
cut off when it runs out) and `max_tokens` of model usage. The loop ends with an
`Outcome` whose `stop_reason` says why: final_answer, max_iterations, max_time,
max_tokens or cancelled. An unknown tool, arguments that are not JSON or do not
fit the tool's schema, and a tool's own failure are all answered to the model as
observations, never raised. Every thought, tool call, observation and model call
is a step in the trace (`ctx.step`), so the UI shows the agent working live.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from pydantic import Field

from engine.errors import PermanentError
from nodes.support.messages import ToolCall
from nodes.support.providers.base import Completion, ToolSpec
from nodes.support.providers.config import ModelConfig
from nodes.support.tools import Observation, Tool

if TYPE_CHECKING:
    from engine.context import RunContext

StopReason = Literal["final_answer", "max_iterations", "max_time", "max_tokens", "cancelled"]
T = TypeVar("T")


class AgentConfig(ModelConfig):
    """Model settings plus the limits every agent runs under."""

    temperature: float = Field(0.0, ge=0, le=2, description="Randomness: 0 keeps the agent most consistent.")
    instructions: str = Field("", max_length=20_000, description="Extra instructions for the agent (its role, "
                              "tone, what to avoid).")
    max_iterations: int = Field(8, ge=1, le=100, description="Most model decisions before the agent stops.")
    max_seconds: float = Field(120.0, gt=0, le=3600, description="Most wall time for the whole agent run.")
    max_total_tokens: int = Field(50_000, ge=100, le=10_000_000, description="Most tokens (prompt + completion, "
                                  "all model calls) before the agent stops.")
    on_limit: Literal["answer", "fail"] = Field("answer", description="answer: return what is known with the "
                                                "stop reason; fail: fail the node.")


@dataclass
class Decision:
    """What the model decided: call tools, or answer. `error` = its reply could not be read."""

    thought: str = ""
    calls: tuple[ToolCall, ...] = ()
    answer: str | None = None
    error: str = ""


class Strategy(Protocol):
    async def decide(self, budget: Budget) -> Decision: ...
    def observe(self, decision: Decision, results: list[tuple[ToolCall, Observation]]) -> None: ...


class Trace:
    """The agent's steps: kept for the `steps` output and sent to the trace as they happen."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.steps: list[dict[str, Any]] = []

    def add(self, name: str, **data: Any) -> None:
        self.steps.append({"step": name, **data})
        self.ctx.step(name, **data)


@dataclass
class Budget:
    """Iterations, wall time and tokens left."""

    config: AgentConfig
    trace: Trace
    started: float = field(default_factory=time.monotonic)
    iterations: int = 0
    tokens: int = 0

    def remaining(self) -> float:
        return self.config.max_seconds - (time.monotonic() - self.started)

    def charge(self, completion: Completion) -> None:
        used = completion.usage.total_tokens if completion.usage else 0
        self.tokens += used
        self.trace.add("model_call", iteration=self.iterations, tokens=used, total_tokens=self.tokens,
                       model=completion.model)

    def exhausted(self, ctx: RunContext) -> StopReason | None:
        if ctx.cancelled:
            return "cancelled"
        if self.tokens >= self.config.max_total_tokens:
            return "max_tokens"
        if self.remaining() <= 0:
            return "max_time"
        if self.iterations >= self.config.max_iterations:
            return "max_iterations"
        return None

    async def within(self, work: Awaitable[T]) -> T:
        """`work`, cut off when the wall-time budget runs out (raises TimeoutError)."""
        return await asyncio.wait_for(work, max(0.001, self.remaining()))


@dataclass
class Outcome:
    answer: str
    stop_reason: StopReason
    iterations: int
    tokens: int
    steps: list[dict[str, Any]]


def tool_specs(tools: dict[str, Tool]) -> tuple[ToolSpec, ...]:
    return tuple(ToolSpec(t.name, t.description, t.parameters) for t in tools.values())


async def call_tool(call: ToolCall, tools: dict[str, Tool], ctx: RunContext) -> Observation:
    """One tool call as an observation: unknown tools and unreadable arguments included."""
    tool = tools.get(call.name)
    if tool is None:
        known = ", ".join(tools) or "none"
        return Observation(f"Error: there is no tool named '{call.name}'. Available tools: {known}.", ok=False)
    if set(call.arguments) == {"_raw"}:
        return Observation(f"Error: the arguments for '{call.name}' are not a JSON object: "
                           f"{str(call.arguments['_raw'])[:200]}", ok=False)
    return await tool.call(call.arguments, ctx)


async def run_calls(calls: tuple[ToolCall, ...], tools: dict[str, Tool], ctx: RunContext, trace: Trace,
                    budget: Budget, parallel: bool = True) -> list[tuple[ToolCall, Observation]]:
    """Run the calls (at once, unless a tool has side effects) and record each call and observation."""
    for call in calls:
        trace.add("tool_call", id=call.id, tool=call.name, arguments=call.arguments)
    together = parallel and len(calls) > 1 and not any(getattr(tools.get(c.name), "side_effects", False)
                                                       for c in calls)
    if together:
        observations = await budget.within(asyncio.gather(*(call_tool(c, tools, ctx) for c in calls)))
    else:
        observations = [await budget.within(call_tool(c, tools, ctx)) for c in calls]
    for call, obs in zip(calls, observations):
        trace.add("observation", id=call.id, tool=call.name, ok=obs.ok, text=obs.text)
    return list(zip(calls, observations))


async def run_loop(strategy: Strategy, tools: dict[str, Tool], budget: Budget, ctx: RunContext,
                   parallel: bool = True) -> Outcome:
    """Decide and act until the strategy answers or the budget says stop."""
    trace = budget.trace
    last = ""
    while (reason := budget.exhausted(ctx)) is None:
        budget.iterations += 1
        try:
            decision = await budget.within(strategy.decide(budget))
            if decision.thought:
                trace.add("thought", text=decision.thought)
            if decision.answer is not None:
                trace.add("final_answer", text=decision.answer)
                return _outcome(decision.answer, "final_answer", budget)
            if decision.error:
                trace.add("invalid_reply", error=decision.error)
                strategy.observe(decision, [])
                continue
            results = await run_calls(decision.calls, tools, ctx, trace, budget, parallel)
        except TimeoutError:
            reason = "max_time"
            break
        strategy.observe(decision, results)
        last = "\n".join(obs.text for _, obs in results) or last
    return stopped(reason, last, budget)


def stopped(reason: StopReason, last: str, budget: Budget) -> Outcome:
    """The outcome when a limit ended the loop (or a PermanentError when the config says fail)."""
    limits = {"max_iterations": f"{budget.config.max_iterations} iterations",
              "max_time": f"{budget.config.max_seconds:g} seconds",
              "max_tokens": f"{budget.config.max_total_tokens} tokens", "cancelled": "a cancellation"}
    message = f"The agent stopped after {limits.get(reason, reason)} without a final answer."
    budget.trace.add("stopped", reason=reason, iterations=budget.iterations, tokens=budget.tokens)
    if budget.config.on_limit == "fail":
        raise PermanentError(message, hint=f"raise the limit ({reason}), or make the task smaller")
    answer = f"{message} Last observation: {last}" if last else message
    return _outcome(answer, reason, budget)


def _outcome(answer: str, reason: StopReason, budget: Budget) -> Outcome:
    return Outcome(answer, reason, budget.iterations, budget.tokens, budget.trace.steps)
