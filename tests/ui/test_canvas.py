"""Flow <-> canvas conversion: round trips, placement, events, looks."""

from __future__ import annotations

import json

from streamlit_flow.elements import StreamlitFlowEdge, StreamlitFlowNode
from streamlit_flow.state import StreamlitFlowState

from engine.flow import dumps_flow, parse_flow
from tests.ui.demo_nodes import qa_flow, registry
from ui import canvas
from ui.canvas import NodeLook, canvas_to_flow, flow_to_canvas, read_event


def frontend_value(state: StreamlitFlowState, **changes: object) -> dict[str, object]:
    """What the component sends back: the args it got, as JSON, plus the user's change."""
    value = json.loads(json.dumps({"nodes": [n.asdict() for n in state.nodes],
                                   "edges": [e.asdict() for e in state.edges],
                                   "selectedId": None, "timestamp": state.timestamp + 5}))
    value.update(changes)
    return value


def test_round_trip_through_the_frontend_keeps_everything() -> None:
    flow = qa_flow()
    state = flow_to_canvas(flow, registry())
    back = canvas_to_flow(frontend_value(state), flow)
    assert dumps_flow(back) == dumps_flow(flow)


def test_round_trip_through_the_python_wrapper_keeps_ports_from_ids_and_labels() -> None:
    flow = qa_flow()
    value = frontend_value(flow_to_canvas(flow, registry()))
    # streamlit_flow() rebuilds elements with from_dict, which drops edge `data` and className
    wrapped = StreamlitFlowState(
        nodes=[StreamlitFlowNode.from_dict(n) for n in value["nodes"]],
        edges=[StreamlitFlowEdge.from_dict(e) for e in value["edges"]])
    assert dumps_flow(canvas_to_flow(wrapped, flow)) == dumps_flow(flow)


def test_edge_ports_survive_in_the_label_when_the_id_is_foreign() -> None:
    edge = canvas.parse_edge({"id": "whatever", "source": "a", "target": "b", "label": "text → question"})
    assert edge is not None and (edge.source, edge.target) == ("a.text", "b.question")
    assert canvas.parse_edge({"id": "st-flow-edge_a-b", "source": "a", "target": "b"}) is None


def test_nodes_without_positions_are_laid_out_by_depth_without_overlap() -> None:
    flow = qa_flow()
    flow = flow.model_copy(update={"nodes": [n.model_copy(update={"position": None}) for n in flow.nodes]})
    pos = canvas.layout_positions(flow)
    xs = [pos[n][0] for n in ("question", "prompt", "llm", "answer")]
    assert xs == sorted(xs) and len(set(xs)) == 4
    filled = canvas.with_positions(flow)
    assert all(n.position is not None for n in filled.nodes)
    assert dumps_flow(canvas_to_flow(frontend_value(flow_to_canvas(filled, registry())), filled)) == dumps_flow(filled)


def test_a_new_node_goes_next_to_the_selected_one_and_moves_nobody() -> None:
    taken = [(0.0, 0.0), (270.0, 0.0)]
    assert canvas.free_position(taken, near=(0.0, 0.0)) == (0.0, 150.0)   # right is taken: below
    assert canvas.free_position(taken, near=(270.0, 0.0)) == (540.0, 0.0)
    # nothing selected: the first gap inside the nodes' bounding box, then the row below it
    assert canvas.free_position([(0.0, 0.0), (540.0, 0.0)]) == (270.0, 0.0)
    assert canvas.free_position(taken) == (0.0, 150.0)
    assert canvas.free_position([]) == canvas.ORIGIN


def test_read_event_reports_moves_connections_and_selection() -> None:
    flow = qa_flow()
    state = flow_to_canvas(flow, registry())
    value = frontend_value(state, selectedId="st-flow-edge_question-llm")
    value["nodes"][0]["position"] = {"x": 12.4, "y": -3}
    value["edges"].append({"id": "st-flow-edge_question-llm", "source": "question", "target": "llm"})
    event = read_event(value, flow)
    assert event.moved == {"question": (12.4, -3.0)}
    assert event.connects == [("question", "llm")]
    assert event.selected is None


def test_read_event_finds_a_second_connection_between_the_same_nodes_from_its_id() -> None:
    flow = qa_flow()
    value = frontend_value(flow_to_canvas(flow, registry()), selectedId="st-flow-edge_prompt-llm")
    assert read_event(value, flow).connects == [("prompt", "llm")]


def test_read_event_selects_nodes_and_our_edges_and_ignores_deletions() -> None:
    flow = qa_flow()
    value = frontend_value(flow_to_canvas(flow, registry()), selectedId="llm")
    value["edges"] = []   # e.g. a keyboard delete: not reported, so not applied
    event = read_event(value, flow)
    assert (event.selected, event.empty) == ("llm", True)
    value["selectedId"] = "prompt.prompt->llm.prompt"
    assert read_event(value, flow).selected == "prompt.prompt->llm.prompt"


def test_status_and_problems_show_on_the_node() -> None:
    flow = qa_flow()
    state = flow_to_canvas(flow, registry(), looks={
        "llm": NodeLook(status="done", note="0.2 s"),
        "prompt": NodeLook(problems=("config field 'template': bad",)),
    }, selected="answer")
    nodes = {n.id: n.asdict() for n in state.nodes}
    assert "cl-status-done" in nodes["llm"]["className"]
    assert nodes["llm"]["style"]["background"] == canvas.STATUS_STYLE["done"]["background"]
    assert "● done" in nodes["llm"]["data"]["content"]
    assert "cl-invalid" in nodes["prompt"]["className"] and "⚠ 1 problem" in nodes["prompt"]["data"]["content"]
    assert nodes["answer"]["selected"] is True
    assert nodes["question"]["type"] == "input" and nodes["answer"]["type"] == "output"
    content = nodes["llm"]["data"]["content"]
    assert "`demo.llm`" in content and "in: prompt, model" in content and "out: text, usage" in content


def test_user_text_cannot_inject_markup_into_a_node() -> None:
    flow = parse_flow({"schema_version": 1, "id": "x", "nodes": [
        {"id": "a", "type": "demo.any", "name": "<img src=x onerror=alert(1)> **b**"}]})
    content = flow_to_canvas(flow, registry()).nodes[0].data["content"]
    assert "<img" not in content and "&lt;img" in content and "\\*\\*b\\*\\*" in content


def test_unknown_types_are_drawn_and_flagged() -> None:
    flow = parse_flow({"schema_version": 1, "id": "x", "nodes": [{"id": "a", "type": "nope.thing"}]})
    assert "⚠ unknown type" in flow_to_canvas(flow, registry()).nodes[0].data["content"]
