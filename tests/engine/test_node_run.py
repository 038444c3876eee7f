"""One node under its policy (engine.node_run): the Outcome, and the output contract."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest

from engine.errors import PermanentError
from engine.events import EventLog
from engine.flow import parse_flow
from engine.node_run import NodeRunner, Outcome, RunScope, run_now
from engine.plan import PlannedNode
from engine.runner import Runner
from engine.scheduler import RunResult
from engine.validate import compile_flow
from tests.engine.toy import Toys, flow

IN = ("in", "input.text", {"name": "q"})


@pytest.fixture
def toys() -> Toys:
    return Toys()


def run(toys: Toys, body: dict[str, Any]) -> RunResult:
    return Runner(toys.registry).run(parse_flow(body), {"q": "x"})


def planned(toys: Toys, type_id: str, config: dict[str, Any], policy: dict[str, Any] | None = None
            ) -> PlannedNode:
    body = flow([IN, ("n", type_id, config), ("o", "output.text", {"name": "o"})],
                [("in.text", "n.text"), ("n.text", "o.value")])
    body["nodes"][1]["policy"] = policy or {}
    return compile_flow(parse_flow(body), toys.registry).nodes["n"]


def runner(log: EventLog) -> NodeRunner:
    scope = RunScope("r1", {}, {}, None, lambda name: None, None, None, True)
    return NodeRunner(scope, log, max_concurrency=4)


def test_a_router_that_fires_an_undeclared_output_fails_naming_the_declared_ones(toys: Toys) -> None:
    body = flow([IN, ("route", "toy.route", {"fire": ["lefft"]}), ("L", "toy.step", {}),
                 ("o", "output.text", {"name": "o"})],
                [("in.text", "route.text"), ("route.left", "L.text"), ("L.text", "o.value")])
    result = run(toys, body)
    assert result.status == "failed"
    assert str(result.error) == (
        "node 'route' (toy.route) failed: returned undeclared output 'lefft'; declared outputs are: "
        "left, right (return only the declared outputs, or declare the port)")
    assert result.node_status["L"] == "cancelled"


def test_a_node_returning_extra_keys_fails_naming_each_of_them(toys: Toys) -> None:
    toys.registry.register(replace(toys.registry.get("toy.inline"), type="toy.extra",
                                   run=lambda c, i, x: {"text": "t", "txet": 1, "more": 2}))
    node = planned(toys, "toy.extra", {})
    outcome = run_now(runner(EventLog([])).run(node, {"text": "x"}))
    assert outcome.status == "failed" and outcome.outputs is None and outcome.attempts == 1
    assert outcome.error is not None and isinstance(outcome.error.__cause__, PermanentError)
    assert outcome.error.reason == ("returned undeclared outputs 'txet', 'more'; declared outputs are: text")


def test_an_inline_node_runs_to_its_outcome_without_a_task(toys: Toys) -> None:
    log = EventLog([])
    node = planned(toys, "toy.inline", {"suffix": "!"})
    assert node.inline
    outcome = run_now(runner(log).run(node, {"text": "x"}))
    assert outcome == Outcome({"text": "x!"}, usage={}, duration=outcome.duration, attempts=1)
    assert outcome.status == "done"
    assert [(e.kind, e.seq) for e in log.events] == [("node.started", 1)]


def test_retries_are_counted_and_the_fallback_carries_the_last_error(toys: Toys) -> None:
    log = EventLog([])
    node = planned(toys, "toy.step", {"fail": True},
                   {"retries": 1, "backoff": 0, "on_error": "fallback", "fallback": {"text": "sorry"}})
    outcome = asyncio.run(runner(log).run(node, {"text": "x"}))
    assert (outcome.outputs, outcome.attempts, outcome.status) == ({"text": "sorry"}, 2, "done")
    assert outcome.error is not None and outcome.error.reason == "RuntimeError: boom #2"
    assert [(e.kind, getattr(e, "attempt", 0), getattr(e, "will_retry", None)) for e in log.events] == [
        ("node.started", 1, None), ("node.failed", 1, True),
        ("node.started", 2, None), ("node.failed", 2, False)]


def test_the_fallback_does_not_touch_the_nodes_own_state(toys: Toys) -> None:
    seen: list[dict[str, Any]] = []

    def keeps_state(cfg: Any, inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
        seen.append(ctx.state())
        raise RuntimeError("no")

    toys.registry.register(replace(toys.registry.get("toy.inline"), type="toy.stateful", run=keeps_state))
    body = flow([IN, ("n", "toy.stateful", {}), ("o", "output.text", {"name": "o"})],
                [("in.text", "n.text"), ("n.text", "o.value")])
    body["nodes"][1]["policy"] = {"on_error": "fallback", "fallback": {"text": "sorry"}}
    result = run(toys, body)
    assert result.outputs == {"o": "sorry"} and seen == [{}]
    done = next(e for e in result.events if e.kind == "node.finished" and e.node == "n")
    assert done.fallback_error == "RuntimeError: no"
