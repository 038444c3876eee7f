"""The tool-calling agent: the model asks for tool calls natively (OpenAI tools, Cohere tools).

Each turn sends the conversation with the tools' JSON schemas; the calls the
model asks for run at once (in parallel, unless a tool has side effects) and
their results go back as tool messages answering each call by id. A reply with
no tool calls is the final answer. Models that cannot call tools (the offline
extractive model) get the fixed offline policy instead (_offline_policy.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import Field

from engine.node import NodeSpec, node
from nodes.agent._common import AGENT_INPUTS, AGENT_OUTPUTS, AgentSetup, finish, prepare
from nodes.agent._loop import AgentConfig, Budget, Decision, run_loop, tool_specs
from nodes.agent._offline_policy import OfflinePolicy
from nodes.support.messages import Message, ToolCall
from nodes.support.model_port import ask
from nodes.support.tools import Observation

if TYPE_CHECKING:
    from engine.context import RunContext

SYSTEM = ("You are a helpful assistant that completes the user's task. Call the tools you need (several at "
          "once when they do not depend on each other); when you know the answer, reply with it and call no tool.")


class ToolCallingConfig(AgentConfig):
    parallel_tool_calls: bool = Field(True, description="Run the calls of one turn at the same time (tools with "
                                      "side effects always run one after another).")


def opening(setup: AgentSetup, instructions: str, task: str | None = None) -> list[Message]:
    """System message (with what memory derived), earlier turns, then the task."""
    system = "\n\n".join(p for p in (SYSTEM, instructions.strip(), setup.recall.context) if p)
    return [Message("system", system), *setup.recall.messages, Message("user", task or setup.question)]


@dataclass
class ToolCallingStrategy:
    setup: AgentSetup
    config: AgentConfig
    ctx: RunContext
    messages: list[Message] = field(default_factory=list)

    async def decide(self, budget: Budget) -> Decision:
        completion = await ask(self.setup.model, self.config, tuple(self.messages), self.ctx,
                               tools=tool_specs(self.setup.tools), tool_choice="auto" if self.setup.tools else "none")
        budget.charge(completion)
        self.messages.append(completion.message())
        if not completion.tool_calls:
            return Decision(answer=completion.text.strip())
        return Decision(thought=completion.text.strip(), calls=completion.tool_calls)

    def observe(self, decision: Decision, results: list[tuple[ToolCall, Observation]]) -> None:
        self.messages += [Message("tool", obs.text, tool_call_id=call.id) for call, obs in results]


@node("agent.tool_calling", title="Tool-calling agent", config=ToolCallingConfig, cacheable=False,
      side_effects=True, inputs=AGENT_INPUTS, outputs=AGENT_OUTPUTS,
      description="Lets the model call tools natively (OpenAI / Cohere tool calling, several calls at once) "
                  "until it answers; iteration, time and token limits; every call shows in the trace.")
async def tool_calling_agent(config: ToolCallingConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    setup = await prepare(config, inputs, ctx)
    strategy: Any = OfflinePolicy(setup.question, setup.tools) if setup.offline else \
        ToolCallingStrategy(setup, config, ctx, opening(setup, config.instructions))
    outcome = await run_loop(strategy, setup.tools, setup.budget, ctx, parallel=config.parallel_tool_calls)
    return await finish(setup, outcome, ctx)


SPECS: tuple[NodeSpec, ...] = (tool_calling_agent,)
