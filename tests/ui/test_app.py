"""The builder page, driven with streamlit.testing.v1.AppTest.

A canvas action is simulated the way the component reports one (PROTOCOL.md): a
message {seq, base, ops, pending} under the component's key, then a rerun. Runs
use the real node catalog and store in a temporary CHAINLOOM_HOME.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from engine.flow import Flow, dumps_flow, parse_flow
from engine.runner import Runner
from engine.store import open_store
from engine.validate import check
from nodes.registry import default_registry
from ui.views.common import BROWSER_KEY, CANVAS_KEY, WS_KEY
from ui.workspace import Workspace, edge_id

APP = str(Path(__file__).resolve().parents[2] / "ui" / "app.py")
WAIT = 60
BROWSER = "testbrowser01"


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


def start(browser: str = BROWSER, **query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=WAIT)
    at.session_state[BROWSER_KEY] = browser   # the cookie a real browser would send
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def ws_of(at: AppTest) -> Workspace:
    return at.session_state[WS_KEY]  # type: ignore[no-any-return]


def send(at: AppTest, *batches: list[dict[str, Any]]) -> AppTest:
    """Re-run as if the canvas sent `batches` (one message; every batch still pending)."""
    ws = ws_of(at)
    first = ws.ack + 1
    pending = [{"seq": first + n, "base": ws.revision, "ops": ops} for n, ops in enumerate(batches)]
    at.session_state[CANVAS_KEY] = {**pending[-1], "pending": pending}
    at.run()
    assert not at.exception, at.exception
    return at


def select(at: AppTest, node: str | None, panel: str = "properties") -> AppTest:
    return send(at, [{"op": "select", "id": node, "panel": panel}])


def texts(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "success", "error", "info", "warning", "code")
             for e in getattr(at, kind)]
    return unescape("\n".join(str(p) for p in parts))


def unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def field_key(ws: Workspace, node: str, field: str) -> str:
    return f"p:{ws.form_gen}:{node}:cfg:{field}"


def drawn(at: AppTest) -> dict[str, Any]:
    """The args the page gave the canvas component in the last run."""
    (element,) = at.get("component_instance")
    return json.loads(element.proto.json_args)  # type: ignore[no-any-return]


def panel_switch(at: AppTest) -> Any:
    (control,) = [s for s in at.segmented_control if s.key and s.key.startswith("panel_")]
    return control


def switch(at: AppTest, name: str) -> AppTest:
    panel_switch(at).set_value(name).run()
    assert not at.exception, at.exception
    return at


def run_to_end(at: AppTest) -> AppTest:
    ws = ws_of(at)
    assert ws.run is not None and ws.run.wait(WAIT)
    at.run()
    assert not at.exception, at.exception
    return at


def run_button(at: AppTest) -> Any:
    return next(b for b in at.button if "Run flow" in b.label)


# ---------------------------------------------------------------- first screen and ids
def test_the_empty_canvas_offers_templates_and_examples_not_a_problem(home: Path) -> None:
    at = start()
    args = drawn(at)
    assert args["graph"]["nodes"] == [] and args["graph"]["edges"] == [] and args["ack"] == 0
    kinds = {(e["id"], e["kind"]) for e in args["examples"]}
    assert {("template:rag", "template"), ("template:chat-memory", "template"),
            ("template:agent-tools", "template"), ("qa", "example")} <= kinds
    assert "problem" not in texts(at) and "untitled-flow" in texts(at)
    assert {e["type"] for e in args["catalog"]} >= {"loader.directory", "llm.chat"}
    assert "Documents" in args["compat"]["Documents"] and "Any" in args["compat"]["Text"]
    assert at.query_params["flow"] == "untitled-flow"


def test_new_flows_get_unique_ids_from_their_name_so_the_second_one_saves(home: Path) -> None:
    """(Save refuses an invalid flow, as every way of storing one does: these flows are valid.)"""
    at = start()
    valid = [{"op": "add_node", "id": "text", "type": "input.text", "position": [0, 0]},
             {"op": "add_node", "id": "out", "type": "output.text", "position": [300, 0]}]
    wire = [{"op": "connect", "from": "text.text", "to": "out.value"}]
    send(at, valid, wire)
    at.button(key="save").click().run()
    assert "saved 'untitled-flow' as version 1" in texts(at)
    second = start(browser="otherbrowser02")
    ws = ws_of(second)
    assert ws.flow.id == "untitled-flow-2"
    select(second, None)
    second.text_input(key=f"p:{ws.form_gen}:flow:name:untitled-flow-2").set_value("My flow").run()
    assert ws.flow.id == "my-flow" and ws.flow.name == "My flow"
    send(second, valid, wire)
    second.button(key="save").click().run()
    assert "saved 'my-flow' as version 1" in texts(second)
    assert [f.id for f in open_store(home).list_flows()] == ["my-flow", "untitled-flow"]


# ---------------------------------------------------------------- canvas ops
def test_canvas_ops_edit_the_flow_with_default_config_and_each_batch_once(home: Path) -> None:
    at = start(example="qa")
    ws = ws_of(at)
    revision = ws.revision
    send(at, [{"op": "add_node", "id": "transform", "type": "transform.text", "position": [520.5, 200.0]},
              {"op": "select", "id": "transform", "panel": "properties"}],
         [{"op": "connect", "from": "llm.text", "to": "transform.text"},
          {"op": "move", "positions": {"llm": [500, 10]}}])
    node = ws.flow.node("transform")
    assert node is not None and node.config == {} and node.position == (520.5, 200.0)
    assert "llm.text->transform.text" in {edge_id(e) for e in ws.flow.edges}
    assert ws.flow.node("llm").position == (500.0, 10.0)  # type: ignore[union-attr]
    assert ws.ack == 2 and ws.revision > revision and ws.selected == "transform"
    args = drawn(at)
    assert args["ack"] == 2 and args["revision"] == ws.revision and args["selected"] == "transform"
    assert any(e["from"] == "llm.text" and e["type"] == "Text" for e in args["graph"]["edges"])
    before, rev = dumps_flow(ws.flow), ws.revision
    at.run()    # Streamlit hands the same last message again: nothing is applied twice
    assert dumps_flow(ws.flow) == before and ws.revision == rev


def test_an_incompatible_connect_is_refused_with_its_reason_and_the_canvas_reverts(home: Path) -> None:
    at = start(example="qa")
    ws = ws_of(at)
    before, revision = dumps_flow(ws.flow), ws.revision
    send(at, [{"op": "add_node", "id": "split", "type": "splitter.recursive", "position": [0, 300]},
              {"op": "connect", "from": "question.text", "to": "split.documents"}])
    assert dumps_flow(ws.flow) == before   # all or nothing: the add is not kept either
    reason = ("cannot connect question.text → split.documents: input 'documents' expects Documents, got Text; "
              "connect an output of type Documents")
    assert reason in texts(at)
    args = drawn(at)
    assert args["notice"]["text"] == reason and args["notice"]["level"] == "error"
    assert args["revision"] > revision and args["ack"] == 1
    send(at, [{"op": "connect", "from": "question.text", "to": "prompt.question"}])
    assert "that edge already exists" in texts(at)
    send(at, [{"op": "connect", "from": "answer.value", "to": "question.text"}])
    assert "node 'answer': output 'value' does not exist; outputs are: none" in texts(at)


def test_clicking_a_node_opens_its_form_whatever_panel_is_showing(home: Path) -> None:
    at = start(example="qa")
    for name in ("Run", "Chat", "History", "Flows", "Use"):
        switch(at, name)
        select(at, "llm")
        assert at.session_state["panel"] == "Properties" and "#### Chat model" in texts(at)
        select(at, None)
    switch(at, "Problems")
    select(at, "prompt")
    assert at.session_state["panel"] == "Properties" and "#### Prompt template" in texts(at)
    assert drawn(at)["selected"] == "prompt"   # one selection, drawn by the canvas: no stale ring


def test_undo_of_a_removal_and_a_config_change_from_the_canvas(home: Path) -> None:
    at = start(example="qa")
    ws = ws_of(at)
    original = dumps_flow(ws.flow)
    send(at, [{"op": "remove", "nodes": ["llm"], "edges": [{"from": "prompt.prompt", "to": "llm.prompt"},
                                                           {"from": "llm.text", "to": "answer.value"}]}])
    assert ws.flow.node("llm") is None and len(ws.flow.edges) == 1
    send(at, [{"op": "paste", "nodes": [{"id": "llm", "type": "llm.chat", "name": "", "position": [520, 0],
                                         "config": {"provider": "offline"}}],
               "edges": [{"from": "prompt.prompt", "to": "llm.prompt"}, {"from": "llm.text", "to": "answer.value"}]}])
    restored = json.loads(dumps_flow(ws.flow))
    want = json.loads(original)
    assert sorted(restored["nodes"], key=lambda n: n["id"]) == sorted(want["nodes"], key=lambda n: n["id"])
    assert sorted(map(str, restored["edges"])) == sorted(map(str, want["edges"]))
    gen = ws.form_gen
    send(at, [{"op": "set_config", "id": "llm", "config": {"provider": "scripted"}, "name": "Model"}])
    assert ws.flow.node("llm").config == {"provider": "scripted"} and ws.flow.node("llm").name == "Model"  # type: ignore[union-attr]
    assert ws.form_gen > gen   # the open form redraws with the restored values


# ---------------------------------------------------------------- forms
def test_forms_show_essential_fields_first_and_provider_fields_only_for_their_provider(home: Path) -> None:
    at = start(example="qa")
    select(at, "llm")
    ws = ws_of(at)
    keys = {w.key for kind in ("text_input", "text_area", "selectbox", "number_input", "checkbox")
            for w in getattr(at, kind)}
    assert field_key(ws, "llm", "provider") in keys and field_key(ws, "llm", "responses") not in keys
    assert field_key(ws, "llm", "base_url") not in keys   # offline: no endpoint to set
    assert any(e.label.startswith("Advanced (") for e in at.expander)
    at.selectbox(key=field_key(ws, "llm", "provider")).set_value("scripted").run()
    assert field_key(ws, "llm", "responses") in {w.key for w in at.text_area}
    at.selectbox(key=field_key(ws, "llm", "provider")).set_value("openai").run()
    base_url = at.text_input(key=field_key(ws, "llm", "base_url"))   # one line, not a text area
    base_url.set_value("http://localhost:11434/v1\nhttp://evil").run()
    assert "'Base Url' is one line (a path, URL or name); remove the line breaks" in texts(at)
    assert "base_url" not in ws.flow.node("llm").config  # type: ignore[union-attr]


def test_an_input_node_has_one_name_field(home: Path) -> None:
    at = start(example="qa")
    select(at, "question")
    ws = ws_of(at)
    labels = [w.label for w in at.text_input]
    assert "Input name *" in labels and "Label" not in labels and "Name *" not in labels
    at.text_input(key=field_key(ws, "question", "name")).set_value("query").run()
    assert ws.flow.node("question").config["name"] == "query"  # type: ignore[union-attr]


def test_adding_a_node_while_the_chat_model_form_is_open_keeps_its_config_valid(home: Path) -> None:
    """The bug: the open form's boxes reported empty values as the page changed under
    them (a node added on the canvas), which were written into `tools`/`responses` as
    null, and the flow could no longer run. Empty never overwrites a default now."""
    at = start(example="qa")
    select(at, "llm")
    ws = ws_of(at)
    at.text_area(key=field_key(ws, "llm", "tools")).set_value("")    # what the stale box reported
    at.text_area(key=field_key(ws, "llm", "stop")).set_value("")
    send(at, [{"op": "add_node", "id": "transform", "type": "transform.text", "position": [0, 300]},
              {"op": "select", "id": "transform", "panel": "properties"}])
    assert ws.flow.node("llm").config == {"provider": "offline"}  # type: ignore[union-attr]
    assert [i for i in check(ws.flow, default_registry())[1] if i.node == "llm"] == []
    select(at, "llm")
    at.selectbox(key=field_key(ws, "llm", "provider")).set_value("scripted").run()
    at.text_area(key=field_key(ws, "llm", "responses")).set_value('["an answer"]').run()
    at.text_area(key=field_key(ws, "llm", "tools")).set_value("  ").run()
    assert ws.flow.node("llm").config == {"provider": "scripted", "responses": ["an answer"]}  # type: ignore[union-attr]


# ---------------------------------------------------------------- nothing lost
def test_every_change_is_a_draft_that_a_reload_restores(home: Path) -> None:
    open_store(home).save_flow(qa_flow(), None)
    at = start(flow="qa")
    send(at, [{"op": "move", "positions": {"llm": [600, 50]}},
              {"op": "add_node", "id": "transform", "type": "transform.text", "position": [0, 300]}])
    assert "unsaved changes" in texts(at)
    reloaded = start(flow="qa")    # a reload: a new session, same browser, same link
    ws = ws_of(reloaded)
    assert ws.flow.node("transform") is not None and ws.flow.node("llm").position == (600.0, 50.0)  # type: ignore[union-attr]
    assert ws.version == 1 and ws.dirty and "restored your unsaved changes to 'qa'" in texts(reloaded)
    elsewhere = start(browser="anotherbrowser", flow="qa")   # drafts are per browser
    assert ws_of(elsewhere).flow.node("transform") is None
    send(reloaded, [{"op": "connect", "from": "llm.text", "to": "transform.text"}])  # valid, so it saves
    reloaded.button(key="save").click().run()
    assert start(flow="qa").session_state[WS_KEY].dirty is False   # saved: the draft is gone


def test_opening_another_flow_with_unsaved_changes_asks_first(home: Path) -> None:
    at = start(example="qa")
    ws = ws_of(at)
    send(at, [{"op": "add_node", "id": "transform", "type": "transform.text", "position": [0, 300]}])
    at.button(key="new_flow").click().run()
    assert ws.flow.node("transform") is not None   # not replaced yet: a dialog asks
    assert "has changes that are not saved" in texts(at)
    at.button(key="confirm_cancel").click().run()
    assert ws.flow.node("transform") is not None and "has changes that are not saved" not in texts(at)
    send(at, [{"op": "action", "name": "open_example", "arg": "template:rag"}])
    assert "has changes that are not saved" in texts(at)
    at.button(key="confirm_discard").click().run()
    assert ws.flow.id == "rag" and len(ws.flow.nodes) == 9 and not ws.flow.node("transform")
    assert all(n["position"] is None for n in drawn(at)["graph"]["nodes"])   # laid out by the canvas


# ---------------------------------------------------------------- save, library, import
def test_save_versions_and_a_stale_save_is_refused(home: Path) -> None:
    at = start(example="qa")
    at.button(key="save").click().run()
    assert "saved 'qa' as version 1" in texts(at)
    store = open_store(home)
    send(at, [{"op": "move", "positions": {"llm": [600, 10]}}])
    send(at, [{"op": "action", "name": "save", "arg": None}])   # Ctrl+S on the canvas
    assert "saved 'qa' as version 2" in texts(at) and "version 2 · saved" in texts(at)
    other = qa_flow().model_copy(update={"name": "Changed elsewhere"})
    assert store.save_flow(other, 2) == 3
    send(at, [{"op": "move", "positions": {"llm": [700, 10]}}])
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
    assert at.query_params["flow"] == "saved_one"
    at.button(key="lib_delete").click().run()
    assert "Delete 'saved_one' and all its versions?" in texts(at)
    at.button(key="lib_delete_yes").click().run()
    assert store.list_flows() == []
    at.button(key="lib_dup").click().run()   # the deleted flow's copy is unsaved: asks first
    at.button(key="confirm_discard").click().run()
    assert ws.flow.id == "question-answering-copy" and ws.version is None


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
    at.button(key="lib_open_import").click().run()
    assert ws_of(at).source == "import" and ws_of(at).flow.node("a") is not None


# ---------------------------------------------------------------- run and share
def test_run_shows_statuses_on_the_canvas_and_a_nodes_outputs(home: Path) -> None:
    at = start(example="qa")
    switch(at, "Run")
    at.text_area(key="run_in:qa:question").set_value("What does chainloom build?")
    run_button(at).click().run()
    run_to_end(at)
    expected = Runner(default_registry()).run(qa_flow(), {"question": "What does chainloom build?"})
    assert expected.ok and [c.value for c in at.code][0] == expected.outputs["answer"]
    statuses = drawn(at)["statuses"]
    assert {n: s["state"] for n, s in statuses.items()} == dict.fromkeys(("question", "prompt", "llm", "answer"),
                                                                         "done")
    assert statuses["llm"]["time_ms"] is not None and statuses["llm"]["time_ms"] >= 0
    switch(at, "Flows")
    select(at, "llm", panel="outputs")    # the node's outputs button
    assert at.session_state["panel"] == "Run" and "Node `llm`** · ● done" in texts(at)
    switch(at, "History")
    (hist,) = [b for b in at.button if b.key and b.key.startswith("hist:")]
    assert "succeeded" in hist.label


def test_use_this_flow_shows_snippets_for_the_saved_flow(home: Path) -> None:
    at = start(example="qa")
    switch(at, "Use")
    assert "Save the flow first" in texts(at)
    at.button(key="save").click().run()
    code = [c.value for c in at.code]
    assert len(code) == 3 and all("/flows/qa/run" in c and "CHAINLOOM_API_KEY" in c for c in code)
    assert '"question": "What is chainloom?"' in code[0]


def test_a_failed_node_shows_its_error_and_what_to_do(home: Path) -> None:
    flow = qa_flow().model_copy(deep=True)
    flow.nodes[2].config = {"provider": "openai", "api_key_env": "CHAINLOOM_TEST_UNSET_KEY"}
    open_store(home).save_flow(flow, None)
    at = start(flow="qa")
    switch(at, "Run")
    run_button(at).click().run()
    run_to_end(at)
    shown = texts(at)
    assert "Node **llm** failed" in shown and "CHAINLOOM_TEST_UNSET_KEY" in shown
    assert drawn(at)["statuses"]["llm"]["state"] == "failed"


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
    at.chat_input(key="chat_box").set_value("Hello there. How are you?").run()
    run_to_end(at)
    messages = [(m.name, unescape(m.markdown[0].value)) for m in at.chat_message]
    assert messages[0] == ("user", "Hello there. How are you?")
    assert messages[1][0] == "assistant" and messages[1][1]
    at.button(key="chat_new").click().run()
    assert len(at.chat_message) == 0


def test_a_live_run_shows_running_nodes(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.ui import demo_nodes
    from ui.services import Services
    from ui.views import common, runs

    monkeypatch.setattr(runs, "TICK", None)   # the test reruns the page itself, step by step
    monkeypatch.setattr(common, "open_services",
                        lambda h: Services(demo_nodes.gated_registry(), open_store(h), Path(h)))
    common._services.clear()
    open_store(home).save_flow(demo_nodes.gated_flow(), None)
    demo_nodes.GATE.clear()
    at = start(flow="gated")
    switch(at, "Run")
    at.text_area(key="run_in:gated:question").set_value("hi")
    try:
        run_button(at).click().run()
        live = ws_of(at).run
        assert live is not None
        for _ in range(200):   # wait (without timing anything) until the gate node streamed its token
            if live.snapshot().nodes["gate"].tokens:
                break
            live.wait(0.05)
        at.run()
        states = {n: s["state"] for n, s in drawn(at)["statuses"].items()}
        assert states["gate"] == "running" and states["question"] == "done" and states["answer"] == "queued"
        assert at.session_state["run_is_live"] is True
    finally:
        demo_nodes.GATE.set()
    run_to_end(at)
    assert [c.value for c in at.code][0] == "HI" and at.session_state["run_is_live"] is False
    common._services.clear()


def test_the_offline_model_chats_with_memory_in_answers_not_raw_memory_lines(home: Path) -> None:
    at = start(example="template:chat-memory")
    assert ws_of(at).flow.id == "chat-memory"
    switch(at, "Chat")
    replies = []
    for message in ("Hi, I'm Ada and I live in Lisbon.", "Where do I live?"):
        at.chat_input(key="chat_box").set_value(message).run()
        run_to_end(at)
        replies.append(unescape(at.chat_message[-1].markdown[0].value))
    assert replies == ["Noted. Ask me a question and I will answer from what I was given.",
                       'You said: "Hi, I\'m Ada and I live in Lisbon."']


def test_a_call_waiting_for_approval_is_approved_or_rejected_in_the_run_panel(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.server.test_approvals import SHOWN, gated_agent
    from ui.views import runs

    monkeypatch.setattr(runs, "TICK", None)   # the test reruns the page itself, step by step
    store = open_store(home)
    store.save_flow(parse_flow(gated_agent()), None)
    at = start(flow="gated")
    switch(at, "Run")
    at.text_area(key="run_in:gated:q").set_value("2^10?")
    run_button(at).click().run()
    live = ws_of(at).run
    assert live is not None
    for _ in range(400):   # wait (without timing anything) until the call waits for a person
        at.run()
        if any(b.key and b.key.startswith("reject:") for b in at.button):
            break
        live.wait(0.05)
    assert "Waiting for approval" in texts(at) and "node `agent` wants to make this call" in texts(at)
    assert SHOWN in [c.value for c in at.code]
    assert store.get_run(live.run_id).status == "waiting_approval"
    (reject,) = [b for b in at.button if b.key and b.key.startswith("reject:")]
    at.text_input(key="why:" + reject.key.split(":", 1)[1]).set_value("not from the UI test")
    reject.click().run()
    run_to_end(at)
    events = store.run_events(live.run_id)
    [seen] = [e["data"]["text"] for e in events if e["kind"] == "node.step" and e["name"] == "observation"]
    assert seen.startswith(f"the call {SHOWN} was rejected by ")
    assert seen.endswith(" in the UI: not from the UI test")
    assert store.get_run(live.run_id).status == "succeeded"


# ---------------------------------------------------------------- hardening (issue 13)
def test_tweakable_checkboxes_mark_ordinary_fields_and_refuse_where_fields(home: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAINLOOM_ENABLE_CODE", raising=False)
    at = start(example="qa")
    ws = ws_of(at)
    select(at, "llm")
    at.checkbox(key=f"p:{ws.form_gen}:llm:tweak:temperature").check().run()
    assert ws.flow.node("llm").tweakable == ["temperature"]  # type: ignore[union-attr]
    for where in ("provider", "base_url", "api_key_env"):
        box = at.checkbox(key=f"p:{ws.form_gen}:llm:tweak:{where}")
        assert box.disabled and "Never tweakable" in (box.help or "")
    send(at, [{"op": "add_node", "id": "fn", "type": "code.python", "position": [0, 400]},
              {"op": "select", "id": "fn", "panel": "properties"}])
    assert "code.python is disabled here" in texts(at) and "CHAINLOOM_ENABLE_CODE=1" in texts(at)
