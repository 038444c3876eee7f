"""Validation reports every problem at once, with exact, fix-telling messages."""

from __future__ import annotations

import pytest
from pydantic import Field

from engine.errors import FlowLoadError, ValidationFailed
from engine.flow import parse_flow
from engine.node import NodeConfig, NodeSpec, SecretRef
from engine.ports import Port, PortType
from engine.runner import Runner
from engine.validate import check, validate
from tests.engine.toy import Toys, flow


@pytest.fixture
def toys() -> Toys:
    return Toys()


def messages(toys: Toys, body: dict) -> list[str]:
    return [str(i) for i in validate(parse_flow(body), toys.registry)]


def test_a_valid_flow_has_no_issues_and_a_plan(toys: Toys) -> None:
    body = flow([("in", "input.text", {"name": "q"}), ("o", "output.text", {"name": "o"})],
                [("in.text", "o.value")])
    plan, issues = check(parse_flow(body), toys.registry)
    assert issues == [] and plan is not None
    assert plan.input_nodes == {"q": "in"} and plan.output_nodes == {"o": "o"}


def test_every_problem_is_reported_at_once(toys: Toys) -> None:
    body = flow(
        [("in", "input.text", {"name": "q"}),
         ("a", "toy.step", {}), ("b", "toy.step", {}),            # a <-> b cycle
         ("c", "toy.stpe", {}),                                   # unknown type
         ("d", "toy.step", {"suffix": 3, "colour": "red"}),      # bad config
         ("n", "toy.count", {}), ("e", "toy.step", {}),           # Number into Text
         ("j", "toy.join", {}),                                   # j.b unconnected
         ("o", "output.text", {"name": "o"})],
        [("a.text", "b.text"), ("b.text", "a.text"),
         ("ghost.text", "d.text"),                                 # dangling
         ("in.text", "j.a"), ("in.txt", "o.value"),                # unknown port
         ("n.n", "e.text"), ("in.text", "j.a")])                   # duplicate edge
    assert messages(toys, body) == [
        "node 'c': unknown node type 'toy.stpe' (did you mean 'toy.step'?)",
        "node 'd': config field 'suffix': Input should be a valid string",
        "node 'd': config field 'colour': Extra inputs are not permitted "
        "(valid fields are: suffix, delay, fail, fail_times, tokens)",
        "node 'ghost': edge ghost.text -> d.text comes from node 'ghost', which does not exist "
        "(remove the edge or add the node)",
        "node 'in' port 'txt': output port 'txt' does not exist; outputs are: text (Text)",
        "node 'e' port 'text': edge n.n -> e.text sends Number into Text (no input of 'e' takes Number)",
        "node 'j' port 'a': edge in.text -> j.a appears more than once (remove the copy)",
        # e.text and o.value have (broken) edges already reported, so only j.b is "missing"
        "node 'j' port 'b': required input (Text) is not connected (connect an output of type Text to 'j.b')",
        "node 'a': cycle: a -> b -> a (flows are acyclic; for loops use an agent node)",
    ]


def test_duplicate_ids_duplicate_names_and_no_output(toys: Toys) -> None:
    body = flow([("x", "input.text", {"name": "q"}), ("x", "toy.step", {}),
                 ("y", "input.text", {"name": "q"})], [("x.text", "x.text")])
    issues = validate(parse_flow(body), toys.registry)
    assert [i.code for i in issues] == ["duplicate_id", "unknown_port", "duplicate_input", "no_output"]
    assert str(issues[0]) == "node 'x': the id is used by 2 nodes (give every node its own id)"
    assert str(issues[2]) == ("node 'y': flow input name 'q' is also used by node 'x' "
                              "(give each input node its own name)")
    assert str(issues[3]) == ("flow: the flow has no output node, so a run would return nothing "
                              "(add an output.text (or another output.*) node)")


def test_type_mismatch_names_the_ports_that_would_fit(toys: Toys) -> None:
    body = flow([("in", "input.text", {"name": "q"}), ("n", "toy.count", {}), ("m", "toy.merge", {}),
                 ("j", "toy.join", {}), ("o", "output.text", {"name": "o"})],
                [("in.text", "j.a"), ("n.n", "j.b"), ("j.text", "o.value")])
    issue = next(i for i in validate(parse_flow(body), toys.registry) if i.code == "type_mismatch")
    assert (issue.node, issue.port) == ("j", "b")
    assert issue.hint == "no input of 'j' takes Number"


def test_two_edges_into_a_single_port(toys: Toys) -> None:
    body = flow([("in", "input.text", {"name": "q"}), ("a", "toy.step", {}), ("o", "output.text", {"name": "o"})],
                [("in.text", "o.value"), ("in.text", "a.text"), ("a.text", "o.value")])
    assert messages(toys, body) == [
        "node 'o' port 'value': 2 edges go into this port, which takes one (add a merge node to combine them)"]


def test_retries_on_a_side_effect_node_are_refused(toys: Toys) -> None:
    body = flow([("in", "input.text", {"name": "q"}), ("fx", "toy.effect", {}), ("o", "output.text", {"name": "o"})],
                [("in.text", "fx.text"), ("fx.text", "o.value")])
    body["nodes"][1]["policy"] = {"retries": 2}
    assert messages(toys, body) == [
        "node 'fx': 'toy.effect' has side effects and is never retried (set policy.retries to 0)"]


def test_an_invalid_flow_never_runs(toys: Toys) -> None:
    body = flow([("in", "input.text", {"name": "q"}), ("a", "toy.step", {}), ("bad", "toy.nope", {}),
                 ("o", "output.text", {"name": "o"})], [("in.text", "a.text"), ("a.text", "o.value")])
    with pytest.raises(ValidationFailed) as info:
        Runner(toys.registry).run(parse_flow(body), {"q": "x"})
    assert [i.code for i in info.value.issues] == ["unknown_type"]
    assert toys.calls == []


def test_node_versions_newer_than_the_registry_are_refused(toys: Toys) -> None:
    body = flow([("a", "toy.step", {})], [])
    body["nodes"][0]["version"] = 3
    assert messages(toys, body)[0] == (
        "node 'a': node type 'toy.step' is at version 1 here, but the flow was written for version 3 "
        "(upgrade chainloom to run this flow)")


# ------------------------------------------------ config, port and type problems together
class Names(NodeConfig):
    names: list[str] = Field(default_factory=lambda: ["a"])
    n: int = 1
    key_env: str = SecretRef("", description="variable with the key")


def computed(toys: Toys) -> Toys:
    """Adds `toy.names`: one Text input per name in its config, and a secret reference."""
    toys.registry.register(NodeSpec(
        "toy.names", 1, "Names", "", Names, lambda c, i, x: {"text": ""},
        inputs=lambda c: [Port(name, PortType.TEXT) for name in c.names],
        outputs=[Port("text", PortType.TEXT)], blocking=False))
    return toys


def test_a_node_with_a_bad_config_still_gets_its_edges_and_ports_checked(toys: Toys) -> None:
    body = flow([("in", "input.text", {"name": "q"}), ("n", "toy.count", {}),
                 ("d", "toy.step", {"delay": -1}), ("o", "output.text", {"name": "o"})],
                [("in.text", "d.txt"), ("n.n", "o.value")])
    assert messages(toys, body) == [
        "node 'd': config field 'delay': Input should be greater than or equal to 0",
        "node 'd' port 'txt': input port 'txt' does not exist; inputs are: text (Text)",
        "node 'o' port 'value': edge n.n -> o.value sends Number into Text (no input of 'o' takes Number)",
        "node 'd' port 'text': required input (Text) is not connected (connect an output of type Text to 'd.text')",
    ]


def test_computed_ports_of_a_bad_config_are_a_guess_that_still_type_checks_edges(toys: Toys) -> None:
    # names are valid, n is not: inputs a and b are computed without n; an edge into a port
    # the guess lacks (c) and unconnected inputs are not reported until the config is fixed
    body = flow([("in", "input.text", {"name": "q"}), ("k", "toy.count", {}),
                 ("x", "toy.names", {"names": ["a", "b"], "n": "many"}), ("o", "output.text", {"name": "o"})],
                [("k.n", "x.b"), ("in.text", "x.c"), ("x.text", "o.value")])
    assert messages(computed(toys), body) == [
        "node 'x': config field 'n': Input should be a valid integer, unable to parse string as an integer",
        "node 'x' port 'b': edge k.n -> x.b sends Number into Text (no input of 'x' takes Number)",
    ]


def test_two_malformed_type_ids_are_two_issues(toys: Toys) -> None:
    body = flow([("a", "LLM", {}), ("b", "os.path:join", {})], [])
    with pytest.raises(FlowLoadError) as info:
        parse_flow(body, source="f.json")
    assert [(i.code, i.node, i.field) for i in info.value.issues] == [
        ("load_error", "a", "type"), ("load_error", "b", "type")]
    assert info.value.issues[1].message == (
        "node 'b' field 'type': must be a registered type id such as 'llm.chat' (lower-case words "
        "joined by dots), got 'os.path:join'")


def test_an_unset_secret_is_a_warning_and_the_flow_still_runs(toys: Toys) -> None:
    body = flow([("in", "input.text", {"name": "q"}), ("x", "toy.names", {"names": [], "key_env": "NOPE_KEY"}),
                 ("o", "output.text", {"name": "o"})], [("x.text", "o.value")])
    plan, issues = check(parse_flow(body), computed(toys).registry, secrets=lambda name: None)
    assert plan is not None
    assert [i.to_dict() for i in issues] == [{
        "code": "secret_not_set", "node": "x", "port": None, "field": "config.key_env",
        "message": "config field 'key_env' names the secret 'NOPE_KEY', which is not set",
        "hint": "export NOPE_KEY=... in the environment that runs this flow", "severity": "warning"}]
    assert validate(parse_flow(body), toys.registry, secrets={"NOPE_KEY": "set"}.get) == []
    assert Runner(toys.registry).run(parse_flow(body), {"q": "x"}).ok
