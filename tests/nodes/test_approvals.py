"""Approval gates through real flows: agents' tool calls by name, tool nodes, plain side-effect nodes.

The gate here is a scripted person (`Person`): it records every question and
answers from a list, so a test asserts the exact call that was shown and what the
agent was told. The durable gate (store, API) is tested in tests/server.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.approvals import ApprovalRequest, Decision
from engine.errors import ValidationFailed
from engine.flow import Flow
from engine.runner import Runner
from nodes.registry import default_registry
from tests.nodes.flowkit import make_flow

CALL = {"name": "calculator", "arguments": {"expression": "2 ** 10"}}
SHOWN = 'calculator({"expression": "2 ** 10"})'


class Person:
    """A scripted approver: answers in order, remembers what it was asked."""

    def __init__(self, *answers: bool, reason: str = "not today") -> None:
        self.answers = list(answers)
        self.asked: list[ApprovalRequest] = []
        self.reason = reason

    async def ask(self, request: ApprovalRequest) -> Decision:
        self.asked.append(request)
        approved = self.answers.pop(0)
        return Decision(approved, "Ada (test)", "" if approved else self.reason)


def agent_flow(agent_policy: dict[str, Any] | None = None, calc_policy: dict[str, Any] | None = None) -> Flow:
    responses = [{"text": "", "tool_calls": [CALL]}, "Done."]
    flow = make_flow({"q": ("input.text", {"name": "q"}), "calc": ("tool.calculator", {}),
                      "agent": ("agent.tool_calling", {"provider": "scripted", "responses": responses}),
                      "out": ("output.text", {"name": "answer"})},
                     [("q.text", "agent.input"), ("calc.tool", "agent.tools"), ("agent.answer", "out.value")])
    nodes = []
    for n in flow.nodes:
        policy = {"agent": agent_policy, "calc": calc_policy}.get(n.id)
        nodes.append(n.model_copy(update={"policy": n.policy.model_copy(update=policy)}) if policy else n)
    return flow.model_copy(update={"nodes": nodes})


def run(flow: Flow, person: Person | None) -> Any:
    services = {"approvals": person} if person is not None else {}
    return Runner(default_registry(), services=services).run(flow, {"q": "What is 2 to the 10th?"})


def observations(result: Any) -> list[str]:
    return [e.data["text"] if "text" in e.data else str(e.data) for e in result.events
            if e.kind == "node.step" and e.name == "observation"]


def steps(result: Any) -> list[tuple[str, Any]]:
    return [(e.name, e.data.get("tool")) for e in result.events
            if e.kind == "node.step" and e.name.startswith("approval.")]


@pytest.mark.parametrize("policies", [({"require_approval": ["calculator"]}, None),
                                      ({"require_approval": True}, None),
                                      (None, {"require_approval": True})],
                         ids=["agent-by-name", "agent-all-tools", "tool-node"])
def test_a_rejected_tool_call_is_an_observation_naming_who_and_why(policies: tuple[Any, Any]) -> None:
    person = Person(False)
    result = run(agent_flow(*policies), person)
    assert result.ok, result.error
    [asked] = person.asked
    assert (asked.node, asked.tool, asked.call, asked.describe()) == (
        "agent", "calculator", {"expression": "2 ** 10"}, SHOWN)
    text = f"the call {SHOWN} was rejected by Ada (test): not today"
    assert any(text in o for o in observations(result)), observations(result)
    assert steps(result) == [("approval.requested", "calculator"), ("approval.decided", "calculator")]


def test_an_approved_tool_call_runs() -> None:
    person = Person(True)
    result = run(agent_flow({"require_approval": ["calculator"]}), person)
    assert result.ok
    assert len(person.asked) == 1
    assert any("1024" in o for o in observations(result)), observations(result)
    decided = [e.data for e in result.events if e.kind == "node.step" and e.name == "approval.decided"]
    assert (decided[0]["approved"], decided[0]["by"]) == (True, "Ada (test)")


def test_tools_not_named_in_the_policy_need_no_approval() -> None:
    person = Person()
    result = run(agent_flow({"require_approval": ["http_request"]}), person)
    assert result.ok and person.asked == []
    assert any("1024" in o for o in observations(result))


def test_a_gated_call_without_any_way_to_ask_fails_the_run_saying_how_to_fix_it() -> None:
    result = run(agent_flow({"require_approval": ["calculator"]}), None)
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.message == (
        "node 'agent' (agent.tool_calling) failed: node 'agent': the call "
        f"{SHOWN} needs approval (policy.require_approval), but this run cannot ask anyone")
    assert "drop policy.require_approval from node 'agent'" in result.error.hint


def plain_flow() -> Flow:
    flow = make_flow({"q": ("input.text", {"name": "q"}),
                      "shout": ("transform.text", {"steps": [{"op": "upper"}]}),
                      "out": ("output.text", {"name": "answer"})},
                     [("q.text", "shout.text"), ("shout.text", "out.value")])
    nodes = [n.model_copy(update={"policy": n.policy.model_copy(update={"require_approval": True})})
             if n.id == "shout" else n for n in flow.nodes]
    return flow.model_copy(update={"nodes": nodes})


def test_a_gated_plain_node_runs_only_when_approved() -> None:
    person = Person(True, False)
    ok = Runner(default_registry(), services={"approvals": person}).run(plain_flow(), {"q": "hi"})
    assert ok.outputs == {"answer": "HI"}
    assert person.asked[0].describe() == 'transform.text({"inputs": {"text": "hi"}, "node": "shout"})'
    no = Runner(default_registry(), services={"approvals": person}).run(plain_flow(), {"q": "hi"})
    assert no.status == "failed"
    assert no.error is not None and no.error.message == (
        "node 'shout' (transform.text) failed: the call transform.text({\"inputs\": {\"text\": \"hi\"}, "
        "\"node\": \"shout\"}) was rejected by Ada (test): not today")
    assert [e.kind for e in no.events if getattr(e, "node", None) == "shout"] == [
        "node.started", "node.step", "node.step", "node.failed"]


@pytest.mark.parametrize("value", [["bad name!"], "yes", [""]])
def test_require_approval_takes_true_false_or_tool_names(value: Any) -> None:
    body = agent_flow().model_dump(by_alias=True)
    body["nodes"][2]["policy"] = {"require_approval": value}
    from engine.errors import FlowLoadError
    from engine.flow import parse_flow

    with pytest.raises((FlowLoadError, ValidationFailed)):
        parse_flow(body)


class SlowPerson(Person):
    """Takes its time (longer than the run's whole time limit) before approving."""

    async def ask(self, request: ApprovalRequest) -> Decision:
        import asyncio

        await asyncio.sleep(2.0)
        return await super().ask(request)


def test_waiting_for_a_person_does_not_count_against_the_run_time_limit() -> None:
    person = SlowPerson(True)
    result = Runner(default_registry(), services={"approvals": person}).run(
        agent_flow({"require_approval": ["calculator"]}), {"q": "What is 2 to the 10th?"}, timeout=1.5)
    assert result.ok, result.error
    assert any("1024" in o for o in observations(result))
