"""The builder's pages, driven with streamlit.testing.v1.AppTest.

A canvas action is simulated the way the component reports one: by putting
{nodes, edges, selectedId, timestamp} under the component's key and re-running.
Runs use the real node catalog and store in a temporary CHAINLOOM_HOME.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from engine.flow import Flow, dumps_flow, parse_flow
from engine.runner import Runner
from engine.store import open_store
from nodes.registry import default_registry
from ui import canvas
from ui.views.common import WS_KEY
from ui.workspace import Workspace

APP = str(Path(__file__).resolve().parents[2] / "ui" / "app.py")
WAIT = 60


def qa_flow(flow_id: str = "qa") -> Flow:
    return parse_flow({
        "schema_version": 1, "id": flow_id, "name": "Question answering",
        "nodes": [
            {"id": "question", "type": "input.text", "position": [0, 0],
             "config": {"name": "question", "default": "What is chainloom?"}},
            {"id": "prompt", "type": "prompt.template", "position": [260, 0],
             "config": {"template": "chainloom builds flows.\nQuestion: {question}"}},
            {"id": "llm", "type": "llm.chat", "position": [520, 0], "config": {"provider": "offline"}},
            {"id": "answer", "type": "output.text", "position": [780, 0], "config": {"name": "answer"}},
        ],
        "edges": [{"from": "question.text", "to": "prompt.question"}, {"from": "prompt.prompt", "to": "llm.prompt"},
                  {"from": "llm.text", "to": "answer.value"}],
    })


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CHAINLOOM_HOME", str(tmp_path / "home"))
    examples = tmp_path / "examples"
    examples.mkdir()
    (examples / "qa.json").write_text(dumps_flow(qa_flow()), encoding="utf-8")
    monkeypatch.setenv("CHAINLOOM_EXAMPLES", str(examples))
    return tmp_path / "home"


def start(**query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=WAIT)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def ws_of(at: AppTest) -> Workspace:
    return at.session_state[WS_KEY]  # type: ignore[no-any-return]


def canvas_event(at: AppTest, *, selected: str | None = None, new_edges: tuple[tuple[str, str], ...] = (),
                 moves: dict[str, tuple[float, float]] | None = None) -> AppTest:
    """Re-run as if the user acted on the canvas: the component's value under its key."""
    ws = ws_of(at)
    state = canvas.flow_to_canvas(ws.flow, default_registry())
    value: dict[str, Any] = json.loads(json.dumps({"nodes": [n.asdict() for n in state.nodes],
                                                   "edges": [e.asdict() for e in state.edges]}))
    for node in value["nodes"]:
        if moves and node["id"] in moves:
            node["position"] = {"x": moves[node["id"]][0], "y": moves[node["id"]][1]}
    for source, target in new_edges:
        value["edges"].append({"id": f"st-flow-edge_{source}-{target}", "source": source, "target": target})
        selected = f"st-flow-edge_{source}-{target}"
    value["selectedId"] = selected
    value["timestamp"] = max(int(time.time() * 1000), ws.last_event_ts + 1)
    at.session_state[f"canvas_{ws.canvas_gen}"] = value
    at.run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    """Everything the page shows as text, with the markdown escaping of user text undone."""
    parts = [e.value for kind in ("markdown", "caption", "success", "error", "info", "warning", "code")
             for e in getattr(at, kind)]
    return unescape("\n".join(str(p) for p in parts))


def unescape(text: str) -> str:
    """Undo ui.canvas.md_escape (user text is escaped before Streamlit renders it as markdown)."""
    return re.sub(r"\\(.)", r"\1", text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def by_key(at: AppTest, key: str) -> Any:
    return next(w for kind in ("button", "text_input", "text_area", "selectbox", "checkbox", "number_input")
                for w in getattr(at, kind) if w.key == key)


def field_key(ws: Workspace, node: str, field: str) -> str:
    return f"p:{ws.canvas_gen}:{ws.form_gen}:{node}:cfg:{field}"


def drawn_canvas(at: AppTest) -> dict[str, Any]:
    """The args the page gave the canvas component in the last run."""
    (element,) = at.get("component_instance")
    return json.loads(element.proto.json_args)  # type: ignore[no-any-return]


def panel_switch(at: AppTest) -> Any:
    (control,) = [s for s in at.segmented_control if s.key and s.key.startswith("panel_")]
    return control


def switch(at: AppTest, name: str) -> AppTest:
    """Click a side panel tab."""
    panel_switch(at).set_value(name).run()
    assert not at.exception, at.exception
    return at


def run_to_end(at: AppTest) -> AppTest:
    ws = ws_of(at)
    assert ws.run is not None and ws.run.wait(WAIT)
    at.run()
    assert not at.exception, at.exception
    return at


# ---------------------------------------------------------------- tests
def test_empty_page_offers_the_palette_and_the_library(home: Path) -> None:
    at = start()
    labels = {b.label for b in at.button}
    assert {"+ Text input", "+ Chat model", "+ Prompt template", "💾 Save"} <= labels
    assert "never saved" in texts(at)
    assert drawn_canvas(at)["nodes"] == []


def test_palette_search_and_add_keep_other_nodes_in_place(home: Path) -> None:
    at = start(example="qa")
    before = {n.id: n.position for n in ws_of(at).flow.nodes}
    at.text_input(key="palette_q").set_value("transform.text").run()
    assert [b.label for b in at.button if b.key and b.key.startswith("add:")] == ["+ Text transform"]
    at.button(key="add:transform.text").click().run()
    ws = ws_of(at)
    assert {n.id: n.position for n in ws.flow.nodes if n.id in before} == before
    added = ws.flow.node("text_transform")
    assert added is not None and added.position not in before.values() and ws.selected == "text_transform"
    drawn = {n["id"]: n for n in drawn_canvas(at)["nodes"]}
    assert "cl-invalid" in drawn["text_transform"]["className"]   # its input is not connected yet
    assert "Text transform" in texts(at) and "text_transform" in {w.value for w in at.text_input}


def test_connect_unique_ambiguous_and_incompatible(home: Path) -> None:
    at = start(example="qa")
    at.button(key="add:transform.text").click().run()
    canvas_event(at, new_edges=(("llm", "text_transform"),))
    ws = ws_of(at)
    assert "llm.text->text_transform.text" in {canvas.edge_id(e) for e in ws.flow.edges}
    assert "connected llm.text → text_transform.text" in texts(at)
    edge = next(e for e in drawn_canvas(at)["edges"] if e["id"] == "llm.text->text_transform.text")
    assert edge["label"] == "text → text"
    canvas_event(at, selected="prompt")
    at.text_area(key=field_key(ws, "prompt", "template")).set_value("{question} and {context}").run()
    canvas_event(at, new_edges=(("question", "prompt"),))   # question.text -> question exists: one pair left
    assert ws.pending is None and "question.text->prompt.context" in {canvas.edge_id(e) for e in ws.flow.edges}
    canvas_event(at, new_edges=(("text_transform", "prompt"),))
    assert "every input of 'prompt' that fits (context, question) is already connected" in texts(at)
    canvas_event(at, new_edges=(("text_transform", "llm"),))
    assert "connecting 'text_transform' to 'llm' would make a cycle" in texts(at)
    canvas_event(at, new_edges=(("answer", "prompt"),))
    assert "'answer' has no outputs" in texts(at)


def test_ambiguous_connection_asks_which_ports(home: Path) -> None:
    at = start(example="qa")
    at.button(key="add:prompt.template").click().run()
    ws = ws_of(at)
    node = ws.selected
    at.text_area(key=field_key(ws, node, "template")).set_value("{a} then {b}").run()
    canvas_event(at, new_edges=(("question", node),))
    assert ws.pending is not None
    radio = at.radio(key="pending_pick")
    assert list(radio.options) == ["text (Text) → a (Text)", "text (Text) → b (Text)"]
    radio.set_value(1).run()
    at.button(key="pending_ok").click().run()
    assert f"question.text->{node}.b" in {canvas.edge_id(e) for e in ws.flow.edges} and ws.pending is None


def test_node_click_opens_its_form_and_fields_validate_inline(home: Path) -> None:
    at = start(example="qa")
    canvas_event(at, selected="llm")
    ws = ws_of(at)
    assert ws.selected == "llm" and "llm.chat" in texts(at)
    at.number_input(key=field_key(ws, "llm", "temperature")).set_value(1.5).run()
    assert ws.flow.node("llm").config["temperature"] == 1.5  # type: ignore[union-attr]
    secret = by_key(at, field_key(ws, "llm", "api_key_env"))
    assert secret.placeholder == "ENV_VAR_NAME"
    secret.set_value("sk-1234567890abcdef").run()
    assert "takes the NAME of an environment variable" in texts(at)
    assert ws.flow.node("llm").config.get("api_key_env", "OPENAI_API_KEY") == "OPENAI_API_KEY"  # type: ignore[union-attr]
    canvas_event(at, selected="question")
    at.text_input(key=field_key(ws, "question", "name")).set_value("bad name").run()
    assert "String should match pattern" in texts(at)
    assert any("cl-invalid" in n["className"] for n in drawn_canvas(at)["nodes"] if n["id"] == "question")


def test_rename_delete_edge_delete_node_and_undo(home: Path) -> None:
    at = start(example="qa")
    canvas_event(at, selected="llm")
    ws = ws_of(at)
    at.text_input(key=f"p:{ws.canvas_gen}:{ws.form_gen}:llm:name").set_value("My model").run()
    assert ws.flow.node("llm").name == "My model"  # type: ignore[union-attr]
    assert "My model" in next(n for n in drawn_canvas(at)["nodes"] if n["id"] == "llm")["data"]["content"]
    at.button(key="del_edge:llm.text->answer.value").click().run()
    assert "llm.text->answer.value" not in {canvas.edge_id(e) for e in ws.flow.edges}
    at.button(key="node_delete:llm").click().run()
    assert ws.flow.node("llm") is None and all("llm" not in canvas.edge_id(e) for e in ws.flow.edges)
    at.button(key="undo").click().run()
    assert ws.flow.node("llm") is not None


def test_moves_on_the_canvas_are_kept(home: Path) -> None:
    at = start(example="qa")
    canvas_event(at, moves={"llm": (555.5, 42.0)})
    assert ws_of(at).flow.node("llm").position == (555.5, 42.0)  # type: ignore[union-attr]


def test_problems_list_selects_the_node(home: Path) -> None:
    at = start(example="qa")
    canvas_event(at, selected="llm")
    at.button(key="del_edge:llm.text->answer.value").click().run()
    switch(at, "Problems")
    (issue,) = [b for b in at.button if b.key and b.key.startswith("issue:")]
    assert unescape(issue.label).startswith("⚠ answer.value: required input (Text) is not connected")
    assert "Problems (1)" in panel_switch(at).options
    issue.click().run()
    assert ws_of(at).selected == "answer" and at.session_state["panel"] == "Properties"
    drawn = {n["id"]: n for n in drawn_canvas(at)["nodes"]}
    assert drawn["answer"]["selected"] is True and "cl-invalid" in drawn["answer"]["className"]


def test_save_versions_and_a_stale_save_is_refused(home: Path) -> None:
    at = start(example="qa")
    at.button(key="save").click().run()
    assert "saved 'qa' as version 1" in texts(at)
    store = open_store(home)
    assert store.get_flow("qa")[1] == 1
    canvas_event(at, moves={"llm": (600.0, 10.0)})
    at.button(key="save").click().run()
    assert "saved 'qa' as version 2" in texts(at) and "version 2 · saved" in texts(at)
    other = qa_flow().model_copy(update={"name": "Changed elsewhere"})
    assert store.save_flow(other, 2) == 3
    canvas_event(at, moves={"llm": (700.0, 10.0)})
    at.button(key="save").click().run()
    assert "Not saved: flow 'qa' is at version 3, but this save was based on version 2" in texts(at)
    assert store.get_flow("qa")[0].name == "Changed elsewhere"


def test_library_open_duplicate_delete_with_confirmation(home: Path) -> None:
    store = open_store(home)
    store.save_flow(qa_flow("saved_one"), None)
    at = start()
    switch(at, "Flows")
    at.selectbox(key="lib_saved").set_value("saved_one").run()
    at.button(key="lib_open").click().run()
    ws = ws_of(at)
    assert (ws.flow.id, ws.version) == ("saved_one", 1) and len(ws.flow.nodes) == 4
    at.button(key="lib_delete").click().run()
    assert "Delete 'saved_one' and all its versions?" in texts(at)
    assert [f.id for f in store.list_flows()] == ["saved_one"]
    at.button(key="lib_delete_yes").click().run()
    assert store.list_flows() == []
    at.button(key="lib_dup").click().run()
    assert ws.flow.id == "saved_one_copy" and ws.version is None


def test_import_shows_every_problem_and_changes_nothing(home: Path) -> None:
    store = open_store(home)
    store.save_flow(qa_flow(), None)
    at = start(flow="qa")
    switch(at, "Flows")
    before = dumps_flow(ws_of(at).flow)
    broken = {"schema_version": 1, "id": "qa", "nodes": [
        {"id": "a", "type": "nope.thing"}, {"id": "b", "type": "output.text", "config": {"name": "x", "bogus": 1}}],
        "edges": [{"from": "a.out", "to": "c.in"}]}
    at.file_uploader(key="import_file").upload("broken.json", json.dumps(broken).encode(), "application/json").run()
    shown = texts(at)
    assert "broken.json has 4 problem(s)" in shown
    for part in ("- node 'a': unknown node type 'nope.thing'", "- node 'b': config field 'bogus'",
                 "- node 'c': edge a.out -> c.in goes to node 'c', which does not exist",
                 "- node 'b' port 'value': required input (Text) is not connected"):
        assert part in shown
    assert dumps_flow(ws_of(at).flow) == before and store.get_flow("qa")[1] == 1
    at.file_uploader(key="import_file").upload("bad.json", b'{"schema_version": 1, "nodes": 3}',
                                              "application/json").run()
    shown = texts(at)
    assert "Cannot import bad.json: 2 problem(s)" in shown
    assert "- bad.json: field 'id': Field required" in shown
    assert "- bad.json: field 'nodes': Input should be a valid list" in shown
    assert "lib_open_import" not in {b.key for b in at.button}


def test_run_shows_statuses_outputs_and_history(home: Path) -> None:
    at = start(example="qa")
    switch(at, "Run")
    at.text_area(key="run_in:qa:question").set_value("What does chainloom build?")   # sent with the form
    at.button(key=next(b.key for b in at.button if b.label == "▶ Run flow")).click().run()
    run_to_end(at)
    assert ws_of(at).run.snapshot().inputs == {"question": "What does chainloom build?"}  # type: ignore[union-attr]
    expected = Runner(default_registry()).run(qa_flow(), {"question": "What does chainloom build?"})
    assert expected.ok and expected.outputs["answer"]
    assert [c.value for c in at.code][0] == expected.outputs["answer"]
    drawn = {n["id"]: n for n in drawn_canvas(at)["nodes"]}
    assert all("cl-status-done" in drawn[n]["className"] for n in ("question", "prompt", "llm", "answer"))
    assert "succeeded" in texts(at)
    switch(at, "History")
    (hist,) = [b for b in at.button if b.key and b.key.startswith("hist:")]
    assert "succeeded" in hist.label
    ws_of(at).run = None
    hist.click().run()
    assert at.session_state["panel"] == "Run" and ws_of(at).run is not None
    assert [c.value for c in at.code][0] == expected.outputs["answer"]


def test_a_failed_node_shows_its_error_and_what_to_do(home: Path) -> None:
    flow = qa_flow().model_copy(deep=True)
    flow.nodes[2].config = {"provider": "openai", "api_key_env": "CHAINLOOM_TEST_UNSET_KEY"}
    open_store(home).save_flow(flow, None)
    at = start(flow="qa")
    switch(at, "Run")
    at.button(key=next(b.key for b in at.button if b.label == "▶ Run flow")).click().run()
    run_to_end(at)
    shown = texts(at)
    assert "Node **llm** failed" in shown and "CHAINLOOM_TEST_UNSET_KEY" in shown
    assert "What to do: export CHAINLOOM_TEST_UNSET_KEY=" in shown
    drawn = {n["id"]: n for n in drawn_canvas(at)["nodes"]}
    assert "cl-status-failed" in drawn["llm"]["className"]


def test_chat_playground_keeps_a_conversation_per_session(home: Path) -> None:
    chat = parse_flow({
        "schema_version": 1, "id": "chat", "name": "Chat",
        "nodes": [
            {"id": "message", "type": "input.chat", "config": {"name": "message"}},
            {"id": "llm", "type": "llm.chat", "config": {"provider": "offline"}},
            {"id": "reply", "type": "output.text", "config": {"name": "reply"}},
        ],
        "edges": [{"from": "message.message", "to": "llm.prompt"}, {"from": "llm.text", "to": "reply.value"}],
    })
    open_store(home).save_flow(chat, None)
    at = start(flow="chat")
    switch(at, "Chat")
    assert "Session `" in texts(at)
    at.chat_input(key="chat_box").set_value("Hello there. How are you?").run()
    run_to_end(at)
    messages = [(m.name, unescape(m.markdown[0].value)) for m in at.chat_message]
    assert messages[0] == ("user", "Hello there. How are you?")
    assert messages[1][0] == "assistant" and messages[1][1]
    records = open_store(home).list_runs("chat")
    assert records[0].session_id and records[0].session_id in texts(at)
    at.button(key="chat_new").click().run()
    assert len(at.chat_message) == 0


def test_a_live_run_shows_running_nodes_and_streamed_tokens(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.ui import demo_nodes
    from ui.services import Services
    from ui.views import common, runs

    monkeypatch.setattr(runs, "TICK", None)   # the test reruns the page itself, step by step
    monkeypatch.setattr(common, "open_services",
                        lambda h: Services(demo_nodes.gated_registry(), open_store(h), Path(h)))
    open_store(home).save_flow(demo_nodes.gated_flow(), None)
    demo_nodes.GATE.clear()
    at = start(flow="gated")
    switch(at, "Run")
    at.text_area(key="run_in:gated:question").set_value("hi")
    try:
        at.button(key=next(b.key for b in at.button if b.label == "▶ Run flow")).click().run()
        live = ws_of(at).run
        assert live is not None
        for _ in range(200):   # wait (without timing anything) until the gate node streamed its token
            if live.snapshot().nodes["gate"].tokens:
                break
            live.wait(0.05)
        at.run()
        drawn = {n["id"]: n for n in drawn_canvas(at)["nodes"]}
        assert "cl-status-running" in drawn["gate"]["className"] and "◐ running" in drawn["gate"]["data"]["content"]
        assert "cl-status-done" in drawn["question"]["className"]
        assert "cl-status-" not in drawn["answer"]["className"] or "cl-status-queued" in drawn["answer"]["className"]
        assert "◐ gate · running" in [e.label for e in at.expander]
        assert "thinking… " in [c.value for c in at.code]
        assert at.session_state["run_is_live"] is True
    finally:
        demo_nodes.GATE.set()
    run_to_end(at)
    assert [c.value for c in at.code][0] == "HI" and at.session_state["run_is_live"] is False
