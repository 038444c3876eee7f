"""The flow file: canonical, atomic, safe to load, with errors that name file, node and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import Field

from engine.errors import FlowLoadError
from engine.flow import dumps_flow, load_flow, parse_flow, save_flow
from engine.node import NodeConfig, NodeSpec, SecretRef
from engine.ports import Port, PortType
from engine.registry import Registry
from engine.validate import check, validate
from tests.engine.toy import Toys, flow


def test_canonical_dump_is_stable_sorted_and_round_trips(tmp_path: Path) -> None:
    body = flow([("b", "toy.step", {"suffix": "x", "delay": 0}), ("a", "input.text", {"name": "q"})],
                [("a.text", "b.text")])
    body["nodes"][0]["position"] = [10, 20]
    f = parse_flow(body)
    text = dumps_flow(f)
    assert text == dumps_flow(parse_flow(text))
    assert text.endswith("}\n") and '\n  "edges": [' in text
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert "policy" not in data["nodes"][0] and data["nodes"][0]["position"] == [10.0, 20.0]
    save_flow(f, tmp_path / "sub" / "f.json")
    assert load_flow(tmp_path / "sub" / "f.json") == f
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["f.json"]  # no temp files left


def test_atomic_save_leaves_the_old_file_when_writing_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "f.json"
    good = parse_flow(flow([("a", "input.text", {"name": "q"})], []))
    save_flow(good, target)
    before = target.read_text()

    def boom(*a: object, **k: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("os.fsync", boom)
    with pytest.raises(OSError):
        save_flow(parse_flow(flow([("b", "input.text", {"name": "r"})], [])), target)
    assert target.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


@pytest.mark.parametrize(("text", "message"), [
    ("{", "f.json: not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1) "
          "(check the file with a JSON linter)"),
    ("[]", "f.json: a flow must be a JSON object, got list"),
    ('{"id": "x"}', 'f.json: missing \'schema_version\' (add "schema_version": 1)'),
    ('{"schema_version": 2, "id": "x"}', "f.json: schema_version 2 is not supported (this chainloom reads 1) "
                                         "(upgrade chainloom to open flows written by a newer version)"),
    ('{"schema_version": 1, "id": "x", "nodes": [{"id": "a", "type": "input.text", "config": {"v": NaN}}]}',
     "f.json: not valid JSON: NaN is not valid JSON (numbers must be finite) (check the file with a JSON linter)"),
    ('{"schema_version": 1, "id": "x", "nodes": [{"id": "ok", "type": "a.b"}, {"id": "../../x", "type": "a.b"}]}',
     "f.json: node '../../x' field 'id': must be 1-64 letters, digits, '_' or '-', starting with a letter "
     "or '_', got '../../x'"),
    ('{"schema_version": 1, "id": "x", "nodes": [{"id": "n", "type": "os.path:join"}]}',
     "f.json: node 'n' field 'type': must be a registered type id such as 'llm.chat' (lower-case words "
     "joined by dots), got 'os.path:join'"),
    ('{"schema_version": 1, "id": "x", "edges": [{"from": "a", "to": "b.c"}]}',
     "f.json: edge #1 field 'from': must be 'node.port', got 'a'"),
    ('{"schema_version": 1, "id": "x", "name": "a\\u0000b"}',
     "f.json: field 'name': Value error, must not contain control characters"),
    ('{"schema_version": 1, "id": "x", "surprise": 1}', "f.json: field 'surprise': Extra inputs are not permitted"),
])
def test_load_errors_name_the_file_node_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "f.json"
    path.write_text(text)
    with pytest.raises(FlowLoadError) as info:
        load_flow(path)
    assert str(info.value) == message.replace("f.json", str(path))


def test_deep_nesting_and_huge_bodies_are_refused() -> None:
    deep: object = "x"
    for _ in range(100):
        deep = [deep]
    with pytest.raises(FlowLoadError, match="nested more than 64 levels deep"):
        parse_flow({"schema_version": 1, "id": "x", "description": "", "nodes": [
            {"id": "a", "type": "a.b", "config": {"v": deep}}]})
    with pytest.raises(FlowLoadError, match="over the 10485760 limit"):
        parse_flow(" " * (10 * 1024 * 1024 + 1))
    with pytest.raises(FlowLoadError, match="not valid JSON"):
        parse_flow("[" * 100_000 + "]" * 100_000)


def test_loading_and_validating_execute_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    body = {"schema_version": 1, "id": "x", "name": "evil", "nodes": [
        {"id": "a", "type": "builtins.exec", "config": {"code": f"open('{marker}', 'w')"}},
        {"id": "b", "type": "input.text", "config": {"name": "q", "default": "__import__('os')"}}],
        "edges": []}
    flow_obj = parse_flow(json.dumps(body))
    issues = validate(flow_obj, Toys().registry)
    assert issues[0].code == "unknown_type" and not marker.exists()


class KeyConfig(NodeConfig):
    api_key_env: str = SecretRef("OPENAI_API_KEY", description="env var holding the key")
    n: int = Field(1, ge=1, le=5)


def _registry() -> Registry:
    return Registry([NodeSpec("x.key", 2, "Key", "", KeyConfig, lambda c, i, x: {},
                              outputs=[Port("o", PortType.TEXT)],
                              migrations={1: lambda c: {"api_key_env": c.pop("key_var", "OPENAI_API_KEY"), **c}})])


def test_secret_fields_take_a_variable_name_never_a_key() -> None:
    body = flow([("k", "x.key", {"api_key_env": "sk-live-0123456789"})], [])
    body["nodes"][0]["version"] = 2
    issue = validate(parse_flow(body), _registry())[0]
    assert issue.code == "bad_config" and issue.node == "k"
    assert issue.hint == "secret fields hold the NAME of an environment variable (e.g. OPENAI_API_KEY), never the key"
    assert "sk-live" not in str(issue)


def test_old_node_versions_are_migrated_on_load() -> None:
    body = flow([("k", "x.key", {"key_var": "MY_KEY", "n": 2})], [])
    plan, _ = check(parse_flow(body), _registry())
    assert plan is None  # no output node, but the config itself migrated cleanly
    issues = validate(parse_flow(body), _registry(), secrets=None)
    assert [i.code for i in issues] == ["no_output"]


def test_nan_in_a_number_field_is_refused() -> None:
    issues = validate(parse_flow({"schema_version": 1, "id": "x", "nodes": [
        {"id": "k", "type": "x.key", "version": 2, "config": {"n": float("nan")}}]}), _registry())
    assert str(issues[0]).startswith("node 'k': config field 'n': ")
