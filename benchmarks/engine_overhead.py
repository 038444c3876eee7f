"""Engine overhead: per-node cost of the scheduler, side by side with a plain loop and LCEL.

    python benchmarks/engine_overhead.py            # needs `pip install -e .[bench]` for LCEL

Prints, for chains of 10 and 200 trivial nodes, the time per node of: a plain Python
loop (the floor), chainloom with tracing off, with tracing on (events + a JSON-lines
trace file), and langchain-core's LCEL (RunnableLambda sequence); then the wall time of
8 parallel branches that each sleep 100 ms (async and blocking), as a ratio to 100 ms.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.flow import parse_flow
from engine.node import FlowInputConfig, FlowOutputConfig, NodeConfig, NodeSpec
from engine.ports import Port, PortType
from engine.registry import Registry
from engine.runner import TraceFile
from engine.scheduler import RunOptions, execute
from engine.validate import compile_flow


class Empty(NodeConfig):
    pass


def _inc(cfg: Any, inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
    return {"n": inputs["n"] + 1}


async def _ainc(cfg: Any, inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
    return {"n": inputs["n"] + 1}


def _sleep(cfg: Any, inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
    time.sleep(0.1)
    return {"n": inputs["n"]}


async def _asleep(cfg: Any, inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
    await asyncio.sleep(0.1)
    return {"n": inputs["n"]}


N = [Port("n", PortType.NUMBER)]
REGISTRY = Registry([
    NodeSpec("in.n", 1, "", "", FlowInputConfig, lambda c, i, x: {"n": x.flow_inputs[c.name]},
             outputs=N, role="input", blocking=False),
    NodeSpec("out.n", 1, "", "", FlowOutputConfig, lambda c, i, x: {"value": i["n"]}, inputs=N,
             role="output", blocking=False),
    NodeSpec("b.inc", 1, "", "", Empty, _inc, inputs=N, outputs=N, blocking=False),
    NodeSpec("b.ainc", 1, "", "", Empty, _ainc, inputs=N, outputs=N),
    NodeSpec("b.sleep", 1, "", "", Empty, _sleep, inputs=N, outputs=N, blocking=True),
    NodeSpec("b.asleep", 1, "", "", Empty, _asleep, inputs=N, outputs=N),
])


def chain(n: int, kind: str) -> Any:
    nodes = [{"id": "i", "type": "in.n", "config": {"name": "n"}}]
    nodes += [{"id": f"s{k}", "type": kind} for k in range(n)]
    nodes += [{"id": "o", "type": "out.n", "config": {"name": "n"}}]
    ids = ["i"] + [f"s{k}" for k in range(n)]
    edges = [{"from": f"{a}.n", "to": f"{b}.n"} for a, b in zip(ids, ids[1:])]
    edges.append({"from": f"{ids[-1]}.n", "to": "o.n"})
    return compile_flow(parse_flow({"schema_version": 1, "id": "bench", "nodes": nodes, "edges": edges}), REGISTRY)


def fan_out(kind: str, width: int = 8) -> Any:
    nodes = [{"id": "i", "type": "in.n", "config": {"name": "n"}}]
    nodes += [{"id": f"b{k}", "type": kind} for k in range(width)]
    nodes += [{"id": f"o{k}", "type": "out.n", "config": {"name": f"o{k}"}} for k in range(width)]
    edges = [{"from": "i.n", "to": f"b{k}.n"} for k in range(width)]
    edges += [{"from": f"b{k}.n", "to": f"o{k}.n"} for k in range(width)]
    return compile_flow(parse_flow({"schema_version": 1, "id": "fan", "nodes": nodes, "edges": edges}), REGISTRY)


def best_of(fn: Callable[[], Any], repeat: int) -> float:
    """Median seconds of `repeat` calls (after one warm-up)."""
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def engine_time(plan: Any, repeat: int, traced: bool, trace_dir: Path) -> float:
    async def once() -> None:
        handlers = [TraceFile(trace_dir / "run.jsonl")] if traced else []
        result = await execute(plan, {"n": 0}, handlers, RunOptions(trace=traced))
        assert result.ok, result.error

    loop = asyncio.new_event_loop()
    try:
        return best_of(lambda: loop.run_until_complete(once()), repeat)
    finally:
        loop.close()


def plain_time(n: int, repeat: int) -> float:
    steps = [lambda x: x + 1] * n

    def once() -> None:
        x = 0
        for step in steps:
            x = step(x)

    return best_of(once, repeat)


def lcel_time(n: int, repeat: int) -> float | None:
    try:
        from langchain_core.runnables import RunnableLambda
    except ImportError:
        return None
    seq = RunnableLambda(lambda x: x + 1)
    for _ in range(n - 1):
        seq = seq | RunnableLambda(lambda x: x + 1)
    return best_of(lambda: seq.invoke(0), repeat)


def lcel_async_time(n: int, repeat: int) -> float | None:
    try:
        from langchain_core.runnables import RunnableLambda
    except ImportError:
        return None

    async def inc(x: int) -> int:
        return x + 1

    seq = RunnableLambda(inc)
    for _ in range(n - 1):
        seq = seq | RunnableLambda(inc)
    loop = asyncio.new_event_loop()
    try:
        return best_of(lambda: loop.run_until_complete(seq.ainvoke(0)), repeat)
    finally:
        loop.close()


def lcel_fan_out() -> float | None:
    try:
        from langchain_core.runnables import RunnableLambda, RunnableParallel
    except ImportError:
        return None
    par = RunnableParallel({f"b{k}": RunnableLambda(lambda x: time.sleep(0.1) or x) for k in range(8)})
    return best_of(lambda: par.invoke(0), 3)


def main() -> None:
    trace_dir = Path(tempfile.mkdtemp(prefix="chainloom-bench-"))
    print("per-node overhead, microseconds (median of repeated runs; lower is better)\n")
    print("sync nodes (engine inline nodes vs LCEL invoke of sync RunnableLambdas)")
    header = (f"{'chain':>6} | {'plain loop':>10} | {'engine':>8} | {'engine+trace':>12} | "
              f"{'LCEL':>8} | {'trace/LCEL':>10}")
    rows: list[str] = []
    async_rows: list[str] = []
    for n in (10, 200):
        repeat = 300 if n == 10 else 40
        nodes = n + 2  # the chain plus its input and output nodes
        floor = plain_time(n, repeat) / n * 1e6
        for kind, lcel_fn, out in (("b.inc", lcel_time, rows), ("b.ainc", lcel_async_time, async_rows)):
            plan = chain(n, kind)
            bare = engine_time(plan, repeat, False, trace_dir) / nodes * 1e6
            traced = engine_time(plan, repeat, True, trace_dir) / nodes * 1e6
            lcel = lcel_fn(n, repeat)
            lcel_us = lcel / n * 1e6 if lcel else float("nan")
            out.append(f"{n:>6} | {floor:>10.2f} | {bare:>8.2f} | {traced:>12.2f} | {lcel_us:>8.1f} | "
                       f"{traced / lcel_us:>10.3f}")
    print(header, "-" * len(header), *rows, sep="\n")
    print("\nasync nodes (engine async nodes vs LCEL ainvoke of async RunnableLambdas)")
    print(header, "-" * len(header), *async_rows, sep="\n")
    print("\n(engine+trace = typed events for every node + a JSON-lines trace file; target trace/LCEL <= 0.1)")

    print("\nfan-out: 8 branches each sleeping 100 ms, wall time / 100 ms (ideal 1.00; target <= 1.05)\n")
    for kind, label in (("b.asleep", "async (asyncio.sleep)"), ("b.sleep", "blocking (time.sleep, thread pool)")):
        wall = engine_time(fan_out(kind), 5, True, trace_dir)
        print(f"  chainloom {label:<36} {wall / 0.1:.3f}")
    lcel = lcel_fan_out()
    if lcel is not None:
        print(f"  LCEL RunnableParallel, blocking{'':<13} {lcel / 0.1:.3f}")


if __name__ == "__main__":
    main()
