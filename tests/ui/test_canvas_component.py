"""The canvas component's Python side: the args it is drawn from, the batches it returns."""

from __future__ import annotations

from typing import Any

from engine.flow import parse_flow
from engine.issues import Issue
from engine.ports import PortType
from tests.ui import demo_nodes
from ui.canvas_component import Batch, unapplied
from ui.canvas_component.graph import catalog_args, compat_args, graph_args

REG = demo_nodes.registry()


def test_compat_is_the_engine_rule_as_a_table() -> None:
    table = compat_args()
    assert table["Text"] == ["Any", "Text"]
    assert table["Documents"] == ["Any", "Documents"]
    assert table["Any"] == sorted(t.value for t in PortType)
    assert set(table) == {t.value for t in PortType}


def test_graph_draws_ports_summary_problems_and_edge_types() -> None:
    flow = demo_nodes.qa_flow(temperature=0.5)
    problems = [Issue("bad", "prompt is too short", node="prompt", port="question", hint="fix: write more")]
    graph = graph_args(flow, REG, problems)
    by_id = {n["id"]: n for n in graph["nodes"]}
    assert by_id["prompt"] == {
        "id": "prompt", "type": "demo.prompt", "name": "Build prompt", "title": "Build prompt",
        "position": [270.0, 0.0], "config": {"template": "Q: {question}"}, "summary": "template: Q: {question}",
        "role": None,
        "inputs": [{"name": "question", "type": "Text", "description": "", "required": True, "multiple": False},
                   {"name": "context", "type": "Text", "description": "", "required": False, "multiple": False}],
        "outputs": [{"name": "prompt", "type": "Text", "description": ""}],
        "problems": ["port 'question': prompt is too short (fix: write more)"]}
    assert by_id["llm"]["title"] == "Offline model"
    assert by_id["llm"]["summary"] == "model: shout · temperature: 0.5"
    assert by_id["question"]["role"] == "input"
    assert graph["edges"][2] == {"from": "llm.text", "to": "answer.value", "type": "Text", "problem": None}


def test_edges_say_what_is_wrong_with_them() -> None:
    flow = parse_flow({"schema_version": 1, "id": "f", "nodes": [
        {"id": "load", "type": "demo.loader"}, {"id": "p", "type": "demo.prompt"}, {"id": "x", "type": "nope.x"}],
        "edges": [{"from": "load.documents", "to": "p.question"}, {"from": "load.gone", "to": "p.context"},
                  {"from": "load.documents", "to": "x.in"}]})
    graph = graph_args(flow, REG)
    assert [e["problem"] for e in graph["edges"]] == [
        "expected Text, got Documents", "'load' has no output 'gone'", "'x' has no input 'in'"]
    assert [e["type"] for e in graph["edges"]] == ["Documents", "Any", "Documents"]
    unknown = graph["nodes"][2]
    assert (unknown["summary"], unknown["inputs"], unknown["position"]) == ("unknown type 'nope.x'", [], None)


def test_summary_hides_secrets_and_shortens_values() -> None:
    flow = parse_flow({"schema_version": 1, "id": "f", "nodes": [
        {"id": "m", "type": "demo.llm", "config": {"api_key_env": "MY_KEY", "stop": ["a", "b"],
                                                  "extra": {"x": 1}, "model": "echo"}},
        {"id": "p", "type": "demo.prompt", "config": {"template": "word " * 30}}]})
    nodes = graph_args(flow, REG)["nodes"]
    assert nodes[0]["summary"] == "stop: 2 items · extra: 1 field"
    assert nodes[1]["summary"] == "template: word word word word wor…"


def test_catalog_lists_every_type_with_default_ports() -> None:
    catalog = catalog_args(REG)
    assert [c["type"] for c in catalog] == sorted(s.type for s in demo_nodes.SPECS)
    join = next(c for c in catalog if c["type"] == "demo.join")
    assert join == {"type": "demo.join", "family": "demo", "title": "Join texts",
                    "description": "Joins every text that arrives.", "role": None,
                    "inputs": [{"name": "values", "type": "Text", "description": "", "required": True,
                                "multiple": True}],
                    "outputs": [{"name": "text", "type": "Text", "description": ""}]}
    inp = next(c for c in catalog if c["type"] == "input.text")
    assert (inp["role"], inp["inputs"], inp["outputs"][0]["name"]) == ("input", [], "text")


def _msg(*seqs: int) -> dict[str, Any]:
    pending = [{"seq": s, "base": 3, "ops": [{"op": "select", "id": f"n{s}"}]} for s in seqs]
    return {"seq": seqs[-1], "base": 3, "ops": pending[-1]["ops"], "pending": pending}


def test_unapplied_returns_each_batch_once_in_order() -> None:
    msg = _msg(4, 5, 6)
    assert [b.seq for b in unapplied(msg, 0)] == [4, 5, 6]
    assert unapplied(msg, 5) == [Batch(6, 3, [{"op": "select", "id": "n6"}])]
    assert unapplied(msg, 6) == []
    assert unapplied(None, 0) == []


def test_unapplied_reads_a_message_without_pending_as_one_batch() -> None:
    assert unapplied({"seq": 2, "base": 1, "ops": [{"op": "select", "id": None}]}, 1) == [
        Batch(2, 1, [{"op": "select", "id": None}])]
    assert unapplied({"seq": "x", "ops": []}, 0) == []


def test_the_built_bundle_is_in_the_package_and_declared_as_package_data() -> None:
    import fnmatch
    import re
    import tomllib

    from ui.canvas_component import DIST

    html = (DIST / "index.html").read_text()
    assets = re.findall(r'(?:src|href)="\./(assets/[^"]+)"', html)
    assert sorted(assets) == ["assets/canvas.js", "assets/index.css"]
    assert all((DIST / a).is_file() for a in assets)
    package, repo = DIST.parents[1], DIST.parents[3]
    globs = tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "ui.canvas_component"]
    shipped = [p.relative_to(package).as_posix() for p in DIST.rglob("*") if p.is_file()]
    assert shipped and all(any(fnmatch.fnmatch(f, g) for g in globs) for f in shipped), shipped
