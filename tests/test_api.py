"""The Python API: `chainloom.run` on a file, a Flow, or a saved flow; errors; light import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import chainloom
from engine.errors import FlowLoadError, NotFound, ValidationFailed
from engine.flow import parse_flow
from engine.store import open_store
from engine.trace import read_trace
from tests.test_cli import ANSWER, INVALID, chat_flow, echo_flow, write


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CHAINLOOM_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CHAINLOOM_DATABASE_URL", raising=False)
    return tmp_path / "home"


def test_two_lines_run_a_flow_file(home: Path, tmp_path: Path) -> None:
    path = write(tmp_path, chat_flow())
    result = chainloom.run(path, question="What is chainloom?")
    assert (result.status, result.outputs, result.error) == ("succeeded", {"answer": ANSWER}, None)
    kinds = [e.kind for e in result.events]
    assert (kinds[0], kinds[-1], kinds.count("node.finished")) == ("run.started", "run.finished", 4)
    trace = read_trace(home / "traces" / f"{result.run_id}.jsonl")
    assert trace == [e.to_dict() for e in result.events]
    assert open_store().get_run(result.run_id).status == "succeeded"


def test_inputs_as_dict_and_keywords(home: Path, tmp_path: Path) -> None:
    path = write(tmp_path, echo_flow())
    assert chainloom.run(path, {"question": "dict"}).outputs == {"answer": "Q: dict"}
    assert chainloom.run(path, {"question": "dict"}, question="kw").outputs == {"answer": "Q: kw"}


def test_run_a_flow_object_with_session_and_handlers(home: Path) -> None:
    seen: list[Any] = []
    result = chainloom.run(parse_flow(chat_flow()), {"question": "x"}, session_id="s-9",
                           handlers=[seen.append])
    assert result.ok and seen == result.events
    assert open_store().get_run(result.run_id).session_id == "s-9"


def test_run_a_saved_flow_by_id_or_name(home: Path, tmp_path: Path) -> None:
    flow = chainloom.load(write(tmp_path, chat_flow()))
    open_store().save_flow(flow, None)
    open_store().save_flow(flow, 1)
    for ref in ("chat", "Chat chat"):
        result = chainloom.run(ref, question="x")
        assert result.outputs == {"answer": ANSWER}
        assert open_store().get_run(result.run_id).flow_version == 2


def test_failing_node_is_in_the_result_not_raised(home: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAINLOOM_TEST_NEVER_SET", raising=False)
    body = chat_flow(llm={"provider": "openai", "api_key_env": "CHAINLOOM_TEST_NEVER_SET"})
    result = chainloom.run(write(tmp_path, body), question="x")
    assert (result.status, result.error.node_id) == ("failed", "llm")  # type: ignore[union-attr]


def test_unrunnable_flows_raise(home: Path, tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed) as err:
        chainloom.run(write(tmp_path, INVALID), question="x")
    assert len(err.value.issues) == 4
    with pytest.raises(FlowLoadError) as load_err:
        chainloom.run(str(tmp_path / "missing.json"))
    assert load_err.value.message == f"{tmp_path / 'missing.json'}: no such file"
    with pytest.raises(NotFound) as not_found:
        chainloom.run("unsaved-flow")
    assert not_found.value.message == "'unsaved-flow' is neither a flow file nor a saved flow"


def test_runner_is_wired_with_the_catalog_store_and_traces(home: Path) -> None:
    runner = chainloom.runner()
    assert "llm.chat" in runner.registry
    assert runner.store.open() is open_store()  # the store itself opens only when read
    assert runner.store.url == open_store().url
    assert runner.trace_dir == home / "traces"
    assert runner.services["home"] == home and runner.services["store"] is runner.store
    assert runner.services["store"].list_flows() == []  # reads go to the opened store
    bare = chainloom.runner(store=False, trace=False)
    assert (bare.store, bare.trace_dir) == (None, None)


def test_import_is_light() -> None:
    code = ("import sys, chainloom; print(json.dumps(sorted(m for m in ('engine', 'nodes', "
            "'sqlalchemy', 'rich', 'pydantic', 'networkx') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True,
                         text=True, check=True, timeout=60, env=dict(os.environ)).stdout
    assert json.loads(out) == []
    assert chainloom.Flow is parse_flow(chat_flow()).__class__
