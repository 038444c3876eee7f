"""The graph-shape catalogue, run through the real scheduler.

Each shape asserts the outputs, which nodes ran (and how often), which were skipped,
failed or cancelled, and - for the simple shapes - the whole event list.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from engine.errors import FlowInputError, NodeError, NodeTimeout, RunCancelled, RunTimeout
from engine.flow import parse_flow
from engine.runner import Runner
from engine.scheduler import RunResult
from tests.engine.toy import Toys, flow


@pytest.fixture
def toys() -> Toys:
    return Toys()


def run(toys: Toys, body: dict[str, Any], inputs: dict[str, Any] | None = None, **kw: Any) -> RunResult:
    inputs = {"q": "x"} if inputs is None else inputs
    return Runner(toys.registry, **kw.pop("runner", {})).run(parse_flow(body), inputs, **kw)


def kinds(result: RunResult) -> list[tuple[str, str]]:
    return [(e.kind, getattr(e, "node", "")) for e in result.events]


IN = ("in", "input.text", {"name": "q"})


def out(node_id: str, name: str | None = None) -> tuple[str, str, dict[str, Any]]:
    return (node_id, "output.text", {"name": name or node_id})


def test_linear_chain_runs_in_order_with_complete_event_list(toys: Toys) -> None:
    body = flow([IN, ("a", "toy.step", {"suffix": "1"}), ("b", "toy.block", {"suffix": "2"}),
                 ("c", "toy.inline", {"suffix": "3"}), out("answer")],
                [("in.text", "a.text"), ("a.text", "b.text"), ("b.text", "c.text"),
                 ("c.text", "answer.value")])
    result = run(toys, body)
    assert result.status == "succeeded"
    assert result.outputs == {"answer": "x123"}
    assert toys.calls == ["a", "b", "c"]
    assert kinds(result) == [
        ("run.started", ""),
        ("node.started", "in"), ("node.finished", "in"),
        ("node.started", "a"), ("node.finished", "a"),
        ("node.started", "b"), ("node.finished", "b"),
        ("node.started", "c"), ("node.finished", "c"),
        ("node.started", "answer"), ("node.finished", "answer"),
        ("run.finished", ""),
    ]
    assert [e.seq for e in result.events] == list(range(1, 13))
    assert result.node_status == dict.fromkeys(["in", "a", "b", "c", "answer"], "done")


def test_fan_out_runs_every_branch(toys: Toys) -> None:
    branches = [(f"b{i}", "toy.step", {"suffix": str(i)}) for i in range(4)]
    body = flow([IN, *branches, *[out(f"o{i}") for i in range(4)]],
                [*[("in.text", f"b{i}.text") for i in range(4)],
                 *[(f"b{i}.text", f"o{i}.value") for i in range(4)]])
    result = run(toys, body)
    assert result.outputs == {f"o{i}": f"x{i}" for i in range(4)}
    assert sorted(toys.calls) == ["b0", "b1", "b2", "b3"]


def test_fan_in_waits_for_both_inputs(toys: Toys) -> None:
    body = flow([IN, ("slow", "toy.step", {"suffix": "s", "delay": 0.05}),
                 ("fast", "toy.block", {"suffix": "f"}), ("j", "toy.join", {}), out("o")],
                [("in.text", "slow.text"), ("in.text", "fast.text"), ("slow.text", "j.a"),
                 ("fast.text", "j.b"), ("j.text", "o.value")])
    result = run(toys, body)
    assert result.outputs == {"o": "xs+xf"}
    assert toys.calls[-1] == "j" and sorted(toys.calls[:2]) == ["fast", "slow"]


def test_diamond(toys: Toys) -> None:
    body = flow([IN, ("top", "toy.inline", {"suffix": "t"}), ("l", "toy.step", {"suffix": "l"}),
                 ("r", "toy.block", {"suffix": "r"}), ("j", "toy.join", {}), out("o")],
                [("in.text", "top.text"), ("top.text", "l.text"), ("top.text", "r.text"),
                 ("l.text", "j.a"), ("r.text", "j.b"), ("j.text", "o.value")])
    result = run(toys, body)
    assert result.outputs == {"o": "xtl+xtr"}
    assert toys.calls.count("top") == 1 and toys.calls[-1] == "j"


def router_flow(fire: list[str]) -> dict[str, Any]:
    return flow([IN, ("route", "toy.route", {"fire": fire}),
                 ("L", "toy.step", {"suffix": "L"}), ("R", "toy.step", {"suffix": "R"}),
                 ("R2", "toy.inline", {"suffix": "2"}), ("m", "toy.merge", {}), out("o"), out("only_r")],
                [("in.text", "route.text"), ("route.left", "L.text"), ("route.right", "R.text"),
                 ("L.text", "m.values"), ("R.text", "m.values"), ("R.text", "R2.text"),
                 ("R2.text", "only_r.value"), ("m.text", "o.value")])


def test_router_skips_the_branch_it_did_not_fire_and_merge_takes_what_arrived(toys: Toys) -> None:
    result = run(toys, router_flow(["left"]))
    assert result.status == "succeeded"
    assert result.outputs == {"o": "xL"}
    assert toys.calls == ["route", "L", "m"]
    assert result.node_status["R"] == result.node_status["R2"] == result.node_status["only_r"] == "skipped"
    reasons = {e.node: e.reason for e in result.events if e.kind == "node.skipped"}
    assert reasons == {
        "R": "nothing arrived: 'route' did not fire 'right'",
        "R2": "nothing arrived: 'R' was skipped",
        "only_r": "nothing arrived: 'R2' was skipped",
    }


def test_router_firing_nothing_skips_everything_downstream(toys: Toys) -> None:
    result = run(toys, router_flow([]))
    assert result.status == "succeeded"
    assert result.outputs == {}
    assert {n for n, s in result.node_status.items() if s == "skipped"} == {"L", "R", "R2", "m", "o", "only_r"}


def test_failure_in_one_branch_cancels_siblings_and_trace_is_complete(toys: Toys) -> None:
    body = flow([IN, ("bad", "toy.step", {"fail": True}), ("slow", "toy.step", {"delay": 5}),
                 ("after", "toy.inline", {}), out("o1"), out("o2")],
                [("in.text", "bad.text"), ("in.text", "slow.text"), ("slow.text", "after.text"),
                 ("bad.text", "o1.value"), ("after.text", "o2.value")])
    result = run(toys, body)
    assert result.status == "failed"
    assert isinstance(result.error, NodeError)
    assert str(result.error) == "node 'bad' (toy.step) failed: RuntimeError: boom #1"
    assert isinstance(result.error.__cause__, RuntimeError)
    assert result.node_status == {"in": "done", "bad": "failed", "slow": "cancelled",
                                  "after": "cancelled", "o1": "cancelled", "o2": "cancelled"}
    terminal = {"node.finished", "node.failed", "node.skipped", "node.cancelled"}
    ended = {e.node for e in result.events if e.kind in terminal}
    assert ended == set(result.node_status)
    finished = result.events[-1]
    assert finished.kind == "run.finished" and finished.status == "failed" and finished.failed_node == "bad"
    assert "slow" not in toys.calls  # cancelled before it finished sleeping


def test_node_timeout_stops_the_node_with_a_hint(toys: Toys) -> None:
    body = flow([IN, ("slow", "toy.step", {"delay": 2}), out("o")],
                [("in.text", "slow.text"), ("slow.text", "o.value")])
    body["nodes"][1]["policy"] = {"timeout": 0.05}
    result = run(toys, body)
    assert isinstance(result.error, NodeTimeout)
    assert result.error.message == "node 'slow' (toy.step) failed: took longer than its 0.05s limit"
    assert result.error.hint == "raise policy.timeout for this node, or make it faster"


def test_retry_then_success(toys: Toys) -> None:
    body = flow([IN, ("flaky", "toy.block", {"fail_times": 2, "suffix": "!"}), out("o")],
                [("in.text", "flaky.text"), ("flaky.text", "o.value")])
    body["nodes"][1]["policy"] = {"retries": 2, "backoff": 0}
    result = run(toys, body)
    assert result.outputs == {"o": "x!"}
    assert toys.calls == ["flaky"] * 3
    flaky = [(e.kind, getattr(e, "attempt", None), getattr(e, "will_retry", None))
             for e in result.events if getattr(e, "node", "") == "flaky"]
    assert flaky == [("node.started", 1, None), ("node.failed", 1, True),
                     ("node.started", 2, None), ("node.failed", 2, True),
                     ("node.started", 3, None), ("node.finished", None, None)]


def test_retries_are_bounded(toys: Toys) -> None:
    body = flow([IN, ("bad", "toy.step", {"fail": True}), out("o")],
                [("in.text", "bad.text"), ("bad.text", "o.value")])
    body["nodes"][1]["policy"] = {"retries": 1, "backoff": 0}
    result = run(toys, body)
    assert result.status == "failed" and toys.calls == ["bad", "bad"]
    assert str(result.error) == "node 'bad' (toy.step) failed: RuntimeError: boom #2"


def test_fallback_policy_replaces_outputs(toys: Toys) -> None:
    body = flow([IN, ("bad", "toy.inline", {"fail": True}), out("o")],
                [("in.text", "bad.text"), ("bad.text", "o.value")])
    body["nodes"][1]["policy"] = {"on_error": "fallback", "fallback": {"text": "sorry"}}
    result = run(toys, body)
    assert result.status == "succeeded" and result.outputs == {"o": "sorry"}
    done = next(e for e in result.events if e.kind == "node.finished" and e.node == "bad")
    assert done.fallback_error == "RuntimeError: boom #1"


def test_run_timeout(toys: Toys) -> None:
    body = flow([IN, ("slow", "toy.step", {"delay": 5}), out("o")],
                [("in.text", "slow.text"), ("slow.text", "o.value")])
    result = run(toys, body, timeout=0.05)
    assert result.status == "timeout" and isinstance(result.error, RunTimeout)
    assert result.node_status["slow"] == "cancelled"


def test_cancelling_the_run_stops_in_flight_nodes(toys: Toys) -> None:
    body = flow([IN, ("slow", "toy.step", {"delay": 5}), out("o")],
                [("in.text", "slow.text"), ("slow.text", "o.value")])

    async def go() -> RunResult:
        task = asyncio.create_task(Runner(toys.registry).arun(parse_flow(body), {"q": "x"}))
        await asyncio.sleep(0.05)
        task.cancel()
        return await task

    result = asyncio.run(go())
    assert result.status == "cancelled" and isinstance(result.error, RunCancelled)
    assert result.node_status["slow"] == "cancelled"
    assert result.events[-1].kind == "run.finished"


def test_tokens_stream_between_start_and_finish_from_threads_and_the_loop(toys: Toys) -> None:
    body = flow([IN, ("a", "toy.step", {"tokens": ["he", "llo"]}),
                 ("b", "toy.block", {"tokens": ["wor", "ld"]}), out("o")],
                [("in.text", "a.text"), ("a.text", "b.text"), ("b.text", "o.value")])
    result = run(toys, body)
    streamed = [(e.kind, e.node, getattr(e, "text", "")) for e in result.events
                if getattr(e, "node", "") in ("a", "b")]
    assert streamed == [("node.started", "a", ""), ("node.token", "a", "he"), ("node.token", "a", "llo"),
                        ("node.finished", "a", ""), ("node.started", "b", ""),
                        ("node.token", "b", "wor"), ("node.token", "b", "ld"), ("node.finished", "b", "")]


def test_missing_and_unknown_flow_inputs_are_refused_before_anything_runs(toys: Toys) -> None:
    body = flow([IN, out("o")], [("in.text", "o.value")])
    with pytest.raises(FlowInputError, match="flow input 'q' \\(node 'in'\\) is required"):
        run(toys, body, inputs={})
    with pytest.raises(FlowInputError, match="unknown flow input 'qq'; this flow takes: q"):
        run(toys, body, inputs={"qq": "x"})


def test_cache_reuses_results_of_unchanged_nodes(toys: Toys) -> None:
    class Cache(dict[str, Any]):
        def put(self, key: str, outputs: dict[str, Any]) -> None:
            self[key] = outputs

    cache = Cache()
    body = flow([IN, ("a", "toy.step", {"suffix": "1"}), ("b", "toy.inline", {"suffix": "2"}), out("o")],
                [("in.text", "a.text"), ("a.text", "b.text"), ("b.text", "o.value")])
    first = run(toys, body, runner={"cache": cache})
    body["nodes"][2]["config"]["suffix"] = "3"
    second = run(toys, body, runner={"cache": cache})
    assert first.outputs == {"o": "x12"} and second.outputs == {"o": "x13"}
    assert toys.calls == ["a", "b", "b"]
    assert second.node_status == {"in": "done", "a": "cached", "b": "done", "o": "done"}
    third = run(toys, body, runner={"cache": cache})
    assert third.node_status == {"in": "done", "a": "cached", "b": "cached", "o": "cached"}
    assert toys.calls == ["a", "b", "b"]


def test_tracing_off_emits_only_run_events(toys: Toys) -> None:
    body = flow([IN, ("a", "toy.step", {}), out("o")], [("in.text", "a.text"), ("a.text", "o.value")])
    result = run(toys, body, trace=False)
    assert result.outputs == {"o": "x"}
    assert [e.kind for e in result.events] == ["run.started", "run.finished"]


def test_bounded_concurrency(toys: Toys) -> None:
    live: list[int] = [0, 0]
    from engine.node import NodeSpec
    from engine.ports import Port, PortType
    from tests.engine.toy import StepConfig

    async def probe(cfg: Any, inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
        live[0] += 1
        live[1] = max(live[1], live[0])
        await asyncio.sleep(0.01)
        live[0] -= 1
        return {"text": inputs["text"]}

    toys.registry.register(NodeSpec("toy.probe", 1, "Probe", "", StepConfig, probe,
                                    inputs=[Port("text", PortType.TEXT)], outputs=[Port("text", PortType.TEXT)]))
    body = flow([IN, *[(f"p{i}", "toy.probe", {}) for i in range(6)], *[out(f"o{i}") for i in range(6)]],
                [*[("in.text", f"p{i}.text") for i in range(6)], *[(f"p{i}.text", f"o{i}.value") for i in range(6)]])
    result = Runner(toys.registry, max_concurrency=2).run(parse_flow(body), {"q": "x"})
    assert result.ok and live[1] == 2


def test_a_run_control_cancels_a_run_from_another_thread(toys: Toys) -> None:
    import threading

    from engine.runner import RunControl

    body = flow([IN, ("slow", "toy.block", {"delay": 0.3}), ("after", "toy.step", {}), out("o")],
                [("in.text", "slow.text"), ("slow.text", "after.text"), ("after.text", "o.value")])
    control = RunControl()
    results: list[RunResult] = []
    worker = threading.Thread(target=lambda: results.append(
        Runner(toys.registry).run(parse_flow(body), {"q": "x"}, control=control)))
    worker.start()
    worker.join(0.1)  # usually mid-run; a cancel that comes before the run starts is remembered
    control.cancel()
    worker.join(10)
    assert results[0].status == "cancelled"
    assert results[0].node_status["after"] == "cancelled" and "after" not in toys.calls
