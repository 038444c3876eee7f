"""Per-run tweaks through the CLI (`run --tweak`), the Python API and flow-as-tool: one gate.

Each surface accepts a tweak of a field the flow marks tweakable, and refuses, before
anything runs, a tweak of an unmarked field or of a field that decides where the
operator's key goes (provider, base_url, api_key_env), naming node and field.
"""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

import pytest

import chainloom
from engine.errors import PermanentError, ValidationFailed
from engine.store import open_store
from nodes.tool.flow import FlowToolConfig, flow_tool_node
from tests.nodes.agentkit import context
from tests.test_cli import chat_flow, cli, echo_flow, write

REDIRECTS = [("llm", "base_url", "http://127.0.0.1:9/v1"), ("llm", "provider", "openai"),
             ("llm", "api_key_env", "ATTACKER_KEY"), ("prompt", "template", "A: {question}")]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CHAINLOOM_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CHAINLOOM_DATABASE_URL", raising=False)
    return tmp_path / "home"


def marked(body: dict[str, Any], node_id: str, *fields: str) -> dict[str, Any]:
    body = copy.deepcopy(body)
    next(n for n in body["nodes"] if n["id"] == node_id)["tweakable"] = list(fields)
    return body


def test_cli_tweak_changes_a_marked_field_for_one_run(home: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, marked(echo_flow(), "prompt", "template"))
    code, out, _ = cli(capsys, "run", path, "-i", "question=hi", "--tweak", "prompt.template=A: {question}",
                       "--json")
    assert (code, json.loads(out)["outputs"]) == (0, {"answer": "A: hi"})
    code, out, _ = cli(capsys, "run", path, "-i", "question=hi", "--json")
    assert json.loads(out)["outputs"] == {"answer": "Q: hi"}


@pytest.mark.parametrize(("node", "field", "value"), REDIRECTS)
def test_cli_refuses_unmarked_and_where_tweaks_and_runs_nothing(home: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str],
                                                                node: str, field: str, value: str) -> None:
    path = write(tmp_path, chat_flow())
    code, out, _ = cli(capsys, "run", path, "-i", "question=hi", "--tweak", f"{node}.{field}={value}", "--json")
    body = json.loads(out)
    assert (code, body["status"]) == (2, "invalid")
    assert [(i["code"], i["node"]) for i in body["issues"]] == [
        ("not_tweakable" if field == "template" else "where_field", node)]
    assert f"config field '{field}'" in body["issues"][0]["message"]
    assert open_store().list_runs(None, 10) == []


def test_cli_tweak_values_parse_as_json_else_text_and_malformed_ones_exit_2(
        home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, marked(chat_flow(), "llm", "temperature", "responses"))
    code, out, _ = cli(capsys, "run", path, "-i", "question=hi", "-t", "llm.temperature=0.1",
                       "-t", 'llm.responses=["tweaked answer"]', "--json")
    assert (code, json.loads(out)["outputs"]) == (0, {"answer": "tweaked answer"})
    for bad in ("temperature=1", "llm.=1", ".x=1", "llm.temperature"):
        code, _, err = cli(capsys, "run", path, "-i", "question=hi", "--tweak", bad)
        assert code == 2 and "is not NODE.FIELD=VALUE" in err


def test_python_api_tweaks(home: Path, tmp_path: Path) -> None:
    path = write(tmp_path, marked(echo_flow(), "prompt", "template"))
    result = chainloom.run(path, question="hi", tweaks={"prompt": {"template": "A: {question}"}})
    assert result.outputs == {"answer": "A: hi"}
    for node, field, value in REDIRECTS[:3]:
        with pytest.raises(ValidationFailed) as caught:
            chainloom.run(write(tmp_path, chat_flow()), question="hi", tweaks={node: {field: value}})
        assert [(i.code, i.node, i.field) for i in caught.value.issues] == [
            ("where_field", node, f"config.{field}")]
    assert open_store().list_runs(None, 10)[0].status == "succeeded"  # only the accepted run ran


@pytest.mark.parametrize(("node", "field", "value"), REDIRECTS)
def test_flow_as_tool_tweaks_go_through_the_same_gate(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      node: str, field: str, value: str) -> None:
    monkeypatch.setenv("CHAINLOOM_FILES_ROOT", str(tmp_path))
    write(tmp_path, marked(echo_flow(), "prompt", "template"), "echo.json")
    write(tmp_path, marked(chat_flow(), "llm", "temperature"), "chat.json")
    config = FlowToolConfig(flow="echo.json", tweaks={"prompt": {"template": "A: {question}"}})
    tool = flow_tool_node.run(config, {}, context())["tool"]
    assert asyncio.run(tool.call({"question": "hi"}, context())).text == "A: hi"
    with pytest.raises(PermanentError) as caught:
        flow_tool_node.run(FlowToolConfig(flow="chat.json", tweaks={node: {field: value}}), {}, context())
    code = "not_tweakable" if field == "template" else "where_field"
    assert f"node '{node}': config field '{field}'" in caught.value.message
    assert ("is not tweakable" if code == "not_tweakable" else "decides where") in caught.value.message
