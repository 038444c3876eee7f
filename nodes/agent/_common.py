"""What every agent node shares: its ports, its setup (tools, model, memory, budget) and its outputs.

An agent node takes the task on `input`, tools on `tools` (any number of tool
nodes or toolkits), optionally a model on `model` and a memory on `memory`; it
gives the `answer`, its `steps` (the same steps the trace shows live) and the
`stop_reason`. With a memory, the conversation so far is loaded before the agent
starts and the turn (task, answer) is saved when it ends, in the same run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.errors import PermanentError
from engine.ports import Port, PortType
from nodes.agent._loop import AgentConfig, Budget, Outcome, Trace
from nodes.support.chat_memory.kinds import Memory, Recall
from nodes.support.chat_memory.store import session_of
from nodes.support.model_port import MODEL_PORT, model_for
from nodes.support.providers.base import ChatModel
from nodes.support.tools import Tool, as_tools, tool_table
from nodes.support.values import as_text

if TYPE_CHECKING:
    from engine.context import RunContext

AGENT_INPUTS = [
    Port("input", PortType.TEXT, "The task or question."),
    Port("tools", PortType.TOOL, "Tools the agent may call (tool nodes, toolkits).", required=False,
         multiple=True),
    MODEL_PORT,
    Port("memory", PortType.MEMORY, "Conversation memory (loaded before, saved after).", required=False),
    Port("session", PortType.TEXT, "Session id for the memory; empty = the run's session.", required=False),
]
AGENT_OUTPUTS = [
    Port("answer", PortType.TEXT, "The agent's final answer (or why it stopped)."),
    Port("steps", PortType.JSON, "Every thought, tool call, observation and model call, in order."),
    Port("stop_reason", PortType.TEXT, "final_answer, max_iterations, max_time, max_tokens or cancelled."),
]


@dataclass
class AgentSetup:
    question: str
    tools: dict[str, Tool]
    model: ChatModel
    budget: Budget
    recall: Recall
    memory: Memory | None
    session: str

    @property
    def offline(self) -> bool:
        """The offline extractive model cannot follow an agent protocol; a fixed policy stands in."""
        return getattr(self.model, "provider", "") == "offline"


async def prepare(config: AgentConfig, inputs: dict[str, Any], ctx: RunContext) -> AgentSetup:
    question = as_text(inputs.get("input")).strip()
    if not question:
        raise PermanentError(f"node '{ctx.node_id}': input 'input' is empty; the agent has no task",
                             hint="connect the question or task to 'input'")
    tools = tool_table(as_tools(inputs.get("tools") or []))
    memory = inputs.get("memory") if isinstance(inputs.get("memory"), Memory) else None
    session = session_of(inputs, ctx)
    recall = await memory.load(session, question, ctx) if memory is not None else Recall(())
    trace = Trace(ctx)
    trace.add("start", task=question, tools=list(tools), remembered_turns=len(recall.messages) // 2)
    return AgentSetup(question, tools, model_for(config, inputs, ctx), Budget(config, trace), recall, memory,
                      session)


async def finish(setup: AgentSetup, outcome: Outcome, ctx: RunContext) -> dict[str, Any]:
    if setup.memory is not None:
        await setup.memory.save(setup.session, setup.question, outcome.answer, ctx)
    ctx.token(outcome.answer)
    return {"answer": outcome.answer, "steps": outcome.steps, "stop_reason": outcome.stop_reason}


def memory_text(recall: Recall) -> str:
    text = recall.text()
    return f"Conversation so far (for context only):\n{text}\n\n" if text else ""
