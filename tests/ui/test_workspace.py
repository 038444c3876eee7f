"""The editing model: the canvas's ops applied to the workspace (all or nothing, with
the server-side checks), the revision/ack rule, flow ids from names, and drafts."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.flow import dumps_flow
from engine.store import Store
from tests.ui.demo_nodes import qa_flow, registry
from ui.drafts import DraftKeeper, draft_key
from ui.ops import OpRefused, apply_ops
from ui.workspace import Workspace, edge_id, flow_slug, unique_flow_id

REG = registry()


def loaded() -> Workspace:
    ws = Workspace()
    ws.load(qa_flow(), version=3, source="saved")
    return ws


def edges(ws: Workspace) -> set[str]:
    return {edge_id(e) for e in ws.flow.edges}


def test_flow_ids_come_from_names_and_stay_unique() -> None:
    assert flow_slug("My flow!") == "my-flow" and flow_slug("  ") == "flow" and flow_slug("9 lives") == "flow-9-lives"
    assert unique_flow_id("My flow", {"my-flow", "my-flow-2"}) == "my-flow-3"
    assert unique_flow_id("Other", {"my-flow"}) == "other"
    ws = Workspace()
    ws.load(ws.flow, version=None, source="new")
    assert ws.set_flow_info(name="Answer bot", taken=lambda: {"answer-bot"}) is None
    assert (ws.flow.id, ws.flow.name) == ("answer-bot-2", "Answer bot")
    assert ws.set_flow_info(flow_id="chosen") is None and not ws.id_from_name
    assert ws.set_flow_info(name="Renamed") is None and ws.flow.id == "chosen"   # a chosen id stays
    saved = loaded()
    assert saved.set_flow_info(name="New name") is None and saved.flow.id == "qa"  # a saved flow keeps its id


def test_add_node_gets_default_config_and_inputs_are_named_after_their_id() -> None:
    ws = loaded()
    applied = ws.apply_batch(1, [{"op": "add_node", "id": "text", "type": "input.text", "position": [10.04, 20]},
                                 {"op": "add_node", "id": "model_2", "type": "demo.llm", "position": None}], REG)
    assert applied is not None and ws.ack == 1 and ws.selected == "model_2"
    assert ws.flow.node("text").config == {"name": "text"} and ws.flow.node("text").position == (10.0, 20.0)  # type: ignore[union-attr]
    assert ws.flow.node("model_2").config == {} and ws.flow.node("model_2").position is None  # type: ignore[union-attr]
    assert ws.dirty


@pytest.mark.parametrize(("op", "message"), [
    ({"op": "add_node", "id": "llm", "type": "demo.llm", "position": [0, 0]},
     "a node with the id 'llm' already exists; reload the page"),
    ({"op": "add_node", "id": "9x", "type": "demo.llm", "position": [0, 0]},
     "'9x' is not a valid node id: it starts with a letter or _ and has only letters, digits, _ and - (at most 64)"),
    ({"op": "add_node", "id": "x", "type": "nope.node", "position": [0, 0]},
     "unknown node type 'nope.node'; pick one from the palette"),
    ({"op": "connect", "from": "question.text", "to": "llm.model"},
     "cannot connect question.text → llm.model: input 'model' expects LanguageModel, got Text; "
     "connect an output of type LanguageModel"),
    ({"op": "connect", "from": "question.text", "to": "prompt.question"},
     "cannot connect question.text → prompt.question: that edge already exists"),
    ({"op": "connect", "from": "llm.text", "to": "prompt.question"},
     "cannot connect llm.text → prompt.question: input 'question' of 'prompt' already has an edge; "
     "delete that edge first"),
    ({"op": "connect", "from": "llm.text", "to": "prompt.context"},
     "cannot connect llm.text → prompt.context: it would make a cycle (prompt already leads to llm); "
     "flows are acyclic"),
    ({"op": "connect", "from": "answer.value", "to": "llm.prompt"},
     "node 'answer': output 'value' does not exist; outputs are: none"),
    ({"op": "connect", "from": "ghost.text", "to": "llm.prompt"},
     "connect: no node 'ghost' in the flow; reload the page"),
    ({"op": "teleport"}, "op #1: unknown op 'teleport'; expected one of add_node, remove, connect, move, select, "
                         "set_config, paste, action"),
    ({"op": "move", "positions": {"llm": "here"}}, None),
])
def test_bad_ops_are_refused_with_the_reason(op: dict[str, object], message: str | None) -> None:
    flow = qa_flow()
    with pytest.raises(OpRefused) as err:
        apply_ops(flow, [op], REG)
    if message is not None:
        assert str(err.value) == message
    else:
        assert str(err.value).startswith("op #1 (move): malformed")


def test_a_refused_batch_changes_nothing_is_acknowledged_and_answered_with_a_revision() -> None:
    ws = loaded()
    before, revision = dumps_flow(ws.flow), ws.revision
    assert ws.apply_batch(4, [{"op": "add_node", "id": "n", "type": "demo.any", "position": [0, 0]},
                              {"op": "connect", "from": "answer.value", "to": "n.value"}], REG) is None
    assert dumps_flow(ws.flow) == before and ws.ack == 4 and ws.revision == revision + 1
    assert ws.toast is not None
    assert ws.toast["text"] == "node 'answer': output 'value' does not exist; outputs are: none"
    assert ws.apply_batch(4, [{"op": "remove", "nodes": ["llm"], "edges": []}], REG) is None   # already seen
    assert ws.flow.node("llm") is not None


def test_remove_move_select_set_config_and_paste() -> None:
    ws = loaded()
    ws.apply_batch(1, [{"op": "select", "id": "llm", "panel": "properties"}], REG)
    remove = {"op": "remove", "nodes": ["llm"], "edges": [{"from": "prompt.prompt", "to": "llm.prompt"}]}
    applied = ws.apply_batch(2, [remove], REG)
    assert applied is not None and ws.flow.node("llm") is None and ws.selected is None
    assert edges(ws) == {"question.text->prompt.question"}
    ws.apply_batch(3, [{"op": "paste", "nodes": [{"id": "llm_2", "type": "demo.llm", "name": "Copy",
                                                  "position": [1, 2], "config": {"model": "shout"}},
                                                 {"id": "text_2", "type": "input.text", "position": [3, 4]}],
                        "edges": [{"from": "prompt.prompt", "to": "llm_2.prompt"}]}], REG)
    assert ws.flow.node("llm_2").config == {"model": "shout"} and ws.flow.node("llm_2").name == "Copy"  # type: ignore[union-attr]
    assert ws.flow.node("text_2").config == {"name": "text_2"}  # type: ignore[union-attr]   # no config: defaults
    assert "prompt.prompt->llm_2.prompt" in edges(ws)
    gen = ws.form_gen
    ws.apply_batch(4, [{"op": "set_config", "id": "llm_2", "config": {}, "name": ""},
                       {"op": "move", "positions": {"llm_2": [50, 60]}}], REG)
    fnode = ws.flow.node("llm_2")
    assert fnode is not None and fnode.config == {} and fnode.name == "" and fnode.position == (50.0, 60.0)
    assert ws.form_gen > gen


def test_actions_come_back_to_the_page() -> None:
    ws = loaded()
    applied = ws.apply_batch(1, [{"op": "action", "name": "save", "arg": None},
                                 {"op": "action", "name": "open_example", "arg": "hello"}], REG)
    assert applied is not None and applied.actions == [("save", None), ("open_example", "hello")]


def test_a_layout_of_a_saved_flow_is_not_an_unsaved_change() -> None:
    ws = loaded()
    ws.apply_batch(1, [{"op": "move", "positions": {"llm": [1, 1], "prompt": [2, 2]}}], REG)
    assert not ws.dirty and ws.flow.node("llm").position == (1.0, 1.0)  # type: ignore[union-attr]
    ws.apply_batch(2, [{"op": "remove", "nodes": ["answer"], "edges": []}], REG)
    ws.apply_batch(3, [{"op": "move", "positions": {"llm": [5, 5]}}], REG)
    assert ws.dirty


def test_revision_moves_only_when_the_drawn_graph_changes() -> None:
    ws = loaded()
    first = ws.sync_revision({"nodes": [1]})
    assert ws.sync_revision({"nodes": [1]}) == first
    assert ws.sync_revision({"nodes": [1, 2]}) == first + 1
    ws.load(qa_flow(), version=None, source="example")
    assert ws.revision == first + 2   # a load always gives the canvas a new graph


def test_dirty_means_unsaved_work() -> None:
    ws = Workspace()
    assert not ws.dirty   # an empty new flow loses nothing
    ws.apply_batch(1, [{"op": "add_node", "id": "text", "type": "input.text", "position": [0, 0]}], REG)
    assert ws.dirty
    saved = loaded()
    assert not saved.dirty
    saved.set_config("llm", {"model": "echo"})
    assert saved.dirty


# ---------------------------------------------------------------- drafts
@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'db.sqlite'}")


def test_drafts_are_kept_per_browser_and_flow_and_dropped_once_saved(store: Store) -> None:
    store.save_flow(qa_flow(), None)
    ws = Workspace()
    ws.load(qa_flow(), version=1, source="saved")
    keeper = DraftKeeper(store, "browser-a1")
    keeper.keep(ws)
    assert store.get_draft(draft_key("browser-a1", "qa")) is None   # nothing unsaved, nothing kept
    ws.apply_batch(1, [{"op": "move", "positions": {"llm": [9, 9]}},
                       {"op": "remove", "nodes": ["answer"], "edges": []}], REG)
    keeper.keep(ws)
    assert store.get_draft(draft_key("browser-a1", "qa")) is not None
    again = Workspace()
    assert DraftKeeper(store, "browser-a1").restore(again, "qa")
    assert again.flow.node("answer") is None and again.version == 1 and again.dirty
    assert not DraftKeeper(store, "browser-b2").restore(Workspace(), "qa")
    store.save_flow(ws.flow, 1)
    ws.mark_saved(2)
    keeper.keep(ws)
    assert store.get_draft(draft_key("browser-a1", "qa")) is None


def test_a_draft_follows_a_renamed_new_flow(store: Store) -> None:
    ws = Workspace()
    keeper = DraftKeeper(store, "browser-a1")
    ws.apply_batch(1, [{"op": "add_node", "id": "text", "type": "input.text", "position": [0, 0]}], REG)
    keeper.keep(ws)
    ws.set_flow_info(name="Renamed flow")
    keeper.keep(ws)
    assert store.get_draft(draft_key("browser-a1", "untitled-flow")) is None
    restored = Workspace()
    assert keeper.restore(restored, "renamed-flow")
    assert restored.version is None and restored.id_from_name and restored.flow.node("text") is not None


def test_a_rerun_without_an_edit_reuses_text_issues_and_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    import ui.workspace as workspace_module

    checked: list[str] = []
    real_check = workspace_module.check
    monkeypatch.setattr(workspace_module, "check", lambda flow, reg: checked.append(flow.id) or real_check(flow, reg))
    ws = loaded()
    graph, revision = ws.canvas_graph(REG)
    assert ws.canvas_graph(REG) == (graph, revision) and ws.canvas_graph(REG)[0] is graph
    assert ws.issues(REG) is ws.issues(REG) and checked == ["qa"]
    assert ws.canonical() is ws.canonical() and ws.canonical() == dumps_flow(ws.flow)
    ws.apply_batch(ws.ack + 1, [{"op": "remove", "nodes": ["answer"], "edges": []}], REG)   # an edit swaps the flow
    edited, after = ws.canvas_graph(REG)
    assert edited is not graph and after == revision + 1 and checked == ["qa", "qa"]
    assert [n["id"] for n in edited["nodes"]] == ["question", "prompt", "llm"]
    assert ws.canonical() == dumps_flow(ws.flow) and ws.dirty


def test_the_draft_keeper_looks_again_only_when_the_workspace_changed(tmp_path: Path) -> None:
    from engine.store import open_store

    store = open_store(tmp_path)
    keeper, ws = DraftKeeper(store, "b1"), loaded()
    ws.apply_batch(ws.ack + 1, [{"op": "remove", "nodes": ["answer"], "edges": []}], REG)
    keeper.keep(ws)
    assert store.get_draft(draft_key("b1", "qa")) is not None
    store.delete_draft(draft_key("b1", "qa"))   # behind its back: an unchanged workspace is not rewritten
    keeper.keep(ws)
    assert store.get_draft(draft_key("b1", "qa")) is None
    ws.apply_batch(ws.ack + 1, [{"op": "remove", "nodes": ["prompt"], "edges": []}], REG)
    keeper.keep(ws)
    assert store.get_draft(draft_key("b1", "qa")) is not None
