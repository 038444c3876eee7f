"""Agent, tool and memory overheads, printed as a table. Run: python benchmarks/agents.py

- agent loop: one iteration of the shared agent loop (a replayed model decision, a calculator call,
  trace steps) against a plain Python loop doing the same model and tool calls, as a ratio;
- calculator: the ast-whitelist evaluator against Python's own eval (the unsafe floor);
- memory: one turn (load, then save) of each memory kind in a SQLite store.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.context import Redactor, RunContext, env_secret
from nodes.agent._loop import AgentConfig, Budget, Decision, Trace, run_loop
from nodes.support.chat_memory.kinds import BufferMemory, EntityMemory, KnowledgeGraphMemory, WindowMemory
from nodes.support.chat_memory.store import memory_store
from nodes.support.messages import ToolCall
from nodes.tool.calculator import CalculatorConfig, calculator_tool, evaluate

ITERATIONS = 99


def ctx(home: str = "") -> RunContext:
    return RunContext(run_id="b", node_id="agent", node_type="bench", emit=lambda e: None, flow_inputs={},
                      services={"home": home} if home else {}, state={}, session_id="bench",
                      secrets=env_secret, redactor=Redactor(), cancelled=threading.Event())


class Decide:
    """A strategy whose 'model' answers instantly: call the calculator, then answer."""

    def __init__(self, n: int) -> None:
        self.left = n

    async def decide(self, budget: Budget) -> Decision:
        self.left -= 1
        if self.left < 0:
            return Decision(answer="done")
        return Decision(thought="calculate", calls=(ToolCall("c", "calculator", {"expression": "6 * 7"}),))

    def observe(self, decision: Decision, results: list[Any]) -> None:
        pass


async def agent_loop(n: int) -> float:
    context, tools = ctx(), {"calculator": calculator_tool(CalculatorConfig())}
    budget = Budget(AgentConfig(max_iterations=n + 1), Trace(context))
    start = time.perf_counter()
    await run_loop(Decide(n), tools, budget, context)
    return (time.perf_counter() - start) / n


async def plain_loop(n: int) -> float:
    tool, context, strategy = calculator_tool(CalculatorConfig()), ctx(), Decide(n)
    start = time.perf_counter()
    while (decision := await strategy.decide(None)).answer is None:  # type: ignore[arg-type]
        for call in decision.calls:
            await tool.run(call.arguments, context)
    return (time.perf_counter() - start) / n


def per_call(fn: Any, n: int = 20_000) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


async def memory_turn(kind: type, home: str) -> float:
    context = ctx(home)
    memory = kind(memory_store(context))
    times = []
    for i in range(50):
        start = time.perf_counter()
        await memory.load("bench", f"What about Ada number {i}?", context)
        await memory.save("bench", f"My friend Ada number {i} lives in London.", "Noted.", context)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    rows = []
    ours, floor = (min(asyncio.run(f(ITERATIONS)) for _ in range(5)) for f in (agent_loop, plain_loop))
    rows.append(("agent loop, per iteration", ours, floor, "plain loop"))
    expr = "(3 + 4) * 2 ** 10 / 7 - sqrt(16)"
    safe = per_call(lambda: evaluate(expr))
    unsafe = per_call(lambda: eval(expr, {"sqrt": __import__("math").sqrt}))  # noqa: S307 - the floor
    rows.append(("calculator, per expression", safe, unsafe, "python eval"))
    with tempfile.TemporaryDirectory() as home:
        for kind in (BufferMemory, WindowMemory, EntityMemory, KnowledgeGraphMemory):
            rows.append((f"memory {kind.kind}, load + save", asyncio.run(memory_turn(kind, home)), None, ""))
    print(f"{'what':34} {'chainloom':>12} {'floor':>12} {'ratio':>7}  floor is")
    for name, value, base, what in rows:
        ratio = f"{value / base:6.1f}x" if base else "-"
        shown = f"{base * 1e6:10.1f}us" if base else f"{'-':>12}"
        print(f"{name:34} {value * 1e6:10.1f}us {shown} {ratio:>7}  {what}")


if __name__ == "__main__":
    main()
