"""Live run state: runs off the calling thread, folds events, replays traces."""

from __future__ import annotations

import threading

from engine.events import Event
from engine.runner import Runner
from tests.ui.demo_nodes import qa_flow, registry
from ui.live import LiveRun

WAIT = 30


def test_a_run_in_its_own_thread_reports_statuses_tokens_and_outputs() -> None:
    flow = qa_flow()
    seen: list[str] = []
    live = LiveRun(node_ids=[n.id for n in flow.nodes], inputs={"question": "why"})
    assert live.snapshot().statuses() == dict.fromkeys(["question", "prompt", "llm", "answer"], "queued")
    original = live.handle

    def spy(event: Event) -> None:
        seen.append(threading.current_thread().name)
        original(event)

    live.handle = spy  # type: ignore[method-assign]
    live.start(Runner(registry()), flow, {"question": "why"})
    assert live.wait(WAIT)
    snap = live.snapshot()
    assert snap.status == "succeeded" and snap.outputs == {"answer": "Q: WHY"}
    assert snap.statuses() == dict.fromkeys(["question", "prompt", "llm", "answer"], "done")
    llm = snap.nodes["llm"]
    assert llm.tokens == "Q: WHY " and llm.inputs == {"prompt": "Q: why", "model": None}
    assert llm.outputs == {"text": "Q: WHY", "usage": {"words": 2}}
    assert llm.usage == {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4, "model": "shout"}
    assert llm.duration is not None and snap.events > 0
    assert threading.current_thread().name not in seen


def test_a_failed_node_carries_its_error_and_hint() -> None:
    flow = qa_flow(fail=True)
    live = LiveRun().start(Runner(registry()), flow, {"question": "q"})
    assert live.wait(WAIT)
    snap = live.snapshot()
    assert (snap.status, snap.failed_node) == ("failed", "llm")
    assert snap.nodes["llm"].status == "failed"
    assert snap.nodes["llm"].error == "the model refused on purpose"
    assert snap.error == "node 'llm' (demo.llm) failed: the model refused on purpose"
    assert snap.nodes["llm"].hint == "untick 'Fail' in the node's properties"
    assert snap.nodes["answer"].status == "cancelled"


def test_problems_before_the_run_end_it_with_a_message() -> None:
    live = LiveRun().start(Runner(registry()), qa_flow(), {})
    assert live.wait(WAIT)
    snap = live.snapshot()
    assert snap.status == "failed" and "flow input 'question' (node 'question') is required" in snap.error
    broken = qa_flow(temperature=9)
    live = LiveRun().start(Runner(registry()), broken, {"question": "q"})
    assert live.wait(WAIT)
    snap = live.snapshot()
    assert snap.status == "failed" and snap.error.startswith("the flow has problems, nothing was run")
    assert "config field 'temperature'" in snap.error


def test_replaying_a_trace_gives_the_same_view() -> None:
    flow = qa_flow()
    live = LiveRun().start(Runner(registry()), flow, {"question": "x"})
    assert live.wait(WAIT)
    events = [e.to_dict() for e in live.result.events]
    again = LiveRun.replay(events).snapshot()
    first = live.snapshot()
    assert again.run_id == first.run_id and again.statuses() == first.statuses()
    assert again.outputs == first.outputs and again.nodes["llm"].tokens == first.nodes["llm"].tokens


def test_stopping_a_live_run_cancels_it() -> None:
    import asyncio

    from engine.flow import parse_flow
    from engine.node import FlowInputConfig, FlowOutputConfig, NodeConfig, NodeSpec
    from engine.ports import Port, PortType
    from engine.registry import Registry

    started = threading.Event()

    async def wait_forever(config: NodeConfig, inputs: dict, ctx: object) -> dict:
        started.set()
        await asyncio.sleep(60)
        return {"text": inputs["text"]}

    text = [Port("text", PortType.TEXT)]
    reg = Registry([
        NodeSpec("input.text", 1, "In", "", FlowInputConfig, lambda c, i, x: {"text": "x"}, outputs=text,
                 role="input", blocking=False),
        NodeSpec("slow.wait", 1, "Wait", "", NodeConfig, wait_forever, inputs=text, outputs=text),
        NodeSpec("output.text", 1, "Out", "", FlowOutputConfig, lambda c, i, x: {"value": i["value"]},
                 inputs=[Port("value", PortType.TEXT)], role="output", blocking=False)])
    flow = parse_flow({"schema_version": 1, "id": "s", "nodes": [
        {"id": "q", "type": "input.text", "config": {"name": "q", "required": False}},
        {"id": "w", "type": "slow.wait"}, {"id": "o", "type": "output.text", "config": {"name": "o"}}],
        "edges": [{"from": "q.text", "to": "w.text"}, {"from": "w.text", "to": "o.value"}]})
    live = LiveRun(node_ids=["q", "w", "o"]).start(Runner(reg), flow, {})
    assert started.wait(WAIT)
    live.cancel()
    assert live.wait(WAIT)
    snap = live.snapshot()
    assert snap.status == "cancelled" and snap.statuses() == {"q": "done", "w": "cancelled", "o": "cancelled"}
