"""The plan-and-execute agent: plan the steps, carry each out with tools, re-plan when one fails.

1. The planner (one model call) writes a numbered plan, at most `max_steps` steps.
2. Each step runs as a small tool-calling agent (at most `step_iterations`
   decisions) that sees the task, the results so far and its step. A step fails
   when it hits its limit or answers "FAILED: why".
3. A failed step asks the planner for a new plan of the remaining work, given
   what was done and why the step failed, at most `max_replans` times.
4. A last call writes the answer from the step results.
The whole run shares one budget (time, tokens; iterations count tool decisions).
With the offline model a fixed policy stands in: each sentence or "and then"
clause of the task is a step, done by the offline tool policy.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from engine.errors import PermanentError
from engine.node import NodeSpec, node
from nodes.agent._common import AGENT_INPUTS, AGENT_OUTPUTS, AgentSetup, finish, memory_text, prepare
from nodes.agent._loop import AgentConfig, Budget, Outcome, run_loop
from nodes.agent._offline_policy import OfflinePolicy
from nodes.agent.tool_calling import ToolCallingStrategy, opening
from nodes.support.model_port import ask, fill_fields

if TYPE_CHECKING:
    from engine.context import RunContext

PLAN_PROMPT = ("{memory}Make a short plan to complete the task below with these tools: {tools}. Write one step "
               "per line as a numbered list (at most {max_steps} steps), nothing else.\n\nTask: {task}")
REPLAN_PROMPT = ("{memory}The plan for the task below ran into trouble.\n\nTask: {task}\n\nDone so far:\n{done}\n\n"
                 "The step \"{step}\" failed: {why}\n\nWrite a new numbered plan for the remaining work (at most "
                 "{max_steps} steps), nothing else.")
STEP_TASK = ("Overall task: {task}\n\nResults of the earlier steps:\n{done}\n\nYour step: {step}\n\nDo only this "
             "step, using the tools as needed, and reply with its result. If it cannot be done, reply "
             "\"FAILED: \" and the reason.")
ANSWER_PROMPT = ("{memory}Task: {task}\n\nResults of the steps taken:\n{done}\n\n"
                 "Using these results, write the answer to the task.")
_ITEM = re.compile(r"^\s*(?:\d+[.)]|[-*•]|step\s*\d+\s*[:.)-])\s*(.+)$", re.IGNORECASE)


class PlanExecuteConfig(AgentConfig):
    max_iterations: int = Field(20, ge=1, le=300, description="Most tool decisions over all steps.")
    max_steps: int = Field(6, ge=1, le=30, description="Longest plan, in steps.")
    step_iterations: int = Field(4, ge=1, le=30, description="Most tool decisions for one step.")
    max_replans: int = Field(2, ge=0, le=10, description="How often a failed step may trigger a new plan.")
    on_step_failure: Literal["replan", "continue"] = Field("replan", description="replan: ask for a new plan; "
                                                           "continue: note the failure and go on.")


def parse_plan(text: str, max_steps: int) -> list[str]:
    """The steps of a numbered or bulleted plan; a plan with no list marks is read line by line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    items = [m.group(1).strip() for ln in lines if (m := _ITEM.match(ln))]
    return (items or lines)[:max_steps]


def offline_plan(task: str, max_steps: int) -> list[str]:
    parts = re.split(r"(?<=[.?!])\s+|;\s*|,?\s+and then\s+|,?\s+then\s+", task)
    steps = [re.sub(r"^(?:and\s+)?then\s+", "", p.strip(), flags=re.IGNORECASE) for p in parts]
    return [s for s in steps if s][:max_steps] or [task]


def _done(results: list[tuple[str, str]]) -> str:
    return "\n".join(f"{i}. {step} -> {result}" for i, (step, result) in enumerate(results, 1)) or "(none yet)"


class PlanAndExecute:
    """One run of the agent: the plan, the step results and the shared budget."""

    def __init__(self, setup: AgentSetup, config: PlanExecuteConfig, ctx: RunContext) -> None:
        self.setup, self.config, self.ctx = setup, config, ctx
        self.budget, self.trace = setup.budget, setup.budget.trace
        self.results: list[tuple[str, str]] = []
        self.values = {"task": setup.question, "tools": ", ".join(setup.tools) or "none",
                       "max_steps": config.max_steps, "memory": memory_text(setup.recall)}

    async def _ask(self, prompt: str) -> str:
        completion = await self.budget.within(ask(self.setup.model, self.config, prompt, self.ctx))
        self.budget.charge(completion)
        return completion.text.strip()

    async def plan(self, failed: tuple[str, str] | None = None) -> list[str]:
        if self.setup.offline:
            steps = offline_plan(self.setup.question, self.config.max_steps) if failed is None else []
        elif failed is None:
            steps = parse_plan(await self._ask(fill_fields(PLAN_PROMPT, **self.values)), self.config.max_steps)
        else:
            prompt = fill_fields(REPLAN_PROMPT, **self.values, done=_done(self.results), step=failed[0], why=failed[1])
            steps = parse_plan(await self._ask(prompt), self.config.max_steps)
        self.trace.add("plan" if failed is None else "replan", steps=list(steps))
        return steps

    async def step(self, index: int, step: str) -> Outcome:
        self.trace.add("step", index=index, task=step)
        limits = self.config.model_copy(update={
            "max_iterations": self.config.step_iterations, "max_seconds": max(0.001, self.budget.remaining()),
            "max_total_tokens": max(1, self.config.max_total_tokens - self.budget.tokens), "on_limit": "answer"})
        budget = Budget(limits, self.trace)
        if self.setup.offline:
            strategy: Any = OfflinePolicy(step, self.setup.tools)
        else:
            task = fill_fields(STEP_TASK, **self.values, done=_done(self.results), step=step)
            strategy = ToolCallingStrategy(self.setup, self.config, self.ctx,
                                           opening(self.setup, self.config.instructions, task))
        outcome = await run_loop(strategy, self.setup.tools, budget, self.ctx)
        self.budget.iterations += budget.iterations
        self.budget.tokens += budget.tokens
        return outcome

    async def run(self) -> tuple[str, str]:
        """(answer, stop reason)."""
        steps, replans = await self.plan(), 0
        while steps:
            if (reason := self.budget.exhausted(self.ctx)) is not None:
                return self.stop(reason)
            step = steps.pop(0)
            outcome = await self.step(len(self.results) + 1, step)
            failure = _failure(outcome)
            if failure is None:
                self.results.append((step, outcome.answer))
                continue
            self.trace.add("step_failed", task=step, reason=failure)
            self.results.append((step, f"FAILED: {failure}"))
            if outcome.stop_reason in ("max_time", "max_tokens", "cancelled"):
                return self.stop(outcome.stop_reason)
            if self.config.on_step_failure == "replan" and replans < self.config.max_replans:
                replans += 1
                steps = await self.plan((step, failure))
        return await self.answer(), "final_answer"

    async def answer(self) -> str:
        if self.setup.offline:
            text = " ".join(r for _, r in self.results if not r.startswith("FAILED"))
            return text or "The offline policy found nothing to answer with."
        return await self._ask(fill_fields(ANSWER_PROMPT, **self.values, done=_done(self.results)))

    def stop(self, reason: str) -> tuple[str, str]:
        self.trace.add("stopped", reason=reason, iterations=self.budget.iterations, tokens=self.budget.tokens)
        message = f"The agent stopped ({reason}) before finishing its plan."
        if self.config.on_limit == "fail":
            raise PermanentError(message, hint=f"raise the limit ({reason}), or make the task smaller")
        return f"{message} Results so far:\n{_done(self.results)}", reason


def _failure(outcome: Outcome) -> str | None:
    if outcome.stop_reason != "final_answer":
        return f"the step stopped at its limit ({outcome.stop_reason})"
    if outcome.answer.upper().startswith("FAILED"):
        return outcome.answer.split(":", 1)[-1].strip() or "the executor gave no reason"
    return None


@node("agent.plan_execute", title="Plan-and-execute agent", config=PlanExecuteConfig, cacheable=False,
      side_effects=True, inputs=AGENT_INPUTS, outputs=AGENT_OUTPUTS,
      description="Plans the steps first, carries each out with tools, re-plans when a step fails, then answers; "
                  "time and token limits for the whole run; every step shows in the trace.")
async def plan_execute_agent(config: PlanExecuteConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    setup = await prepare(config, inputs, ctx)
    runner = PlanAndExecute(setup, config, ctx)
    try:
        answer, reason = await runner.run()
    except TimeoutError:
        answer, reason = runner.stop("max_time")
    if reason == "final_answer":
        runner.trace.add("final_answer", text=answer)
    outcome = Outcome(answer, reason, setup.budget.iterations, setup.budget.tokens, runner.trace.steps)  # type: ignore[arg-type]
    return await finish(setup, outcome, ctx)


SPECS: tuple[NodeSpec, ...] = (plan_execute_agent,)
