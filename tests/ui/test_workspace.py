"""The editing model: node ids and placement, connections, renames, undo, pushes."""

from __future__ import annotations

from engine.flow import dumps_flow
from tests.ui.demo_nodes import qa_flow, registry
from ui import canvas
from ui.canvas import CanvasEvent
from ui.live import LiveRun
from ui.workspace import PUSH_AHEAD_MS, Workspace, slug, unique_id

REG = registry()


def loaded() -> Workspace:
    ws = Workspace()
    ws.load(qa_flow(), version=3, source="saved")
    return ws


def edges(ws: Workspace) -> set[str]:
    return {canvas.edge_id(e) for e in ws.flow.edges}


def test_ids_come_from_titles_and_stay_unique() -> None:
    assert slug("Offline model") == "offline_model" and slug("9 lives") == "node_9_lives" and slug("") == "node"
    assert unique_id("llm", {"llm", "llm_2"}) == "llm_3"
    ws = loaded()
    first = ws.add_node(REG.get("demo.llm"))
    second = ws.add_node(REG.get("demo.llm"))
    assert (first, second) == ("offline_model", "offline_model_2")
    assert ws.add_node(REG.get("input.text")) == "text_input"
    assert ws.flow.node("text_input").config == {"name": "text_input"}  # type: ignore[union-attr]


def test_adding_a_node_moves_no_other_node_and_overlaps_none() -> None:
    ws = loaded()
    before = {n.id: n.position for n in ws.flow.nodes}
    ws.selected = "llm"
    new = ws.add_node(REG.get("demo.any"))
    assert {n.id: n.position for n in ws.flow.nodes if n.id != new} == before
    assert ws.flow.node(new).position == (540.0, 150.0)  # type: ignore[union-attr]  # below-right of llm
    assert ws.selected == new and ws.dirty


def test_connect_wires_asks_or_refuses() -> None:
    ws = loaded()
    join = ws.add_node(REG.get("demo.join"))
    ws.connect("prompt", join, REG)
    assert f"prompt.prompt->{join}.values" in edges(ws) and ws.selected == f"prompt.prompt->{join}.values"
    ws.connect("llm", join, REG)             # llm has text and usage; only text fits Text
    assert f"llm.text->{join}.values" in edges(ws)
    ws.delete_edge("question.text->prompt.question")
    ws.connect("question", "prompt", REG)    # question and context both take Text
    assert ws.pending is not None and [p[1] for p in ws.pending.pairs] == ["context", "question"]
    ws.choose(1)
    assert "question.text->prompt.question" in edges(ws) and ws.pending is None
    ws.connect("answer", "llm", REG)
    assert ws.notices[-1].text.startswith("'answer' has no outputs")
    ws.connect(join, "prompt", REG)          # prompt -> join exists
    assert ws.notices[-1].text == f"connecting '{join}' to 'prompt' would make a cycle; flows are acyclic"
    extra = ws.add_node(REG.get("input.text"))
    ws.connect(extra, "prompt", REG)         # 'question' is taken, so 'context'
    assert f"{extra}.text->prompt.context" in edges(ws)
    more = ws.add_node(REG.get("input.text"))
    ws.connect(more, "prompt", REG)
    assert "every input of 'prompt' that fits (context, question) is already connected" in ws.notices[-1].text
    count = len(ws.flow.edges)
    ws.connect(more, "ghost", REG)           # a node that is gone by the time the event arrives
    assert len(ws.flow.edges) == count


def test_change_id_rewrites_edges_and_refuses_bad_ids() -> None:
    ws = loaded()
    ws.selected = "llm"
    assert ws.change_id("llm", "model") is None
    assert {"prompt.prompt->model.prompt", "model.text->answer.value"} <= edges(ws) and ws.selected == "model"
    assert ws.change_id("model", "prompt") == "the id 'prompt' is already used by another node"
    assert ws.change_id("model", "../x").startswith("an id starts with a letter")  # type: ignore[union-attr]
    assert ws.rename("model", "The model") is None and ws.flow.node("model").name == "The model"  # type: ignore[union-attr]


def test_undo_restores_the_previous_flow_and_redraws() -> None:
    ws = loaded()
    original = dumps_flow(ws.flow)
    ws.delete_node("llm")
    assert ws.flow.node("llm") is None and not any("llm" in e for e in edges(ws))
    assert ws.undo() and dumps_flow(ws.flow) == original and ws.force_push and not ws.dirty
    assert not ws.undo()


def test_a_new_flow_id_is_a_new_stored_flow() -> None:
    ws = loaded()
    assert ws.set_flow_info(name="Renamed") is None and ws.version == 3
    assert ws.set_flow_info(flow_id="other") is None and ws.version is None and ws.flow.id == "other"
    assert ws.set_flow_info(flow_id="bad id") is not None


def test_pushes_happen_for_model_changes_but_not_for_moves_and_clicks() -> None:
    ws = loaded()
    first, pushed = ws.canvas_state(REG)
    assert pushed and first.timestamp >= canvas.now_ms() + PUSH_AHEAD_MS - 60_000
    again, pushed = ws.canvas_state(REG)
    assert not pushed and again.timestamp == 0     # the component ignores it: the user's view stays
    ws.apply_event(CanvasEvent(timestamp=5, selected="llm", moved={"llm": (1.0, 2.0)}), REG)
    state, pushed = ws.canvas_state(REG)
    assert not pushed and ws.flow.node("llm").position == (1.0, 2.0) and ws.selected == "llm"  # type: ignore[union-attr]
    assert next(n for n in state.nodes if n.id == "llm").position == {"x": 1.0, "y": 2.0}
    ws.rename("llm", "Model")
    state, pushed = ws.canvas_state(REG)
    assert pushed and state.timestamp > first.timestamp


def test_run_statuses_and_problems_become_node_looks() -> None:
    ws = loaded()
    ws.set_config("llm", {"temperature": 9})
    looks = ws.looks(REG)
    assert looks["llm"].problems and looks["llm"].problems[0].startswith("node 'llm': config field 'temperature'")
    ws.run = LiveRun.replay([
        {"kind": "run.started", "run_id": "r1", "flow_id": "qa", "nodes": ["question", "prompt", "llm", "answer"]},
        {"kind": "node.finished", "run_id": "r1", "node": "prompt", "type": "demo.prompt", "duration": 0.25,
         "usage": {"total_tokens": 12}},
        {"kind": "node.started", "run_id": "r1", "node": "llm", "type": "demo.llm"},
    ])
    looks = ws.looks(REG)
    assert (looks["prompt"].status, looks["prompt"].note) == ("done", "0.25 s · 12 tok")
    assert looks["llm"].status == "running" and looks["answer"].status == "queued"
    _, pushed = ws.canvas_state(REG)
    assert pushed


def test_notices_keep_the_newest_few() -> None:
    ws = Workspace()
    for n in range(5):
        ws.note("info", f"n{n}")
    assert [n.text for n in ws.current_notices()] == ["n2", "n3", "n4"]


def test_a_static_output_may_feed_a_node_upstream_of_its_own_node() -> None:
    """A parser's format instructions go into the prompt that feeds the parser: no cycle."""
    from engine.flow import parse_flow
    from nodes.registry import default_registry
    from ui.workspace import Workspace

    registry = default_registry()
    ws = Workspace()
    ws.load(parse_flow({"schema_version": 1, "id": "p", "nodes": [
        {"id": "prompt", "type": "prompt.template", "config": {"template": "{question}\n{format}"}},
        {"id": "llm", "type": "llm.chat", "config": {}},
        {"id": "parse", "type": "parser.json", "config": {}}],
        "edges": [{"from": "prompt.prompt", "to": "llm.prompt"}, {"from": "llm.text", "to": "parse.text"}]}),
        version=None, source="test")
    ws.connect("parse", "prompt", registry)  # two Text inputs fit: the panel asks which
    assert ws.pending is not None and [c[:2] for c in ws.pending.pairs] == [
        ("format_instructions", "format"), ("format_instructions", "question")]
    ws.choose(0)
    assert "parse.format_instructions" in [e.source for e in ws.flow.edges]
    ws.connect("llm", "prompt", registry)  # a real cycle is still refused
    assert not any(e.source == "llm.text" and e.target_node == "prompt" for e in ws.flow.edges)
