"""The `chainloom` command, run through `main([...])` (and once as a real process).

Flows are built here from the shipped node types; the LLM is the scripted provider.
CHAINLOOM_HOME points into tmp_path, so nothing touches ~/.chainloom.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from chainloom.cli import main
from chainloom.live import LinePrinter, LiveView, RunView, progress, summary_table
from engine.events import NodeCancelled, NodeFailed, NodeFinished, NodeStarted, NodeToken, RunFinished, RunStarted
from engine.flow import dumps_flow, load_flow
from engine.store import open_store

ANSWER = "Chainloom runs flows offline."


def chat_flow(flow_id: str = "chat", llm: dict[str, Any] | None = None) -> dict[str, Any]:
    llm = llm or {"provider": "scripted", "responses": [ANSWER]}
    return {
        "schema_version": 1, "id": flow_id, "name": "Chat " + flow_id,
        "nodes": [
            {"id": "question", "type": "input.text", "config": {"name": "question"}},
            {"id": "prompt", "type": "prompt.template", "config": {"template": "Q: {question}"}},
            {"id": "llm", "type": "llm.chat", "config": llm},
            {"id": "answer", "type": "output.text", "config": {"name": "answer"}},
        ],
        "edges": [
            {"from": "question.text", "to": "prompt.question"},
            {"from": "prompt.prompt", "to": "llm.prompt"},
            {"from": "llm.text", "to": "answer.value"},
        ],
    }


def echo_flow() -> dict[str, Any]:
    """input -> template -> output: the output shows exactly what the input was."""
    body = chat_flow("echo")
    body["nodes"] = [n for n in body["nodes"] if n["id"] != "llm"]
    body["edges"] = [body["edges"][0], {"from": "prompt.prompt", "to": "answer.value"}]
    return body


FAILING_LLM = {"provider": "openai", "api_key_env": "CHAINLOOM_TEST_NEVER_SET"}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CHAINLOOM_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CHAINLOOM_DATABASE_URL", raising=False)
    monkeypatch.delenv("CHAINLOOM_TEST_NEVER_SET", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path / "home"


def write(tmp_path: Path, body: dict[str, Any], name: str = "flow.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(body), encoding="utf-8")
    return str(path)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def node_lines(text: str) -> list[str]:
    """The per-node lines of a run, with timings taken out."""
    lines = [line for line in text.splitlines() if line[:1] in ("▶", "✓", "✗", "↷", "⊘", "■")
             or (line.startswith("  ") and " │ " in line)]
    lines = [re.sub(r" \d+(\.\d+)? (µs|ms|s)\b", " T", line).rstrip() for line in lines]
    return [re.sub(r"\b\d+ tokens\b", "N tokens", line) for line in lines]


# ---------------------------------------------------------------- run
def test_run_prints_node_lines_streamed_tokens_summary_and_output(
        home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "run", write(tmp_path, chat_flow()), "--input", "question=What is it?")
    assert (code, err) == (0, "")
    assert node_lines(out) == [
        "▶ question (input.text)", "✓ question (input.text) T",
        "▶ prompt (prompt.template)", "✓ prompt (prompt.template) T",
        "▶ llm (llm.chat)", f"  llm │ {ANSWER}", "✓ llm (llm.chat) T · N tokens",
        "▶ answer (output.text)", "✓ answer (output.text) T",
        "■ run succeeded in T · N tokens",
    ]
    summary = out[out.index("Run summary"):]
    for row in ("question", "prompt.template", "llm.chat", "✓ done"):
        assert row in summary
    assert re.search(r"│ llm +│ llm\.chat +│ ✓ done +│ +\d+ (µs|ms) +│ +[1-9]\d* │", summary)
    assert f"│ {ANSWER} │" in summary


def test_run_json_prints_only_the_result_object(home: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "run", write(tmp_path, chat_flow()), "-i", "question=hi", "--json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert set(data) == {"run_id", "flow_id", "status", "outputs", "error", "hint", "failed_node", "usage",
                         "duration"}
    assert (data["status"], data["outputs"], data["error"]) == ("succeeded", {"answer": ANSWER}, None)
    usage = data["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    assert open_store().get_run(data["run_id"]).outputs == {"answer": ANSWER}
    assert (home / "traces" / f"{data['run_id']}.jsonl").exists()


def test_input_values_from_text_file_and_at_escape(home: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "q.txt").write_text("from a file", encoding="utf-8")
    flow = write(tmp_path, echo_flow())
    code, out, _ = cli(capsys, "run", flow, "--input", f"question=@{tmp_path / 'q.txt'}", "--json")
    assert (code, json.loads(out)["outputs"]) == (0, {"answer": "Q: from a file"})
    code, out, _ = cli(capsys, "run", flow, "--input", "question=@@handle", "--json")
    assert (code, json.loads(out)["outputs"]) == (0, {"answer": "Q: @handle"})


def test_failing_run_exits_1_naming_the_node_error_and_hint(home: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "run", write(tmp_path, chat_flow(llm=FAILING_LLM)), "-i", "question=hi")
    assert code == 1
    message = ("node 'llm' (llm.chat) failed: node 'llm': config field 'api_key_env' names the "
               "secret 'CHAINLOOM_TEST_NEVER_SET', which is not set")
    assert err.splitlines()[0] == f"✗ {message}"
    assert err.splitlines()[1].startswith("  hint: export CHAINLOOM_TEST_NEVER_SET=...")
    assert "⊘ answer cancelled: not started" in out
    assert re.search(r"│ llm +│ llm\.chat +│ ✗ failed", out)
    run = open_store().list_runs()[0]
    assert (run.status, run.failed_node, run.error) == ("failed", "llm", message)


def test_failing_run_json(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "run", write(tmp_path, chat_flow(llm=FAILING_LLM)), "-i", "question=hi",
                       "--json")
    data = json.loads(out)
    assert (code, data["status"], data["failed_node"]) == (1, "failed", "llm")
    assert data["hint"].startswith("export CHAINLOOM_TEST_NEVER_SET=...")


INVALID = {
    "schema_version": 1, "id": "invalid",
    "nodes": [
        {"id": "q", "type": "input.text", "config": {"name": "question"}},
        {"id": "x", "type": "llm.chatt", "config": {}},
        {"id": "p", "type": "prompt.template", "config": {"template": "{question}"}},
        {"id": "llm", "type": "llm.chat", "config": {"temperature": 9}},
        {"id": "answer", "type": "output.text", "config": {"name": "answer"}},
    ],
    "edges": [{"from": "q.text", "to": "nope.question"}, {"from": "p.prompt", "to": "llm.prompt"},
              {"from": "llm.text", "to": "answer.value"}],
}
INVALID_LINES = [
    "✗ unknown_type  node 'x': unknown node type 'llm.chatt'",
    "    hint: did you mean 'llm.chat'?",
    "✗ bad_config  node 'llm': config field 'temperature': Input should be less than or equal to 2",
    "✗ dangling_edge  node 'nope': edge q.text -> nope.question goes to node 'nope', which does not exist",
    "    hint: remove the edge or add the node",
    "✗ missing_input  node 'p' port 'question': required input (Text) is not connected",
    "    hint: connect an output of type Text to 'p.question'",
]


def test_invalid_flow_exits_2_listing_every_issue_and_runs_nothing(
        home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "run", write(tmp_path, INVALID), "-i", "question=hi")
    assert (code, out) == (2, "")
    assert err.splitlines() == [*INVALID_LINES, "4 problems; nothing was run"]
    assert open_store().list_runs() == []
    assert not (home / "traces").exists()


def test_invalid_flow_json(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "run", write(tmp_path, INVALID), "--json")
    data = json.loads(out)
    assert (code, data["status"], data["run_id"]) == (2, "invalid", None)
    assert [i["code"] for i in data["issues"]] == ["unknown_type", "bad_config", "dangling_edge",
                                                   "missing_input"]


def test_bad_inputs_exit_2_listing_all_of_them(home: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "run", write(tmp_path, chat_flow()), "-i", "quest=1", "-i", "other=2")
    assert code == 2
    assert err.splitlines() == [
        "✗ unknown_input  flow: unknown flow input 'quest'; this flow takes: question",
        "    hint: check the input's name",
        "✗ unknown_input  flow: unknown flow input 'other'; this flow takes: question",
        "    hint: check the input's name",
        "✗ missing_input  node 'question': flow input 'question' is required",
        "    hint: pass it with --input question=...",
        "3 problems; nothing was run",
    ]
    assert open_store().list_runs() == []


@pytest.mark.parametrize(("argv", "first_line"), [
    (["-i", "question"], "✗ --input 'question' is not NAME=VALUE"),
    (["-i", "question=@/no/such/file.txt"],
     "✗ --input question=@/no/such/file.txt: cannot read the file: "
     "[Errno 2] No such file or directory: '/no/such/file.txt'"),
])
def test_malformed_inputs_exit_2(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                 argv: list[str], first_line: str) -> None:
    code, _, err = cli(capsys, "run", write(tmp_path, chat_flow()), *argv)
    assert (code, err.splitlines()[0]) == (2, first_line)


def test_missing_flow_file_and_unknown_saved_flow_exit_2(home: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "run", str(tmp_path / "nope.json"))
    assert (code, err.splitlines()[0]) == (2, f"✗ {tmp_path / 'nope.json'}: no such file")
    code, _, err = cli(capsys, "run", "no-such-flow")
    assert (code, err.splitlines()[0]) == (2, "✗ 'no-such-flow' is neither a flow file nor a saved flow")


# ---------------------------------------------------------------- validate, nodes
def test_validate(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "validate", write(tmp_path, chat_flow()))
    assert code == 0
    assert out.strip().endswith("is valid: 4 nodes, 3 edges; inputs: question; outputs: answer")
    path = write(tmp_path, INVALID, "invalid.json")
    code, out, _ = cli(capsys, "validate", path)
    assert (code, out.splitlines()) == (2, [*INVALID_LINES, f"4 problems in {path}"])  # 2, like `run`
    code, out, _ = cli(capsys, "validate", path, "--json")
    data = json.loads(out)
    assert (code, data["valid"], len(data["issues"])) == (2, False, 4)
    assert data["issues"][0] == {"code": "unknown_type", "node": "x", "port": None, "field": None,
                                 "message": "unknown node type 'llm.chatt'", "hint": "did you mean 'llm.chat'?",
                                 "severity": "error"}


def test_validate_warns_about_an_unset_secret_and_still_passes(home: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAINLOOM_TEST_UNSET_KEY", raising=False)
    path = write(tmp_path, chat_flow(llm={"provider": "openai", "model": "gpt-4o-mini",
                                          "api_key_env": "CHAINLOOM_TEST_UNSET_KEY"}))
    code, out, _ = cli(capsys, "validate", path)
    assert code == 0
    assert out.splitlines() == [
        "! secret_not_set  node 'llm': config field 'api_key_env' names the secret "
        "'CHAINLOOM_TEST_UNSET_KEY', which is not set",
        "    hint: export CHAINLOOM_TEST_UNSET_KEY=... in the environment that runs this flow",
        f"✓ {path} is valid: 4 nodes, 3 edges; inputs: question; outputs: answer"]
    code, out, _ = cli(capsys, "validate", path, "--json")
    data = json.loads(out)
    assert (code, data["valid"], [i["severity"] for i in data["issues"]]) == (0, True, ["warning"])


def test_validate_lists_each_malformed_type_id(home: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    body = chat_flow()
    body["nodes"][1]["type"] = "Prompt"
    body["nodes"][2]["type"] = "os.path:join"
    path = write(tmp_path, body)
    code, out, _ = cli(capsys, "validate", path, "--json")
    assert (code, [(i["code"], i["node"]) for i in json.loads(out)["issues"]]) == (
        2, [("load_error", "prompt"), ("load_error", "llm")])


def test_validate_reports_an_unreadable_file_as_an_issue(home: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    code, out, _ = cli(capsys, "validate", str(tmp_path / "broken.json"), "--json")
    [issue] = json.loads(out)["issues"]
    assert (code, issue["code"]) == (2, "load_error")
    assert issue["message"].startswith(f"{tmp_path / 'broken.json'}: not valid JSON")


def test_nodes_json_describes_every_node(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "nodes", "--json")
    specs = {d["type"]: d for d in json.loads(out)}
    assert code == 0
    text_input = specs["input.text"]
    assert (text_input["family"], text_input["version"], text_input["role"]) == ("input", 1, "input")
    assert text_input["outputs"] == [{"name": "text", "type": "Text", "required": True, "multiple": False,
                                      "description": text_input["outputs"][0]["description"]}]
    assert "name" in text_input["config_schema"]["properties"]
    assert {"output.text", "llm.chat", "prompt.template"} <= set(specs)


def test_nodes_table_and_family_filter(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "nodes", "--family", "input")
    assert code == 0 and "input.text" in out and "llm.chat" not in out
    code, out, _ = cli(capsys, "nodes", "--family", "input", "--json")
    assert {d["family"] for d in json.loads(out)} == {"input"}
    code, _, err = cli(capsys, "nodes", "--family", "nope")
    assert code == 1 and err.startswith("✗ no node family 'nope'; families are: ")


# ---------------------------------------------------------------- runs
def test_runs_lists_and_runs_show_replays_the_same_lines(home: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    flow = write(tmp_path, chat_flow())
    _, live_out, _ = cli(capsys, "run", flow, "-i", "question=hi")
    run_id = open_store().list_runs()[0].id
    code, out, _ = cli(capsys, "runs")
    assert code == 0 and run_id[:12] in out and "chat" in out and "succeeded" in out
    code, out, _ = cli(capsys, "runs", "show", run_id[:8])
    assert code == 0
    assert node_lines(out) == node_lines(live_out)
    assert out.splitlines()[1] == live_out.splitlines()[0] == f"run {run_id} · flow chat · 4 nodes"
    assert f"│ {ANSWER} │" in out and "Run summary" in out


def test_runs_filter_empty_and_unknown_run(home: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "runs", "--flow", "chat")
    assert (code, out.strip()) == (0, "no runs recorded yet for flow 'chat'")
    code, _, err = cli(capsys, "runs", "show", "abcdef123")
    assert (code, err.splitlines()[0]) == (1, "✗ no recorded run has the id 'abcdef123'")


def test_runs_show_replays_a_failed_run_with_its_error(home: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    _, live_out, _ = cli(capsys, "run", write(tmp_path, chat_flow(llm=FAILING_LLM)), "-i", "question=x")
    run_id = open_store().list_runs()[0].id
    code, out, err = cli(capsys, "runs", "show", run_id)
    assert code == 0
    assert node_lines(out) == node_lines(live_out)
    assert err.startswith("✗ node 'llm' (llm.chat) failed")


# ---------------------------------------------------------------- flows, upgrade
def test_flows_save_list_export_and_stale_save(home: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, chat_flow())
    assert cli(capsys, "flows", "save", path, "-m", "first")[:2] == (0, "✓ saved flow 'chat' as version 1\n")
    code, _, err = cli(capsys, "flows", "save", path)
    assert (code, err.splitlines()[0]) == (1, "✗ flow 'chat' is already saved (version 1)")
    assert cli(capsys, "flows", "save", path, "--base", "1")[:2] == (0, "flow 'chat' is unchanged; still version 1\n")
    edited = write(tmp_path, {**chat_flow(), "name": "Edited"}, "edited.json")
    assert cli(capsys, "flows", "save", edited, "--base", "1")[:2] == (0, "✓ saved flow 'chat' as version 2\n")
    code, _, err = cli(capsys, "flows", "save", path, "--base", "1")
    assert (code, err.splitlines()[0]) == (1, "✗ flow 'chat' is at version 2, but this save was based on version 1")
    assert [v.version for v in open_store().flow_versions("chat")] == [1, 2]
    code, out, _ = cli(capsys, "flows", "list")
    assert code == 0 and re.search(r"│ chat +│ Edited +│ 2 ", out)
    code, out, _ = cli(capsys, "flows", "export", "chat", "--version", "1")
    assert (code, out) == (0, dumps_flow(load_flow(path)))
    assert cli(capsys, "flows", "export", "Edited", "-o", str(tmp_path / "out.json"))[0] == 0
    assert (tmp_path / "out.json").read_text(encoding="utf-8") == dumps_flow(load_flow(edited))


def test_run_a_saved_flow_by_name_records_its_version(home: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    cli(capsys, "flows", "save", write(tmp_path, chat_flow()))
    code, out, _ = cli(capsys, "run", "Chat chat", "-i", "question=hi", "--json")
    assert (code, json.loads(out)["outputs"]) == (0, {"answer": ANSWER})
    assert open_store().list_runs()[0].flow_version == 1


def test_upgrade_migrates_old_nodes_and_rewrites_the_file(home: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    import nodes.registry
    from engine.registry import Registry

    real = nodes.registry.default_registry()
    template = real.get("prompt.template")
    v2 = dataclasses.replace(template, version=2, migrations={
        1: lambda c: {k: v for k, v in c.items() if k != "legacy"}})
    registry = Registry([v2 if s.type == "prompt.template" else s for s in real])
    monkeypatch.setattr(nodes.registry, "default_registry", lambda: registry)
    body = chat_flow()
    body["nodes"][1]["config"]["legacy"] = True
    path = write(tmp_path, body)
    before = Path(path).read_text(encoding="utf-8")
    code, out, _ = cli(capsys, "upgrade", path, "--dry-run")
    assert (code, Path(path).read_text(encoding="utf-8")) == (0, before)
    assert out.splitlines()[0] == "~ node 'prompt' (prompt.template): version 1 -> 2; config -legacy"
    code, out, _ = cli(capsys, "upgrade", path)
    assert (code, out.splitlines()[-1]) == (0, f"✓ upgraded 1 node(s) in {path}")
    upgraded = load_flow(path)
    assert (upgraded.nodes[1].version, upgraded.nodes[1].config) == (2, {"template": "Q: {question}"})
    assert Path(path).read_text(encoding="utf-8") == dumps_flow(upgraded)
    assert cli(capsys, "upgrade", path)[:2] == (0, f"{path} is up to date\n")


def test_upgrade_refuses_unknown_types_and_writes_nothing(home: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, INVALID)
    before = Path(path).read_text(encoding="utf-8")
    code, _, err = cli(capsys, "upgrade", path)
    assert code == 2
    assert err.splitlines()[0] == "✗ node 'x': unknown node type 'llm.chatt' (did you mean 'llm.chat'?)"
    assert Path(path).read_text(encoding="utf-8") == before


# ---------------------------------------------------------------- the view itself
EVENTS = [
    RunStarted(run_id="r", flow_id="f", nodes=["a", "b", "c"]),
    NodeStarted(run_id="r", node="a", type="llm.chat"),
    NodeToken(run_id="r", node="a", text="Hello"),
    NodeToken(run_id="r", node="a", text=" world"),
]
END = [
    NodeFinished(run_id="r", node="a", type="llm.chat", duration=0.25,
                 usage={"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}),
    NodeFailed(run_id="r", node="b", type="x.y", error="boom", hint="fix it", duration=0.002),
    NodeCancelled(run_id="r", node="c", type="x.z", reason="not started: run stopped: boom"),
    RunFinished(run_id="r", status="failed", error="boom", duration=0.3, usage={"total_tokens": 5}),
]


def test_run_view_folds_events_into_rows() -> None:
    view = RunView()
    for event in EVENTS:
        view(event)
    a = view.rows["a"]
    assert (a.status, a.streamed, a.tokens) == ("running", "Hello world", 2)
    for event in END:
        view(event)
    assert [(r.id, r.status, r.duration, r.tokens, r.note) for r in view.rows.values()] == [
        ("a", "done", 0.25, 5, ""), ("b", "failed", 0.002, None, "boom"),
        ("c", "cancelled", None, None, "not started")]
    assert view.finished is END[-1]


def test_progress_shows_the_running_nodes_stream() -> None:
    view = RunView()
    for event in EVENTS:
        view(event)
    console = Console(file=io.StringIO(), width=80, force_terminal=False)
    console.print(progress(view))
    text = console.file.getvalue()
    assert re.search(r"▶ +a +llm\.chat", text) and re.search(r"· +b ", text)
    assert "Hello world" in text


def test_line_printer_streams_tokens_between_lines() -> None:
    out = io.StringIO()
    printer = LinePrinter(out)
    for event in [*EVENTS, *END]:
        printer(event)
    assert out.getvalue().splitlines() == [
        "run r · flow f · 3 nodes", "▶ a (llm.chat)", "  a │ Hello world",
        "✓ a (llm.chat) 250 ms · 5 tokens",
        "✗ b (x.y) failed after 2 ms: boom (hint: fix it)",
        "⊘ c cancelled: not started", "■ run failed in 300 ms · 5 tokens"]


def test_live_view_draws_on_a_terminal_and_leaves_the_summary() -> None:
    console = Console(file=io.StringIO(), width=100, force_terminal=True)
    live = LiveView(console)
    for event in [*EVENTS, *END]:
        live(event)
    assert not live._live.is_started
    console.print(summary_table(live.view))
    assert "Run summary" in console.file.getvalue()


def test_console_script_runs_as_a_process(home: Path, tmp_path: Path) -> None:
    env = {**os.environ, "CHAINLOOM_HOME": str(home)}
    proc = subprocess.run([sys.executable, "-m", "chainloom.cli", "run", write(tmp_path, INVALID)],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 2 and "4 problems; nothing was run" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "chainloom.cli", "run", write(tmp_path, chat_flow()),
                           "-i", "question=hi", "--json"],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert (proc.returncode, json.loads(proc.stdout)["outputs"]) == (0, {"answer": ANSWER})


HEAVY = ("chromadb", "networkx", "numpy", "httpx", "jsonschema", "openai", "cohere")


def test_hello_imports_only_what_its_nodes_need(tmp_path: Path) -> None:
    """A flow of prompt, offline llm and text nodes loads none of the heavy packages (start-up)."""
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "CHAINLOOM_HOME": str(tmp_path), "PYTHONPATH": str(root)}
    env.pop("CHAINLOOM_DATABASE_URL", None)
    for _ in range(2):  # the first run in an empty data dir also creates the database
        done = subprocess.run([sys.executable, "-X", "importtime", "-m", "chainloom", "run", "flows/hello.json"],
                              cwd=root, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in done.stderr.splitlines() if "|" in line}
    assert "nodes" in imported and "pydantic" in imported  # the import log is what we think it is
    assert sorted(set(HEAVY) & imported) == []
