"""Engine overhead on the path users take: `chainloom.run(flow)`, side by side with LCEL and a floor.

    python benchmarks/engine_overhead.py [--rounds 9]     # LCEL needs `pip install -e .[bench]`

For chains of N = 10, 200 and 1000 `transform.text` nodes (plus the flow's input and
output node) it times, INTERLEAVED round by round in this one process:

  chainloom.run     `chainloom.run(flow)`: the default runner each call, run store,
                    trace file and events on (what the CLI, the UI and the server do)
  Runner            one default `chainloom.runner()` reused: store + trace + events
  engine, no trace  the scheduler alone on one event loop, tracing off, no handlers
  LCEL invoke       langchain-core RunnableLambda(str.strip) sequence, `.invoke`
  compiled floor    networkx topological order computed once, then a dict loop
                    calling the same node functions

It prints µs per node (run time / N, medians over rounds), the fixed cost per run
(N=10's time minus 10 × the per-node slope between N=200 and N=1000), the fan-out of 8 branches sleeping
100 ms (async and blocking) through the default runner as a ratio to 100 ms, the
load average, and every issue-12 target as met / NOT met.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import chainloom
from engine.flow import Flow, parse_flow
from engine.node import FlowInputConfig, FlowOutputConfig, NodeConfig, NodeSpec
from engine.ports import Port, PortType
from engine.registry import Registry
from engine.scheduler import RunOptions, execute
from engine.validate import compile_flow
from nodes.registry import default_registry

SIZES = (10, 200, 1000)
STEPS = [{"op": "strip"}]
TEXT = "  chainloom  "


def chain_flow(n: int) -> Flow:
    nodes: list[dict[str, Any]] = [{"id": "text", "type": "input.text", "config": {"name": "text"}}]
    nodes += [{"id": f"t{k}", "type": "transform.text", "config": {"steps": STEPS}} for k in range(n)]
    nodes.append({"id": "out", "type": "output.text", "config": {"name": "out"}})
    ids = [node["id"] for node in nodes]
    edges = [{"from": f"{a}.text", "to": f"{b}.text"} for a, b in zip(ids[:-2], ids[1:-1])]
    edges.append({"from": f"{ids[-2]}.text", "to": "out.value"})
    return parse_flow({"schema_version": 1, "id": f"chain{n}", "nodes": nodes, "edges": edges})


# ------------------------------------------------------------------ contenders
def default_run(flow: Flow, home: Path) -> Callable[[], None]:
    def once() -> None:
        result = chainloom.run(flow, {"text": TEXT}, home=home)
        if not result.ok:
            raise RuntimeError(result.error)
    return once


def reused_runner(flow: Flow, home: Path) -> Callable[[], None]:
    runner = chainloom.runner(home=home)

    def once() -> None:
        result = runner.run(flow, {"text": TEXT})
        if not result.ok:
            raise RuntimeError(result.error)
    return once


class LoopRunner:
    """One event loop kept for the bare-engine contender (the floor of the async machinery)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def close(self) -> None:
        self.loop.close()


def bare_engine(flow: Flow, loop: LoopRunner) -> Callable[[], None]:
    plan = compile_flow(flow, default_registry())

    def once() -> None:
        result = loop.loop.run_until_complete(execute(plan, {"text": TEXT}, [], RunOptions(trace=False)))
        if not result.ok:
            raise RuntimeError(result.error)
    return once


def lcel(n: int) -> Callable[[], None] | None:
    try:
        from langchain_core.runnables import RunnableLambda
    except ImportError:
        return None
    seq: Any = RunnableLambda(str.strip)
    for _ in range(n - 1):
        seq = seq | RunnableLambda(str.strip)
    return lambda: seq.invoke(TEXT)


def compiled_floor(flow: Flow) -> Callable[[], None]:
    """networkx order once, then a dict loop calling each node's own run function."""
    import networkx as nx

    plan = compile_flow(flow, default_registry())
    graph = nx.DiGraph()
    graph.add_nodes_from(plan.nodes)
    graph.add_edges_from((w.source, w.target, {"port": (w.source_port, w.target_port)}) for w in plan.wires)
    order = list(nx.topological_sort(graph))
    feeds = {nid: [(src, graph.edges[src, nid]["port"]) for src in graph.predecessors(nid)] for nid in order}
    calls = [(nid, plan.nodes[nid].spec.run, plan.nodes[nid].config, feeds[nid]) for nid in order]

    class Ctx:
        flow_inputs = {"text": TEXT}
        services: dict[str, Any] = {}

    def once() -> None:
        values: dict[str, dict[str, Any]] = {}
        for nid, run, config, feed in calls:
            inputs = {dst: values[src][out] for src, (out, dst) in feed}
            values[nid] = run(config, inputs, Ctx)
        if values["out"]["value"] != "chainloom":
            raise RuntimeError(values["out"])
    return once


# ------------------------------------------------------------------ fan-out
def sleepers() -> Registry:
    text = [Port("text", PortType.TEXT)]

    class Empty(NodeConfig):
        pass

    def blocking(c: Any, i: dict[str, Any], x: Any) -> dict[str, Any]:
        time.sleep(0.1)
        return {"text": i["text"]}

    async def asleep(c: Any, i: dict[str, Any], x: Any) -> dict[str, Any]:
        await asyncio.sleep(0.1)
        return {"text": i["text"]}

    return Registry([
        NodeSpec("in.text", 1, "", "", FlowInputConfig, lambda c, i, x: {"text": x.flow_inputs[c.name]},
                 outputs=text, role="input", blocking=False),
        NodeSpec("out.text", 1, "", "", FlowOutputConfig, lambda c, i, x: {"value": i["text"]},
                 inputs=[Port("text", PortType.TEXT)], role="output", blocking=False),
        NodeSpec("b.sleep", 1, "", "", Empty, blocking, inputs=text, outputs=text, blocking=True),
        NodeSpec("b.asleep", 1, "", "", Empty, asleep, inputs=text, outputs=text),
    ])


def fan_out_flow(kind: str, width: int = 8) -> Flow:
    nodes: list[dict[str, Any]] = [{"id": "i", "type": "in.text", "config": {"name": "text"}}]
    nodes += [{"id": f"b{k}", "type": kind} for k in range(width)]
    nodes += [{"id": f"o{k}", "type": "out.text", "config": {"name": f"o{k}"}} for k in range(width)]
    edges = [{"from": "i.text", "to": f"b{k}.text"} for k in range(width)]
    edges += [{"from": f"b{k}.text", "to": f"o{k}.text"} for k in range(width)]
    return parse_flow({"schema_version": 1, "id": "fan", "nodes": nodes, "edges": edges})


def fan_out(home: Path, rounds: int) -> dict[str, float]:
    runner = chainloom.runner(home=home, registry=sleepers())
    flows = {"async": fan_out_flow("b.asleep"), "blocking": fan_out_flow("b.sleep")}
    for flow in flows.values():
        runner.run(flow, {"text": "x"})  # warm-up: pool threads, plan
    walls: dict[str, list[float]] = {name: [] for name in flows}
    for _ in range(rounds):
        for name, flow in flows.items():
            t0 = time.perf_counter()
            result = runner.run(flow, {"text": "x"})
            walls[name].append(time.perf_counter() - t0)
            if not result.ok:
                raise RuntimeError(result.error)
    return {name: statistics.median(w) / 0.1 for name, w in walls.items()}


# ------------------------------------------------------------------ the table
def reps_for(n: int) -> int:
    """Calls per sample, so that each sample lasts long enough to time."""
    return {10: 20, 200: 2}.get(n, 1)


def measure(cells: dict[tuple[str, int], Callable[[], None]], rounds: int) -> dict[tuple[str, int], float]:
    """Median seconds per call of every cell, taking one sample of each cell per round."""
    for fn in cells.values():
        fn()  # warm-up
    samples: dict[tuple[str, int], list[float]] = {key: [] for key in cells}
    for _ in range(rounds):
        for key, fn in cells.items():
            reps = reps_for(key[1])
            t0 = time.perf_counter()
            for _ in range(reps):
                fn()
            samples[key].append((time.perf_counter() - t0) / reps)
    return {key: statistics.median(s) for key, s in samples.items()}


def fit(times: dict[int, float]) -> tuple[float, float]:
    """(fixed seconds per run, seconds per node): the slope between the two long chains, and
    what the shortest chain costs beyond it (an intercept that the noise of N=1000 cannot swing)."""
    small, mid, big = SIZES
    slope = (times[big] - times[mid]) / (big - mid)
    return times[small] - small * slope, slope


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="interleaved samples per cell")
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"({os.cpu_count()} cores)")
    home = Path(tempfile.mkdtemp(prefix="chainloom-bench-"))
    loop = LoopRunner()
    names = ["chainloom.run", "Runner", "engine, no trace", "LCEL invoke", "compiled floor"]
    cells: dict[tuple[str, int], Callable[[], None]] = {}
    for n in SIZES:
        flow = chain_flow(n)
        makers: list[Callable[[], Callable[[], None] | None]] = [
            lambda flow=flow: default_run(flow, home), lambda flow=flow: reused_runner(flow, home),
            lambda flow=flow: bare_engine(flow, loop), lambda n=n: lcel(n), lambda flow=flow: compiled_floor(flow)]
        for name, make in zip(names, makers):
            fn = make()
            if fn is not None:
                cells[name, n] = fn
    times = measure(cells, args.rounds)
    fan = fan_out(home, max(3, args.rounds // 2))
    loop.close()
    chainloom.runner(home=home)  # the same store: make sure every event is written before we leave

    print(f"\nµs per node, chain of N transform.text (run time / N, median of {args.rounds} "
          "interleaved rounds)\n")
    header = f"{'contender':<18}" + "".join(f"{f'N={n}':>10}" for n in SIZES) + f"{'fixed ms':>10}{'vs LCEL':>10}"
    print(header)
    print("-" * len(header))
    fixed: dict[str, float] = {}
    per_node: dict[str, float] = {}
    for name in names:
        if (name, SIZES[0]) not in times:
            print(f"{name:<18}  (not installed: pip install -e .[bench])")
            continue
        row = [times[name, n] / n * 1e6 for n in SIZES]
        fixed[name], per_node[name] = fit({n: times[name, n] for n in SIZES})
        lcel_cost = times.get(("LCEL invoke", 1000))
        ratio = f"{times[name, 1000] / lcel_cost:>10.3f}" if lcel_cost else f"{'':>10}"
        print(f"{name:<18}" + "".join(f"{x:>10.2f}" for x in row) + f"{fixed[name] * 1e3:>10.2f}" + ratio)
    print("\nfixed ms: the run time of N=10 minus 10 × the per-node slope between N=200 and N=1000")
    print(f"\nfan-out 8 × 100 ms through the default runner (store + trace), wall / 100 ms: "
          f"async {fan['async']:.3f}, blocking {fan['blocking']:.3f}  (ideal 1.000)")

    def us(name: str, n: int) -> float:
        return times[name, n] / n * 1e6

    print("\ntargets (issue 12)")
    checks = [
        ("default path ≤ 10 µs/node at N=200", us("chainloom.run", 200), 10.0, "µs"),
        ("default path ≤ 10 µs/node at N=1000", us("chainloom.run", 1000), 10.0, "µs"),
        ("Runner ≤ 10 µs/node at N=1000", us("Runner", 1000), 10.0, "µs"),
        ("default path fixed cost ≤ 1 ms per run", fixed["chainloom.run"] * 1e3, 1.0, "ms"),
        ("engine, tracing off ≤ 3 µs/node at N=1000", us("engine, no trace", 1000), 3.0, "µs"),
        ("fan-out async ≤ 1.02× ideal", fan["async"], 1.02, "×"),
        ("fan-out blocking ≤ 1.02× ideal", fan["blocking"], 1.02, "×"),
    ]
    for label, value, limit, unit in checks:
        print(f"  {label:<44} {value:>8.3f} {unit:<3} {verdict(value <= limit)}")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
