"""flow.condition and flow.merge: route tests, config checks, and skips through the real Runner."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from engine.errors import PermanentError
from engine.validate import validate
from nodes.flow import ConditionConfig, MergeConfig, Route, condition, merge
from nodes.registry import default_registry
from tests.nodes.flowkit import make_flow, ran, run


class Ctx:
    """Just enough run context for calling a node function directly."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, dict[str, Any]]] = []

    def step(self, name: str, **data: Any) -> None:
        self.steps.append((name, data))


OPS = [
    ("equals", "yes", False, "yes", True), ("equals", "yes", False, "Yes", False),
    ("equals", "yes", True, "YES", True), ("not_equals", "yes", False, "no", True),
    ("not_equals", "yes", True, "YES", False), ("contains", "bill", False, "my billing issue", True),
    ("contains", "BILL", True, "my billing issue", True), ("contains", "bill", False, "refund", False),
    ("starts_with", "re", False, "refund", True), ("starts_with", "re", False, "are", False),
    ("ends_with", "?", False, "why?", True), ("ends_with", "?", False, "why", False),
    ("regex", r"\border\s+#?\d+", False, "where is order #123", True),
    ("regex", r"^ORDER", True, "order 5", True), ("regex", r"^ORDER", False, "order 5", False),
    ("gt", "10", False, "10.5", True), ("gt", "10", False, "10", False), ("ge", "10", False, " 10 ", True),
    ("lt", "0", False, "-1e3", True), ("le", "2.5", False, 2.5, True), ("le", "2.5", False, "3", False),
    ("is_empty", "", False, "  \n ", True), ("is_empty", "", False, "x", False),
]


@pytest.mark.parametrize(("op", "value", "ignore_case", "given", "expected"), OPS)
def test_route_ops(op: str, value: str, ignore_case: bool, given: Any, expected: bool) -> None:
    route = Route(name="r", op=op, value=value, ignore_case=ignore_case)
    assert route.matches(given) is expected


def test_numeric_route_names_itself_when_the_input_is_not_a_number() -> None:
    route = Route(name="big", op="gt", value="100")
    with pytest.raises(PermanentError) as caught:
        route.matches("lots")
    assert caught.value.message == "route 'big' (gt) compares numbers, but the input 'lots' is not a number"


@pytest.mark.parametrize(("route", "message"), [
    ({"name": "r", "op": "regex", "value": "(unclosed"},
     "Value error, route 'r': pattern '(unclosed' is not a valid regular expression: missing ), "
     "unterminated subpattern at position 0"),
    ({"name": "r", "op": "regex", "value": "a" * 501},
     "Value error, route 'r': pattern is 501 characters; the limit is 500"),
    ({"name": "r", "op": "gt", "value": "ten"},
     "Value error, route 'r': op 'gt' compares numbers, but value 'ten' is not a finite number"),
    ({"name": "r", "op": "lt", "value": "nan"},
     "Value error, route 'r': op 'lt' compares numbers, but value 'nan' is not a finite number"),
    ({"name": "my route", "op": "equals"},
     "String should match pattern '^[A-Za-z_][A-Za-z0-9_]{0,63}$'"),
    ({"name": "r", "op": "between"},
     "Input should be 'equals', 'not_equals', 'contains', 'starts_with', 'ends_with', 'regex' or "
     "'is_empty'"),
])
def test_bad_routes_are_refused_at_config_time(route: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ConditionConfig(routes=[route])
    assert caught.value.errors()[0]["msg"] == message


def test_route_names_are_unique_and_distinct_from_the_default() -> None:
    with pytest.raises(ValidationError) as dup:
        ConditionConfig(routes=[{"name": "a"}, {"name": "a"}])
    with pytest.raises(ValidationError) as clash:
        ConditionConfig(routes=[{"name": "default"}])
    assert dup.value.errors()[0]["msg"] == "Value error, route name 'a' is used twice; route names must be unique"
    assert clash.value.errors()[0]["msg"] == ("Value error, default_route 'default' is also a route name; "
                                              "give the default its own name")


def test_numbers_in_a_flow_file_are_read_as_route_values() -> None:
    assert Route(name="r", op="gt", value=5).value == "5"  # type: ignore[arg-type]


def test_outputs_are_one_port_per_route_plus_default() -> None:
    config = ConditionConfig(routes=[{"name": "a", "op": "contains", "value": "x"},
                                     {"name": "b", "op": "is_empty"}], default_route="other")
    ports = default_registry().get("flow.condition").output_ports(config)
    assert [(p.name, p.type.value, p.description) for p in ports] == [
        ("a", "Text", "Fires when the input contains 'x'."), ("b", "Text", "Fires when the input is empty."),
        ("other", "Text", "Fires when no route matches.")]


ROUTES = [{"name": "short", "op": "regex", "value": r"^\S+$"},
          {"name": "question", "op": "ends_with", "value": "?"}]


@pytest.mark.parametrize(("mode", "given", "fired"), [
    ("first", "why?", ["short"]),
    ("all", "why?", ["short", "question"]),
    ("first", "is it?", ["question"]),
    ("all", "plain words", ["default"]),
])
def test_modes_fire_first_or_all_else_default(mode: str, given: str, fired: list[str]) -> None:
    ctx = Ctx()
    out = condition.run(ConditionConfig(routes=ROUTES, mode=mode), {"value": given}, ctx)
    assert out == dict.fromkeys(fired, given)
    assert ctx.steps == [("routed", {"to": fired})]


ROUTER_FLOW = {
    "q": ("input.text", {"name": "q"}),
    "route": ("flow.condition", {"routes": [{"name": "yes", "op": "equals", "value": "yes", "ignore_case": True},
                                            {"name": "no", "op": "equals", "value": "no"}]}),
    "say_yes": ("transform.text", {"steps": [{"op": "prepend", "text": "Y:"}]}),
    "say_no": ("transform.text", {"steps": [{"op": "prepend", "text": "N:"}]}),
    "say_other": ("transform.text", {"steps": [{"op": "upper"}]}),
    "after_no": ("transform.text", {"steps": []}),
    "join": ("flow.merge", {}),
    "out": ("output.text", {"name": "out"}),
}
ROUTER_EDGES = [("q.text", "route.value"), ("route.yes", "say_yes.text"), ("route.no", "say_no.text"),
                ("route.default", "say_other.text"), ("say_no.text", "after_no.text"),
                ("say_yes.text", "join.values"), ("after_no.text", "join.values"),
                ("say_other.text", "join.values"), ("join.value", "out.value")]


@pytest.mark.parametrize(("given", "output", "done"), [
    ("YES", "Y:YES", {"say_yes"}),
    ("no", "N:no", {"say_no", "after_no"}),
    ("maybe", "MAYBE", {"say_other"}),
])
def test_router_runs_one_branch_and_skips_the_rest(given: str, output: str, done: set[str]) -> None:
    result = run(make_flow(ROUTER_FLOW, ROUTER_EDGES), {"q": given})
    assert result.ok
    assert result.outputs == {"out": output}
    branches = {"say_yes", "say_no", "after_no", "say_other"}
    assert ran(result) == {"q": "done", "route": "done", "join": "done", "out": "done",
                           **{b: "done" if b in done else "skipped" for b in branches}}
    skipped = {e.node: e.reason for e in result.events if e.kind == "node.skipped"}  # type: ignore[attr-defined]
    if "say_no" in skipped:
        assert skipped["say_no"] == "nothing arrived: 'route' did not fire 'no'"
        assert skipped["after_no"] == "nothing arrived: 'say_no' was skipped"


def test_numeric_route_on_text_fails_the_run_naming_node_and_route() -> None:
    flow = make_flow({"q": ("input.text", {"name": "q"}),
                      "route": ("flow.condition", {"routes": [{"name": "big", "op": "gt", "value": 3}]}),
                      "out": ("output.text", {"name": "out"})},
                     [("q.text", "route.value"), ("route.big", "out.value")])
    result = run(flow, {"q": "three"})
    assert result.status == "failed"
    assert str(result.error) == ("node 'route' (flow.condition) failed: route 'big' (gt) compares numbers, "
                                 "but the input 'three' is not a number (send a number, or use a text op "
                                 "such as equals/contains/regex for this route)")


def test_all_mode_merge_gathers_every_fired_branch_in_edge_order() -> None:
    nodes = dict(ROUTER_FLOW)
    nodes["route"] = ("flow.condition", {"mode": "all", "routes": [
        {"name": "yes", "op": "contains", "value": "e"}, {"name": "no", "op": "contains", "value": "s"}]})
    nodes["join"] = ("flow.merge", {"mode": "all"})
    nodes["out"] = ("output.json", {"name": "out"})
    result = run(make_flow(nodes, ROUTER_EDGES), {"q": "yes"})
    assert result.outputs == {"out": ["Y:yes", "N:yes"]}
    assert ran(result)["say_other"] == "skipped"


def test_merge_first_takes_the_first_edge_that_delivered() -> None:
    assert merge.run(MergeConfig(), {"values": ["b", "c"]}, Ctx()) == {"value": "b"}
    assert merge.run(MergeConfig(mode="all"), {"values": []}, Ctx()) == {"value": []}


def test_merge_first_with_nothing_connected_says_so() -> None:
    with pytest.raises(PermanentError) as caught:
        merge.run(MergeConfig(), {"values": []}, Ctx())
    assert str(caught.value) == "no value arrived at input 'values' (connect at least one branch to 'values')"


def test_a_route_wired_to_a_missing_port_is_a_validation_issue() -> None:
    flow = make_flow({"q": ("input.text", {"name": "q"}),
                      "route": ("flow.condition", {"routes": [{"name": "a"}]}),
                      "out": ("output.text", {"name": "out"})},
                     [("q.text", "route.value"), ("route.b", "out.value")])
    assert [(i.code, i.node, i.port, i.message) for i in validate(flow, default_registry())] == [
        ("unknown_port", "route", "b", "output port 'b' does not exist; outputs are: a (Text), default (Text)")]
