"""Static output ports: a value known from the config reaches its edges when the run starts.

A "checker" node here plays the part of an output parser: its `rules` output is
static (computed from the config), wired *upstream* into the step that produces
the text the checker later checks. That is a cycle between nodes, but not between
values, so validation accepts it and the run ends in one pass.
"""

from __future__ import annotations

from typing import Any

from engine.flow import parse_flow
from engine.node import NodeConfig, NodeSpec
from engine.ports import Port
from engine.ports import PortType as T
from engine.registry import Registry
from engine.runner import Runner
from engine.validate import validate
from tests.engine.toy import Toys, flow


class CheckConfig(NodeConfig):
    rule: str = "say please"


def _checker_outputs(config: CheckConfig) -> list[Port]:
    return [Port("ok", T.BOOL), Port("rules", T.TEXT, static=True, default=f"Rule: {config.rule}.")]


def _check(config: CheckConfig, inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
    return {"ok": "please" in inputs["text"], "rules": f"Rule: {config.rule}."}


def _registry(toys: Toys) -> Registry:
    checker = NodeSpec("toy.check", 1, "Check", "", CheckConfig, _check,
                       inputs=[Port("text", T.TEXT)], outputs=_checker_outputs, blocking=False)
    bool_out = NodeSpec("output.bool", 1, "Out", "", toys.registry.get("output.text").config,
                        lambda c, i, x: {"value": i["value"]}, inputs=[Port("value", T.BOOL)],
                        role="output", blocking=False)
    return Registry([*toys.registry, checker, bool_out])


def _body(**check_config: Any) -> dict[str, Any]:
    return flow([("in", "input.text", {"name": "q"}), ("write", "toy.join", {}),
                 ("check", "toy.check", check_config), ("ok", "output.bool", {"name": "ok"}),
                 ("text", "output.text", {"name": "text"})],
                [("in.text", "write.a"), ("check.rules", "write.b"), ("write.text", "check.text"),
                 ("check.ok", "ok.value"), ("write.text", "text.value")])


def test_a_static_output_feeds_a_node_upstream_of_its_own_node() -> None:
    toys = Toys()
    registry = _registry(toys)
    assert validate(parse_flow(_body(rule="be kind")), registry) == []
    result = Runner(registry).run(parse_flow(_body(rule="be kind")), {"q": "please help"})
    assert result.ok, result.error
    assert result.outputs == {"ok": True, "text": "please help+Rule: be kind."}
    assert toys.calls == ["write"]  # the checker ran once, after the text it checks
    order = [e.node for e in result.events if e.kind == "node.finished"]  # type: ignore[attr-defined]
    assert order.index("write") < order.index("check")


def test_the_same_wiring_through_a_non_static_port_is_a_cycle() -> None:
    toys = Toys()
    dynamic = NodeSpec("toy.check", 1, "Check", "", CheckConfig, _check, inputs=[Port("text", T.TEXT)],
                       outputs=[Port("ok", T.BOOL), Port("rules", T.TEXT)], blocking=False)
    registry = Registry([*(s for s in _registry(toys) if s.type != "toy.check"), dynamic])
    issues = validate(parse_flow(_body()), registry)
    assert [(i.code, i.message) for i in issues] == [("cycle", "cycle: check -> write -> check")]


def test_a_static_value_arrives_even_when_its_node_is_skipped() -> None:
    toys = Toys()
    body = _body()
    body["nodes"].append({"id": "gate", "type": "toy.route", "config": {"fire": ["left"]}})
    body["edges"][2] = {"from": "gate.right", "to": "check.text"}
    body["edges"].append({"from": "write.text", "to": "gate.text"})
    body["edges"] = [e for e in body["edges"] if e["to"] != "ok.value"]
    body["nodes"] = [n for n in body["nodes"] if n["id"] != "ok"]
    result = Runner(_registry(toys)).run(parse_flow(body), {"q": "hi"})
    assert result.outputs == {"text": "hi+Rule: say please."}
    assert result.node_status["check"] == "skipped"


def test_static_ports_say_so_in_their_description() -> None:
    spec = _registry(Toys()).get("toy.check")
    ports = [p.to_dict() for p in spec.output_ports(CheckConfig())]
    assert ports == [{"name": "ok", "type": "Bool", "description": "", "required": True, "multiple": False},
                     {"name": "rules", "type": "Text", "description": "", "required": True,
                      "multiple": False, "static": True}]
