"""Per-run tweaks are deny-by-default, and never touch a field that decides where data goes.

Written from the class (security.md: per-run changes), not from one payload: every
kind of where field, on every node type that has one, is refused whatever the flow
file marks; ordinary fields pass only when the author listed them in `tweakable`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.fields import Where, where_kind
from engine.flow import dumps_flow, load_flow, parse_flow
from engine.node import NodeConfig, SecretRef
from engine.tweaks import apply_tweaks
from engine.validate import validate
from nodes.registry import default_registry

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = default_registry()


def flow_with(node: dict[str, Any]) -> dict[str, Any]:
    return {"schema_version": 1, "id": "f", "nodes": [
        {"id": "question", "type": "input.text", "config": {"name": "question"}},
        node,
        {"id": "answer", "type": "output.text", "config": {"name": "answer"}},
    ], "edges": [{"from": "question.text", "to": "prompt.question"},
                 {"from": "prompt.prompt", "to": "answer.value"}] if node["id"] == "prompt" else []}


def echo(tweakable: list[str] | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {"id": "prompt", "type": "prompt.template", "config": {"template": "Q: {question}"}}
    if tweakable is not None:
        node["tweakable"] = tweakable
    return flow_with(node)


# Every node type that has a where field, with the field and a harmless-looking value.
WHERE_TWEAKS = [
    ("llm.chat", {"provider": "openai"}, "provider", "openai"),
    ("llm.chat", {}, "base_url", "http://attacker.example/v1"),
    ("llm.chat", {}, "api_key_env", "OTHER_KEY"),
    ("llm.chat", {}, "tools", [{"name": "x"}]),
    ("agent.tool_calling", {}, "base_url", "https://evil.example"),
    ("embeddings.openai", {}, "base_url", "http://evil.example"),
    ("embeddings.cohere", {}, "api_key_env", "OTHER"),
    ("vectorstore.chroma", {}, "url", "http://evil.example:8000"),
    ("vectorstore.chroma", {}, "collection", "someone-elses"),
    ("vectorstore.chroma", {}, "folder", "other"),
    ("tool.http", {"allowed_hosts": ["api.example.com"]}, "allowed_hosts", ["evil.example"]),
    ("tool.http", {"allowed_hosts": ["api.example.com"]}, "base_url", "http://evil.example"),
    ("tool.http", {"allowed_hosts": ["api.example.com"]}, "auth_env", "OTHER"),
    ("tool.http", {"allowed_hosts": ["api.example.com"]}, "allow_side_effects", True),
    ("tool.sql_database", {"url": "sqlite:///x.db"}, "url", "postgresql://evil/db"),
    ("loader.sql", {}, "url", "sqlite:///other.db"),
    ("loader.url", {}, "url", "http://169.254.169.254/"),
    ("loader.text", {}, "path", "../../etc/passwd"),
    ("loader.directory", {}, "glob", "**/*.key"),
    ("tool.node", {"node_type": "transform.text"}, "node_type", "loader.text"),
    ("tool.node", {"node_type": "transform.text"}, "node_config", {"path": "/etc/passwd"}),
    ("tool.flow", {"flow": "a"}, "flow", "b"),
    ("memory.buffer", {}, "key", "another-user"),
    ("chain.sql", {"url": "sqlite:///x.db"}, "url_env", "OTHER"),
]


@pytest.mark.parametrize(("node_type", "config", "field", "value"), WHERE_TWEAKS)
def test_a_where_field_is_refused_even_when_the_file_marks_it(node_type: str, config: dict[str, Any],
                                                               field: str, value: Any) -> None:
    flow = parse_flow({"schema_version": 1, "id": "f", "nodes": [
        {"id": "n", "type": node_type, "config": config, "tweakable": [field]}]})
    tweaked, issues = apply_tweaks(flow, {"n": {field: value}}, REGISTRY)
    assert tweaked is flow
    assert [(i.code, i.node, i.field) for i in issues] == [("where_field", "n", f"config.{field}")]
    assert issues[0].message.startswith(f"config field '{field}' decides where data or credentials go")


@pytest.mark.parametrize(("node_type", "config", "field", "value"), WHERE_TWEAKS)
def test_validation_refuses_marking_a_where_field_tweakable(node_type: str, config: dict[str, Any],
                                                            field: str, value: Any) -> None:
    flow = parse_flow({"schema_version": 1, "id": "f", "nodes": [
        {"id": "n", "type": node_type, "config": config, "tweakable": [field]}]})
    issues = [i for i in validate(flow, REGISTRY) if i.code == "bad_tweakable"]
    assert [(i.node, i.field) for i in issues] == [("n", f"config.{field}")]
    assert "can never be tweakable" in issues[0].message


def test_nothing_is_tweakable_unless_the_author_marks_it() -> None:
    flow = parse_flow(echo())
    same, issues = apply_tweaks(flow, {"prompt": {"template": "A: {question}"}}, REGISTRY)
    assert same is flow
    assert [(i.code, i.node, i.field) for i in issues] == [("not_tweakable", "prompt", "config.template")]
    assert issues[0].hint == ("the flow's author can allow it: add \"tweakable\": [\"template\"] to node "
                              "'prompt' in the flow file (or tick \"tweakable\" in the builder)")


def test_a_marked_ordinary_field_changes_for_this_run_only() -> None:
    flow = parse_flow(echo(["template"]))
    tweaked, issues = apply_tweaks(flow, {"prompt": {"template": "A: {question}"}}, REGISTRY)
    assert issues == []
    assert tweaked.node("prompt").config == {"template": "A: {question}"}  # type: ignore[union-attr]
    assert flow.node("prompt").config == {"template": "Q: {question}"}  # type: ignore[union-attr]


def test_bad_values_unknown_nodes_and_fields_are_all_reported_at_once() -> None:
    flow = parse_flow(echo(["template"]))
    _, issues = apply_tweaks(flow, {"prompt": {"template": 5, "nope": 1}, "ghost": {"x": 1}}, REGISTRY)
    assert [(i.code, i.node, i.field) for i in issues] == [
        ("unknown_field", "prompt", "config.nope"), ("unknown_node", None, None)]
    _, issues = apply_tweaks(flow, {"prompt": {"template": 5}}, REGISTRY)
    assert [(i.code, i.node, i.field) for i in issues] == [("bad_tweak", "prompt", "config.template")]


def test_validation_refuses_unknown_tweakable_names() -> None:
    flow = parse_flow(echo(["template", "nope"]))
    assert [(i.code, i.field) for i in validate(flow, REGISTRY)] == [("bad_tweakable", "config.nope")]
    with pytest.raises(Exception, match="config field name"):
        parse_flow(echo(["bad name"]))


def test_tweakable_round_trips_in_the_canonical_file_and_old_files_load_unchanged(tmp_path: Path) -> None:
    flow = parse_flow(echo(["template"]))
    text = dumps_flow(flow)
    assert json.loads(text)["nodes"][1]["tweakable"] == ["template"]
    assert parse_flow(text) == flow
    assert "tweakable" not in dumps_flow(parse_flow(echo()))
    for path in sorted((ROOT / "flows").glob("*.json")):
        assert dumps_flow(load_flow(path)) == dumps_flow(parse_flow(dumps_flow(load_flow(path))))
        assert "tweakable" not in dumps_flow(load_flow(path))


class NewNodeConfig(NodeConfig):
    endpoint_address: str = Where(kind="url", default="", description="Declared where field.")
    token: str = SecretRef("", description="Secret name.")
    destination_url: str = ""   # no marker: caught by its name
    upload_path: str = ""
    temperature: float = 0.5


def test_new_nodes_get_the_rule_by_declaring_and_names_are_a_safety_net() -> None:
    kinds = {n: where_kind(NewNodeConfig, n) for n in NewNodeConfig.model_fields}
    assert kinds == {"endpoint_address": "url", "token": "secret", "destination_url": "url",
                     "upload_path": "path", "temperature": None}
