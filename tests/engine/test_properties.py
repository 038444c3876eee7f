"""Property: any DAG runs each node exactly once, after all of its predecessors."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.flow import parse_flow
from engine.node import FlowOutputConfig, NodeConfig, NodeSpec
from engine.ports import Port, PortType
from engine.registry import Registry
from engine.runner import Runner
from tests.engine.toy import flow


class KindConfig(NodeConfig):
    pass


def make_registry(calls: list[str]) -> Registry:
    """Collector nodes of three execution kinds: async, blocking thread, inline."""

    def body(cfg: Any, inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
        calls.append(ctx.node_id)
        return {"out": [ctx.node_id, *inputs["ins"]]}

    async def async_body(cfg: Any, inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
        return body(cfg, inputs, ctx)

    ports = {"inputs": [Port("ins", PortType.ANY, required=False, multiple=True)],
             "outputs": [Port("out", PortType.ANY)]}
    return Registry([
        NodeSpec("p.async", 1, "", "", KindConfig, async_body, **ports),
        NodeSpec("p.thread", 1, "", "", KindConfig, body, **ports),
        NodeSpec("p.inline", 1, "", "", KindConfig, body, blocking=False, **ports),
        NodeSpec("output.any", 1, "", "", FlowOutputConfig,
                 lambda c, i, x: {"value": i["v"]}, inputs=[Port("v", PortType.ANY)], role="output",
                 blocking=False),
    ])


@st.composite
def dags(draw: st.DrawFn) -> tuple[list[str], list[tuple[int, int]]]:
    n = draw(st.integers(1, 14))
    kinds = draw(st.lists(st.sampled_from(["p.async", "p.thread", "p.inline"]), min_size=n, max_size=n))
    pairs = [(i, j) for j in range(n) for i in range(j)]
    edges = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=30)) if pairs else []
    return kinds, edges


@settings(max_examples=60, deadline=None)
@given(dags())
def test_random_dags_run_each_node_once_after_its_predecessors(dag: tuple[list[str], list[tuple[int, int]]]) -> None:
    kinds, edges = dag
    calls: list[str] = []
    nodes = [(f"n{i}", kind, {}) for i, kind in enumerate(kinds)]
    sinks = [i for i in range(len(kinds)) if not any(a == i for a, _ in edges)]
    nodes += [(f"o{i}", "output.any", {"name": f"o{i}"}) for i in sinks]
    wires = [(f"n{a}.out", f"n{b}.ins") for a, b in edges] + [(f"n{i}.out", f"o{i}.v") for i in sinks]
    result = Runner(make_registry(calls), max_concurrency=4).run(parse_flow(flow(nodes, wires)), {})
    assert result.ok, result.error
    assert sorted(calls) == sorted(f"n{i}" for i in range(len(kinds)))
    position = {node: k for k, node in enumerate(calls)}
    for a, b in edges:
        assert position[f"n{a}"] < position[f"n{b}"]
    assert set(result.outputs) == {f"o{i}" for i in sinks}
