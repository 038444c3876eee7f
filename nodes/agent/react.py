"""The ReAct agent: the model writes Thought / Action / Action Input, the tool's Observation is added, repeat.

The prompt lists the tools with their arguments and the format; the model's
reply is cut at "Observation:" (it must not invent one) and read leniently:
`Action:` and `Action Input:` (JSON, a code block, or a bare value for a
one-argument tool), a JSON blob {"action": ..., "action_input": ...}, or
`Final Answer:`. A reply that is none of these is answered with an observation
that explains the format, and counts as an iteration. The scratchpad (every
thought, action and observation so far) is sent back each time and recorded in
the trace step by step.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.node import NodeSpec, node
from nodes.agent._common import AGENT_INPUTS, AGENT_OUTPUTS, AgentSetup, finish, memory_text, prepare
from nodes.agent._loop import AgentConfig, Budget, Decision, run_loop
from nodes.agent._offline_policy import OfflinePolicy
from nodes.support.messages import ToolCall
from nodes.support.model_port import ask, fill_fields
from nodes.support.tools import Observation, Tool

if TYPE_CHECKING:
    from engine.context import RunContext

REACT_PROMPT = """{instructions}Answer the task as well as you can. You can use these tools:

{tools}

Use exactly this format:

Thought: what to do next, and why
Action: the tool to use, one of [{names}]
Action Input: the tool's arguments as a JSON object
Observation: the tool's result (it is given to you; never write it yourself)
... (Thought, Action, Action Input and Observation may repeat)
Thought: I now know the answer
Final Answer: the answer to the task

{memory}Task: {task}

{scratchpad}Thought:"""
FORMAT_HELP = ("Invalid format: write 'Action:' with a tool name and 'Action Input:' with its JSON arguments, "
               "or 'Final Answer:' with the answer.")
_FINAL = re.compile(r"final\s*answer\s*:\s*(.*)", re.IGNORECASE | re.DOTALL)
_ACTION = re.compile(r"action\s*\d*\s*:\s*(.*?)\s*\n?\s*action\s*\d*\s*input\s*\d*\s*:\s*(.*)",
                     re.IGNORECASE | re.DOTALL)
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def parse_react(reply: str) -> Decision:
    """A model's ReAct reply as a Decision (see the module docstring)."""
    text = re.split(r"\n\s*observation\s*:", reply, maxsplit=1, flags=re.IGNORECASE)[0].strip()
    thought = re.split(r"(?:^|\n)\s*(?:action\s*\d*\s*:|final\s*answer\s*:|```|\{)", text, maxsplit=1,
                       flags=re.IGNORECASE)[0]
    thought = re.sub(r"^\s*thought\s*:\s*", "", thought, flags=re.IGNORECASE).strip()
    action, final = _ACTION.search(text), _FINAL.search(text)
    if action and (not final or action.start() < final.start()):
        name = action.group(1).strip().strip("`'\"[]* ")
        return Decision(thought=thought, calls=(ToolCall("", name, _arguments(action.group(2))),))
    if final:
        answer = re.split(r"\n\s*action\s*\d*\s*:", final.group(1), maxsplit=1, flags=re.IGNORECASE)[0]
        return Decision(thought=thought, answer=answer.strip())
    blob = _json_blob(text)
    if blob is not None:
        blob.thought = thought
        return blob
    return Decision(error=FORMAT_HELP)


def _arguments(raw: str) -> dict[str, Any]:
    raw = raw.strip()
    fenced = _FENCE.search(raw)
    raw = (fenced.group(1) if fenced else raw).strip().strip("`").strip()
    if raw.startswith("{"):
        end = raw.rfind("}")
        try:
            value = json.loads(raw[:end + 1])
        except ValueError:
            return {"_raw": raw}
        return value if isinstance(value, dict) else {"_raw": raw}
    return {"_value": raw.strip("\"'")} if raw else {}


def _json_blob(text: str) -> Decision | None:
    fenced = _FENCE.search(text)
    body = fenced.group(1) if fenced else text[text.find("{"):text.rfind("}") + 1]
    try:
        data = json.loads(body) if body else None
    except ValueError:
        return None
    if not isinstance(data, dict) or "action" not in data:
        return None
    name, args = str(data["action"]), data.get("action_input", {})
    if name.lower().replace(" ", "_") == "final_answer":
        return Decision(answer=str(args))
    return Decision(calls=(ToolCall("", name, args if isinstance(args, dict) else {"_value": args}),))


def bare_value(call: ToolCall, tools: dict[str, Tool]) -> ToolCall:
    """A bare Action Input given to a one-argument tool becomes that argument."""
    if set(call.arguments) != {"_value"} or call.name not in tools:
        return call
    props = list((tools[call.name].parameters.get("properties") or {}).keys())
    if len(props) == 1:
        return ToolCall(call.id, call.name, {props[0]: call.arguments["_value"]})
    return call


def describe_tools(tools: dict[str, Tool]) -> str:
    lines = []
    for tool in tools.values():
        props = tool.parameters.get("properties") or {}
        args = ", ".join(f'"{k}": {v.get("type", "any")}' for k, v in props.items())
        lines.append(f"{tool.name}: {tool.description} Arguments: {{{args}}}")
    return "\n".join(lines) or "(no tools: answer directly)"


@dataclass
class ReactStrategy:
    setup: AgentSetup
    config: AgentConfig
    ctx: RunContext
    scratchpad: list[str] = field(default_factory=list)
    calls: int = 0
    reply: str = ""

    def prompt(self) -> str:
        tools = self.setup.tools
        values = {"instructions": f"{self.config.instructions.strip()}\n\n" if self.config.instructions.strip() else "",
                  "tools": describe_tools(tools), "names": ", ".join(tools),
                  "memory": memory_text(self.setup.recall), "task": self.setup.question,
                  "scratchpad": "".join(self.scratchpad)}
        return fill_fields(REACT_PROMPT, **values)

    async def decide(self, budget: Budget) -> Decision:
        stop = tuple(dict.fromkeys([*self.config.stop, "\nObservation:"]))[:4]
        completion = await ask(self.setup.model, self.config, self.prompt(), self.ctx, stop=stop)
        budget.charge(completion)
        decision = parse_react(completion.text)
        calls = []
        for call in decision.calls:
            self.calls += 1
            calls.append(bare_value(ToolCall(f"react_{self.calls}", call.name, call.arguments), self.setup.tools))
        decision.calls = tuple(calls)
        self.reply = completion.text.split("\nObservation:")[0].strip()
        return decision

    def observe(self, decision: Decision, results: list[tuple[ToolCall, Observation]]) -> None:
        seen = "\n".join(o.text for _, o in results) if results else decision.error
        self.scratchpad.append(f"Thought: {self.reply.removeprefix('Thought:').strip()}\nObservation: {seen}\n")


@node("agent.react", title="ReAct agent", config=AgentConfig, cacheable=False, side_effects=True,
      inputs=AGENT_INPUTS, outputs=AGENT_OUTPUTS,
      description="Reasons step by step (Thought / Action / Observation) and calls tools until it can answer; "
                  "iteration, time and token limits; every step shows in the trace.")
async def react_agent(config: AgentConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    setup = await prepare(config, inputs, ctx)
    strategy = OfflinePolicy(setup.question, setup.tools) if setup.offline else ReactStrategy(setup, config, ctx)
    outcome = await run_loop(strategy, setup.tools, setup.budget, ctx, parallel=False)
    return await finish(setup, outcome, ctx)


SPECS: tuple[NodeSpec, ...] = (react_agent,)
