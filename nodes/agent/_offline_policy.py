"""A fixed, deterministic policy that stands in for a model when the provider is offline.

The offline extractive model cannot follow an agent protocol, so offline agents
follow three rules instead, and their trace says so: (1) if the task holds an
arithmetic expression and there is a calculator tool, calculate it; (2) if there
is a search tool (a retriever) and the task asks more than the arithmetic,
search with the task; (3) then answer: the calculated values, and the sentences of the observations that
best answer the task (the offline model's extractive scoring). It shows the
agent machinery end to end without a key; it is not reasoning. Real providers
(or the scripted model in tests) replace it by changing the provider.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from nodes.agent._loop import Budget, Decision
from nodes.support.messages import ToolCall
from nodes.support.providers.offline import NOT_FOUND, extract_answer
from nodes.support.tools import Observation, Tool

ARITHMETIC = re.compile(r"(?:[-+(]\s*)*(?:\d[\d_,]*(?:\.\d+)?|sqrt\([^)]*\))(?:\s*(?:[-+*/^%×÷]|\*\*)\s*[-+(]*\s*"
                        r"(?:\d[\d,]*(?:\.\d+)?|sqrt\([^)]*\))\)*)+")


def expressions(text: str) -> list[str]:
    """Arithmetic expressions written in `text` (at least one operator), commas dropped."""
    return [m.group(0).replace(",", "").strip() for m in ARITHMETIC.finditer(text)]


def _of_kind(tools: dict[str, Tool], kind: str) -> Tool | None:
    return next((t for t in tools.values() if t.kind == kind), None)


def asks_more(task: str, found: list[str]) -> bool:
    """True when the task has words beyond its arithmetic (three or more, not counting the sums)."""
    rest = task
    for expression in found:
        rest = rest.replace(expression, " ")
    return len(re.findall(r"[^\W\d_]+", rest)) >= 3


@dataclass
class OfflinePolicy:
    """The rules above as a Strategy for `run_loop`."""

    task: str
    tools: dict[str, Tool]
    results: list[tuple[ToolCall, Observation]] = field(default_factory=list)
    calls: int = 0

    async def decide(self, budget: Budget) -> Decision:
        done = {(c.name, tuple(sorted(c.arguments.items()))) for c, _ in self.results}
        for call in self._wanted():
            if (call.name, tuple(sorted(call.arguments.items()))) not in done:
                self.calls += 1
                return Decision(thought=f"(offline policy) {self._why(call)}",
                                calls=(ToolCall(f"offline_{self.calls}", call.name, call.arguments),))
        return Decision(thought="(offline policy) no more tools apply; answering from the observations",
                        answer=self._answer())

    def observe(self, decision: Decision, results: list[tuple[ToolCall, Observation]]) -> None:
        self.results.extend(results)

    def _wanted(self) -> list[ToolCall]:
        wanted = []
        calculator, search = _of_kind(self.tools, "calculator"), _of_kind(self.tools, "search")
        found = expressions(self.task)
        if calculator is not None:
            wanted += [ToolCall("", calculator.name, {"expression": e}) for e in found]
        if search is not None and (calculator is None or asks_more(self.task, found)):
            wanted.append(ToolCall("", search.name, {"query": self.task}))
        return wanted

    @staticmethod
    def _why(call: ToolCall) -> str:
        if "expression" in call.arguments:
            return f"the task contains arithmetic, so calculate {call.arguments['expression']}"
        return "search for what the task asks about"

    def _answer(self) -> str:
        values = [f"{c.arguments['expression']} = {o.text}" for c, o in self.results
                  if "expression" in c.arguments and o.ok]
        found = "\n".join(o.text for c, o in self.results if "query" in c.arguments and o.ok)
        extracted = extract_answer(self.task, found) if found else ""
        parts = values + ([extracted] if extracted and extracted != NOT_FOUND else [])
        return " ".join(parts) or NOT_FOUND
