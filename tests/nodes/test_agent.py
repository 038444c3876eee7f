"""Agents: multi-step tool use, malformed replies, unknown tools, limits, memory, the offline policy, traces."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from engine.node import NodeSpec
from engine.runner import Runner
from nodes.agent._loop import AgentConfig
from nodes.agent._offline_policy import expressions
from nodes.agent.plan_execute import PlanExecuteConfig, parse_plan, plan_execute_agent
from nodes.agent.react import parse_react, react_agent
from nodes.agent.tool_calling import ToolCallingConfig, tool_calling_agent
from nodes.registry import default_registry
from nodes.support.tools import Tool, object_schema
from nodes.tool.calculator import CalculatorConfig, calculator_tool
from tests.fakes.cohere_server import FakeCohereServer
from tests.fakes.openai_server import TEST_KEY, FakeOpenAIServer, Reply
from tests.nodes.agentkit import ReplayModel, context
from tests.nodes.flowkit import make_flow, run


async def _shout(args: dict[str, Any], ctx: Any) -> str:
    return str(args["text"]).upper()


async def _broken(args: dict[str, Any], ctx: Any) -> str:
    raise RuntimeError("the disk is on fire")


SHOUT = Tool("shout", "Upper-cases text.", object_schema({"text": {"type": "string"}}, ["text"]), _shout)
BROKEN = Tool("broken", "Always fails.", object_schema({}), _broken)
CALC = calculator_tool(CalculatorConfig())


def agent(spec: NodeSpec, model: ReplayModel, task: str = "What is six times seven, shouted?",
          tools: list[Tool] | None = None, events: list[Any] | None = None, **config: Any) -> dict[str, Any]:
    cfg = spec.config(**config)
    inputs = {"input": task, "tools": [tools if tools is not None else [CALC, SHOUT]], "model": model}
    return asyncio.run(spec.run(cfg, inputs, context(events=events)))  # type: ignore[arg-type]


def kinds(steps: list[dict[str, Any]]) -> list[str]:
    return [s["step"] for s in steps]


# ---------------------------------------------------------------- ReAct
def test_react_agent_uses_tools_step_by_step() -> None:
    model = ReplayModel([
        'Thought: I should multiply first.\nAction: calculator\nAction Input: {"expression": "6 * 7"}',
        "Thought: Now shout it.\nAction: shout\nAction Input: the answer is 42\nObservation: invented!",
        "Thought: I now know the answer.\nFinal Answer: THE ANSWER IS 42",
    ])
    events: list[Any] = []
    out = agent(react_agent, model, events=events)
    assert out["answer"] == "THE ANSWER IS 42" and out["stop_reason"] == "final_answer"
    assert kinds(out["steps"]) == ["start", "model_call", "thought", "tool_call", "observation", "model_call",
                                   "thought", "tool_call", "observation", "model_call", "thought", "final_answer"]
    observations = [s["text"] for s in out["steps"] if s["step"] == "observation"]
    assert observations == ["42", "THE ANSWER IS 42"]
    last_prompt = model.requests[-1].messages[-1].content
    assert "Observation: 42\n" in last_prompt and "Observation: THE ANSWER IS 42\n" in last_prompt
    assert "invented!" not in last_prompt  # a made-up observation is cut off
    assert "\nObservation:" in model.requests[0].stop
    assert [e.name for e in events if e.kind == "node.step"] == kinds(out["steps"])
    assert [e.text for e in events if e.kind == "node.token"] == ["THE ANSWER IS 42"]


def test_react_agent_answers_malformed_replies_unknown_tools_and_bad_arguments_as_observations() -> None:
    model = ReplayModel([
        "I think the answer might be 42.",
        "Thought: use the magic tool\nAction: magic\nAction Input: {}",
        'Thought: calculate\nAction: calculator\nAction Input: {"expression": 6 * 7}',
        'Thought: calculate\nAction: calculator\nAction Input: {"expr": "6 * 7"}',
        "Thought: try the broken one\nAction: broken\nAction Input: {}",
        "Final Answer: 42",
    ])
    out = agent(react_agent, model, tools=[CALC, BROKEN])
    seen = [s.get("text") or s.get("error") for s in out["steps"] if s["step"] in ("observation", "invalid_reply")]
    assert seen[0].startswith("Invalid format: write 'Action:' with a tool name")
    assert seen[1] == "Error: there is no tool named 'magic'. Available tools: calculator, broken."
    assert seen[2].startswith("Error: the arguments for 'calculator' are not a JSON object: {\"expression\": 6 * 7}")
    assert seen[3].startswith("Error: tool 'calculator' got bad arguments: arguments: 'expression' is a required "
                              "property; arguments: Additional properties are not allowed ('expr' was unexpected)")
    assert seen[4] == "Error: RuntimeError: the disk is on fire"
    assert out["answer"] == "42" and out["stop_reason"] == "final_answer"
    assert "Observation: Invalid format" in model.requests[1].messages[-1].content


def test_react_agent_stops_at_the_iteration_cap() -> None:
    loop = 'Thought: again\nAction: calculator\nAction Input: {"expression": "1 + 1"}'
    out = agent(react_agent, ReplayModel([loop] * 3), max_iterations=3)
    assert out["stop_reason"] == "max_iterations"
    assert out["answer"] == "The agent stopped after 3 iterations without a final answer. Last observation: 2"
    assert out["steps"][-1] == {"step": "stopped", "reason": "max_iterations", "iterations": 3, "tokens": 45}


def test_the_iteration_cap_can_fail_the_node() -> None:
    loop = 'Action: calculator\nAction Input: {"expression": "1"}'
    with pytest.raises(Exception, match="The agent stopped after 2 iterations without a final answer"):
        agent(react_agent, ReplayModel([loop] * 2), max_iterations=2, on_limit="fail")


def test_token_and_time_caps() -> None:
    loop = 'Action: calculator\nAction Input: {"expression": "1"}'
    by_tokens = agent(react_agent, ReplayModel([loop] * 5, tokens=400), max_total_tokens=1000)
    assert by_tokens["stop_reason"] == "max_tokens" and kinds(by_tokens["steps"]).count("model_call") == 3
    by_time = agent(react_agent, ReplayModel([loop] * 5, delay=5), max_seconds=0.05)
    assert by_time["stop_reason"] == "max_time"
    assert by_time["answer"] == "The agent stopped after 0.05 seconds without a final answer."


def test_parse_react_reads_what_models_write() -> None:
    assert parse_react("```json\n{\"action\": \"shout\", \"action_input\": {\"text\": \"x\"}}\n```").calls[0] \
        .arguments == {"text": "x"}
    assert parse_react('{"action": "Final Answer", "action_input": "done"}').answer == "done"
    both = parse_react("Thought: hm\nFinal Answer: 3\nAction: calculator\nAction Input: {}")
    assert both.answer == "3" and both.thought == "hm"
    assert parse_react("Action 1: shout\nAction 1 Input: ```{\"text\": \"a\"}```").calls[0].arguments == {"text": "a"}


# ---------------------------------------------------------------- tool calling
def test_tool_calling_agent_runs_parallel_calls_and_answers() -> None:
    model = ReplayModel([
        ("Two things at once.", [("calculator", {"expression": "6 * 7"}), ("shout", {"text": "hi"})]),
        "The product is 42 and the shout is HI.",
    ])
    out = agent(tool_calling_agent, model)
    assert out["answer"] == "The product is 42 and the shout is HI." and out["stop_reason"] == "final_answer"
    assert kinds(out["steps"]) == ["start", "model_call", "thought", "tool_call", "tool_call", "observation",
                                   "observation", "model_call", "final_answer"]
    second = model.requests[1]
    assert [(m.role, m.content, m.tool_call_id) for m in second.messages[-2:]] == \
        [("tool", "42", "c1_0"), ("tool", "HI", "c1_1")]
    assert [t.name for t in second.tools] == ["calculator", "shout"]
    assert second.tools[0].parameters["required"] == ["expression"]


def test_tool_calling_agent_reports_unknown_tools_and_raw_arguments() -> None:
    model = ReplayModel([("", [("nope", {}), ("calculator", {"_raw": "{oops"})]), "Sorry."])
    out = agent(tool_calling_agent, model)
    texts = [s["text"] for s in out["steps"] if s["step"] == "observation"]
    assert texts == ["Error: there is no tool named 'nope'. Available tools: calculator, shout.",
                     "Error: the arguments for 'calculator' are not a JSON object: {oops"]


def test_tool_calling_agent_through_a_flow_with_the_scripted_provider() -> None:
    responses = [{"text": "", "tool_calls": [{"name": "calculator", "arguments": {"expression": "2 ** 10"}}]},
                 "2 to the 10th is 1024."]
    flow = make_flow({"q": ("input.text", {"name": "q"}), "calc": ("tool.calculator", {}),
                      "agent": ("agent.tool_calling", {"provider": "scripted", "responses": responses}),
                      "out": ("output.text", {"name": "answer"}), "why": ("output.text", {"name": "why"})},
                     [("q.text", "agent.input"), ("calc.tool", "agent.tools"), ("agent.answer", "out.value"),
                      ("agent.stop_reason", "why.value")])
    result = run(flow, {"q": "What is 2 to the 10th?"})
    assert result.outputs == {"answer": "2 to the 10th is 1024.", "why": "final_answer"}
    steps = [(e.name, e.data.get("tool")) for e in result.events if e.kind == "node.step"]
    assert ("tool_call", "calculator") in steps and ("observation", "calculator") in steps
    finished = next(e for e in result.events if e.kind == "node.finished" and e.node == "agent")
    assert finished.usage["total_tokens"] > 0  # type: ignore[attr-defined]


# ---------------------------------------------------------------- plan and execute
def test_plan_and_execute_plans_executes_replans_and_answers() -> None:
    model = ReplayModel([
        "1. Multiply six by seven\n2. Look up the moon's mass",           # plan
        ("", [("calculator", {"expression": "6 * 7"})]), "42",            # step 1: a tool call, then its result
        "FAILED: there is no tool that knows about the moon",            # step 2 fails
        "1. Shout the product",                                          # new plan
        ("", [("shout", {"text": "42"})]), "Shouted: 42",                 # step 3
        "Six times seven is 42, shouted: 42.",                           # answer
    ])
    out = agent(plan_execute_agent, model)
    assert out["answer"] == "Six times seven is 42, shouted: 42." and out["stop_reason"] == "final_answer"
    plans = [(s["step"], s["steps"]) for s in out["steps"] if s["step"] in ("plan", "replan")]
    assert plans == [("plan", ["Multiply six by seven", "Look up the moon's mass"]),
                     ("replan", ["Shout the product"])]
    assert [s["reason"] for s in out["steps"] if s["step"] == "step_failed"] == \
        ["there is no tool that knows about the moon"]
    replan_prompt = model.requests[4].messages[-1].content
    assert "1. Multiply six by seven -> 42" in replan_prompt and "failed: there is no tool" in replan_prompt
    assert "2. Look up the moon's mass -> FAILED: there is no tool that knows about the moon\n3. Shout the product " \
           "-> Shouted: 42" in model.requests[-1].messages[-1].content


def test_plan_and_execute_stops_replanning_after_its_limit() -> None:
    model = ReplayModel(["1. Do the impossible", "FAILED: impossible", "1. Try again", "FAILED: still impossible",
                         "Nothing could be done."])
    out = agent(plan_execute_agent, model, max_replans=1)
    assert [s["step"] for s in out["steps"]].count("step_failed") == 2
    assert out["answer"] == "Nothing could be done."


def test_parse_plan_reads_lists() -> None:
    assert parse_plan("Plan:\n1. a\n2) b\n- c\nStep 4: d", 3) == ["a", "b", "c"]
    assert parse_plan("first\nsecond", 5) == ["first", "second"]


# ---------------------------------------------------------------- offline policy, memory
def test_offline_agents_follow_the_fixed_policy() -> None:
    flow = make_flow({"q": ("input.text", {"name": "q"}), "calc": ("tool.calculator", {}),
                      "agent": ("agent.react", {}), "out": ("output.text", {"name": "answer"})},
                     [("q.text", "agent.input"), ("calc.tool", "agent.tools"), ("agent.answer", "out.value")])
    result = run(flow, {"q": "What is 17 * 23, and 2 ^ 8?"})
    assert result.outputs == {"answer": "17 * 23 = 391 2 ^ 8 = 256"}
    thoughts = [e.data["text"] for e in result.events if e.kind == "node.step" and e.name == "thought"]
    assert thoughts[0] == "(offline policy) the task contains arithmetic, so calculate 17 * 23"
    assert expressions("no numbers here") == []


def test_offline_plan_and_execute_takes_a_step_per_clause() -> None:
    out = agent(plan_execute_agent, None, task="Compute 2 + 2. Then compute 3 * 3.",  # type: ignore[arg-type]
                tools=[CALC])
    assert out["answer"] == "2 + 2 = 4 3 * 3 = 9"
    assert next(s for s in out["steps"] if s["step"] == "plan")["steps"] == ["Compute 2 + 2.", "compute 3 * 3."]


def test_agents_load_and_save_memory(tmp_path: Path) -> None:
    flow = make_flow({"q": ("input.text", {"name": "q"}), "mem": ("memory.buffer", {}),
                      "agent": ("agent.tool_calling", {"provider": "scripted", "responses": ["Hello Ada."]}),
                      "out": ("output.text", {"name": "answer"})},
                     [("q.text", "agent.input"), ("mem.memory", "agent.memory"), ("agent.answer", "out.value")])
    runner = Runner(default_registry(), services={"home": str(tmp_path)})
    runner.run(flow, {"q": "I am Ada."}, session_id="s")
    second = runner.run(flow, {"q": "Who am I?"}, session_id="s")
    start = next(e for e in second.events if e.kind == "node.step" and e.name == "start")
    assert start.data["remembered_turns"] == 1
    other = runner.run(flow, {"q": "Who am I?"}, session_id="t")
    assert next(e for e in other.events if e.kind == "node.step" and e.name == "start").data["remembered_turns"] == 0


def test_an_agent_without_a_task_says_so() -> None:
    with pytest.raises(Exception, match="input 'input' is empty; the agent has no task"):
        agent(tool_calling_agent, ReplayModel([]), task="  ")


def test_agent_configs_bound_their_limits() -> None:
    for config in (AgentConfig, ToolCallingConfig, PlanExecuteConfig):
        with pytest.raises(ValidationError):
            config(max_iterations=0)


# ---------------------------------------------------------------- native tool calling through the real SDKs
def provider_agent(provider: str, url: str) -> Any:
    return make_flow({"q": ("input.text", {"name": "q"}), "calc": ("tool.calculator", {}),
                      "agent": ("agent.tool_calling", {"provider": provider, "base_url": url, "model": "fake-model",
                                                       "api_key_env": "CHAINLOOM_TEST_AGENT_KEY"}),
                      "out": ("output.text", {"name": "answer"})},
                     [("q.text", "agent.input"), ("calc.tool", "agent.tools"), ("agent.answer", "out.value")])


TWO_CALLS = [{"id": "call_a", "name": "calculator", "arguments": {"expression": "6 * 7"}},
             {"id": "call_b", "name": "calculator", "arguments": {"expression": "2 ** 10"}}]


def test_tool_calling_agent_with_the_openai_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAINLOOM_TEST_AGENT_KEY", TEST_KEY)
    with FakeOpenAIServer() as server:
        server.queue(Reply(text="", finish_reason="tool_calls", tool_calls=TWO_CALLS), Reply(text="42 and 1024."))
        result = run(provider_agent("openai", server.url), {"q": "What are 6*7 and 2**10?"})
    assert result.outputs == {"answer": "42 and 1024."}, result.error
    first, second = (r.body for r in server.requests)
    assert [t["function"]["name"] for t in first["tools"]] == ["calculator"]
    assert second["messages"][-3:] == [
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call_a", "type": "function", "function": {"name": "calculator",
                                                              "arguments": '{"expression": "6 * 7"}'}},
            {"id": "call_b", "type": "function", "function": {"name": "calculator",
                                                              "arguments": '{"expression": "2 ** 10"}'}}]},
        {"role": "tool", "content": "42", "tool_call_id": "call_a"},
        {"role": "tool", "content": "1024", "tool_call_id": "call_b"}]


def test_tool_calling_agent_with_the_cohere_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAINLOOM_TEST_AGENT_KEY", TEST_KEY)
    with FakeCohereServer() as server:
        server.queue(Reply(text="", finish_reason="TOOL_CALL", tool_calls=TWO_CALLS), Reply(text="42 and 1024."))
        result = run(provider_agent("cohere", server.url), {"q": "What are 6*7 and 2**10?"})
    assert result.outputs == {"answer": "42 and 1024."}, result.error
    second = server.requests[1].body
    tool_messages = [m for m in second["messages"] if m["role"] == "tool"]
    assert [(m["tool_call_id"], m["content"]) for m in tool_messages] == [("call_a", "42"), ("call_b", "1024")]
