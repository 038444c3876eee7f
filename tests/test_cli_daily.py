"""The CLI a daily user expects: version, init, examples, completion, verbose runs, agent steps,
ingest progress, cost, runs/flows listings as JSON, delete, diff, session ids and run-id prefixes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from chainloom.cli_tools import command_tree
from engine.store import open_store
from tests.test_cli import ANSWER, chat_flow, cli, write

FLOWS = Path(__file__).resolve().parent.parent / "flows"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CHAINLOOM_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CHAINLOOM_DATABASE_URL", raising=False)
    monkeypatch.delenv("CHAINLOOM_FILES_ROOT", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path / "home"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as done:
        cli(capsys, "--version")
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"chainloom {version('chainloom')}"


# ---------------------------------------------------------------- init
def test_init_writes_a_flow_from_each_template_and_it_validates(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    for template in ("rag", "chat", "agent"):
        code, out, err = cli(capsys, "init", f"my-{template}", "--template", template)
        assert (code, err) == (0, ""), err
        assert out.startswith(f"✓ wrote my-{template}.json (template {template}: ")
        body = json.loads((tmp_path / f"my-{template}.json").read_text())
        assert (body["id"], body["name"]) == (f"my-{template}", f"my-{template}")
        code, out, _ = cli(capsys, "validate", f"my-{template}.json")
        assert code == 0, out
    code, _, err = cli(capsys, "init", "my-rag")
    assert code == 1 and err.splitlines() == ["✗ my-rag.json already exists",
                                              "  hint: choose another name, or pass --force to overwrite it"]


def test_init_rag_answers_over_your_own_folder(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """The README walkthrough: a folder of notes, `init --template rag`, run; no environment variables."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "garden.md").write_text("# Garden\n\nThe tomatoes are watered every Tuesday.\n")
    (tmp_path / "notes" / "bikes.txt").write_text("The blue bike needs new brake pads before May.\n")
    (tmp_path / "notes" / "thumbs.db").write_bytes(b"\x00\x01 binary")  # skipped, not fatal
    code, out, _ = cli(capsys, "init", "ask-notes", "--docs", "notes")
    assert code == 0 and "next:" not in out
    code, out, err = cli(capsys, "run", "ask-notes.json", "--json", "-i", "question=When are the tomatoes watered?")
    assert (code, err) == (0, "")
    result = json.loads(out)
    assert "Tuesday" in result["outputs"]["answer"]
    assert result["outputs"]["sources"][0]["source"] == "notes/garden.md"


# ---------------------------------------------------------------- examples
def test_examples_list_and_copy_with_its_data(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = cli(capsys, "examples")
    assert code == 0
    assert {p.stem for p in FLOWS.glob("*.json")} <= set(re.findall(r"│ ([a-z0-9-]+) +│", out))
    code, out, _ = cli(capsys, "examples", "copy", "rag-qa", "mine")
    assert code == 0 and out.splitlines()[0] == "✓ copied mine/rag-qa.json, mine/data/handbook"
    assert sorted(p.name for p in (tmp_path / "mine" / "data" / "handbook").iterdir()) == \
        sorted(p.name for p in (FLOWS / "data" / "handbook").iterdir())
    assert out.splitlines()[1].startswith("  run it: cd mine && chainloom run rag-qa.json")
    monkeypatch.setenv("CHAINLOOM_EXAMPLES", str(tmp_path / "nowhere"))  # the copy stands on its own
    monkeypatch.chdir(tmp_path / "mine")
    code, out, err = cli(capsys, "run", "rag-qa.json", "--json")
    assert (code, err) == (0, "") and json.loads(out)["outputs"]["sources"][0]["source"].startswith("data/")
    code, _, err = cli(capsys, "examples", "copy", "nope")
    assert code == 2 and err.startswith("✗ no example named 'nope'\n  hint: the examples are: ")


# ---------------------------------------------------------------- completion
def test_completion_knows_every_command_and_option(capsys: pytest.CaptureFixture[str]) -> None:
    from chainloom.cli import build_parser

    tree = command_tree(build_parser())
    assert {"run", "validate", "init", "examples", "completion", "runs", "flows"} <= set(tree["commands"])
    assert {"delete", "diff", "list"} <= set(tree["commands"]["flows"]["commands"])
    for shell in ("bash", "zsh", "fish"):
        code, out, _ = cli(capsys, "completion", shell)
        assert code == 0 and ("-l verbose" if shell == "fish" else "--verbose") in out and "diff" in out


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
@pytest.mark.parametrize("line,expected", [("chainloom ", {"run", "flows", "init", "--version"}),
                                           ("chainloom fl", {"flows"}),
                                           ("chainloom flows d", {"delete", "diff"}),
                                           ("chainloom run x.json --ve", {"--verbose"}),
                                           ("chainloom runs --st", {"--status"})])
def test_bash_completion_completes(line: str, expected: set[str], capsys: pytest.CaptureFixture[str]) -> None:
    _, script, _ = cli(capsys, "completion", "bash")
    words = line.split(" ")
    probe = (script + f"\nCOMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
             "_chainloom; printf '%s\\n' \"${COMPREPLY[@]}\"\n")
    done = subprocess.run([shutil.which("bash") or "bash", "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert set(done.stdout.split()) >= expected


# ---------------------------------------------------------------- run output
def test_verbose_shows_each_nodes_inputs_and_outputs(home: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "run", write(tmp_path, chat_flow()), "-i", "question=What is it?", "--verbose")
    assert code == 0
    lines = out.splitlines()
    assert lines[lines.index("▶ prompt (prompt.template)") + 1] == "    in  question = What is it?"
    finished = next(i for i, line in enumerate(lines) if line.startswith("✓ prompt"))
    assert lines[finished + 1] == "    out prompt = Q: What is it?"
    assert f"    out text = {ANSWER}" in lines


def test_agent_steps_show_tool_arguments_and_result(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    body = {"schema_version": 1, "id": "calc", "nodes": [
        {"id": "task", "type": "input.text", "config": {"name": "task", "default": "What is 14 * 3?"}},
        {"id": "calc", "type": "tool.calculator", "config": {}},
        {"id": "llm", "type": "llm.model", "config": {"provider": "scripted", "responses": [
            'Thought: multiply\nAction: calculator\nAction Input: {"expression": "14 * 3"}',
            "Thought: done\nFinal Answer: 42"]}},
        {"id": "agent", "type": "agent.react", "config": {}},
        {"id": "answer", "type": "output.text", "config": {"name": "answer"}}],
        "edges": [{"from": "task.text", "to": "agent.input"}, {"from": "calc.tool", "to": "agent.tools"},
                  {"from": "llm.model", "to": "agent.model"}, {"from": "agent.answer", "to": "answer.value"}]}
    code, out, err = cli(capsys, "run", write(tmp_path, body))
    assert code == 0, err
    steps = [line for line in out.splitlines() if line.startswith("  · agent: ")]
    assert '  · agent: calls calculator({"expression": "14 * 3"})' in steps
    assert "  · agent: calculator → 42" in steps
    assert "  · agent: final answer: 42" in steps


def test_ingest_shows_a_progress_bar_with_counts(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(capsys, "run", str(FLOWS / "rag-ingest.json"))
    assert code == 0, err
    bars = re.findall(r"  · store: \[([#-]{20})\] (\d+)/(\d+) chunks", out)
    assert bars and bars[-1][0] == "#" * 20 and bars[-1][1] == bars[-1][2] != "0"


def test_cost_is_in_the_run_summary(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.fakes.openai_server import FakeOpenAIServer

    with FakeOpenAIServer(api_key=None) as server:
        llm = {"provider": "openai", "base_url": server.url, "api_key_env": "", "model": "my-model",
               "price": {"input": 150.0, "output": 600.0}}
        code, out, err = cli(capsys, "run", write(tmp_path, chat_flow(llm=llm)), "-i", "question=hi")
    assert code == 0, err
    summary = out[out.index("Run summary"):]
    assert re.search(r"┃ +cost ┃", summary) and re.search(r"│ llm +│ llm\.chat .*│ +\$0\.00405 │", summary)
    assert re.search(r"│ total +│.*│ +12 │ +\$0\.00405 │", summary)
    assert re.search(r"■ run succeeded in .* · 12 tokens · \$0\.00405$", out, re.MULTILINE)


# ---------------------------------------------------------------- runs and flows
def test_runs_json_and_status(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.test_cli import FAILING_LLM

    cli(capsys, "run", write(tmp_path, chat_flow()), "-i", "question=hi")
    cli(capsys, "run", write(tmp_path, chat_flow(llm=FAILING_LLM), "bad.json"), "-i", "question=hi")
    code, out, _ = cli(capsys, "runs", "--json")
    runs = json.loads(out)
    assert code == 0 and sorted(r["status"] for r in runs) == ["failed", "succeeded"]
    assert set(runs[0]) >= {"id", "flow_id", "status", "started_at", "usage", "outputs"}
    code, out, _ = cli(capsys, "runs", "--json", "--status", "failed")
    assert [r["status"] for r in json.loads(out)] == ["failed"]
    code, out, _ = cli(capsys, "runs", "--status", "timeout")
    assert out.strip() == "no runs recorded yet with status timeout"


def test_a_too_short_run_id_prefix_says_how_long_it_must_be(home: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    cli(capsys, "run", write(tmp_path, chat_flow()), "-i", "question=hi")
    run_id = open_store().list_runs()[0].id
    code, _, err = cli(capsys, "runs", "show", run_id[:3])
    assert code == 1 and err.splitlines() == [
        f"✗ run id prefix '{run_id[:3]}' is too short: give the whole id or at least 6 characters of it",
        "  hint: list recent runs and their ids with `chainloom runs`"]
    assert cli(capsys, "runs", "show", run_id[:6])[0] == 0


def test_flows_list_json_delete_and_diff(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = write(tmp_path, chat_flow())
    cli(capsys, "flows", "save", first)
    changed = chat_flow()
    changed["nodes"][1]["config"]["template"] = "Question: {question}"
    second = write(tmp_path, changed, "changed.json")
    cli(capsys, "flows", "save", second, "--base", "1")
    code, out, _ = cli(capsys, "flows", "list", "--json")
    assert code == 0 and [(f["id"], f["version"]) for f in json.loads(out)] == [("chat", 2)]
    code, out, _ = cli(capsys, "flows", "diff", "chat@1", "chat@2")
    assert code == 0
    assert [line for line in out.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")] == [
        '-        "template": "Q: {question}"', '+        "template": "Question: {question}"']
    assert cli(capsys, "flows", "diff", first, "chat@1")[1].strip() == f"{first} and chat@1 are the same flow"
    assert cli(capsys, "flows", "diff", first, second, "--exit-code")[0] == 1
    code, _, err = cli(capsys, "flows", "delete", "chat")  # no terminal to ask on: refused
    assert code == 1 and "pass --yes" in err
    code, out, _ = cli(capsys, "flows", "delete", "chat", "--yes")
    assert (code, out.strip()) == (0, "✓ deleted flow 'chat' and its versions (its recorded runs stay)")
    assert json.loads(cli(capsys, "flows", "list", "--json")[1]) == []


def test_session_ids_follow_the_apis_rule(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from nodes.support.sessions import SESSION_PATTERN as RULE
    from server.schemas import SESSION_PATTERN

    assert SESSION_PATTERN == RULE
    flow = write(tmp_path, chat_flow())
    assert cli(capsys, "run", flow, "-i", "question=hi", "--session", "user-42@example.com")[0] == 0
    for bad in ("-starts-with-dash", "has space", "x" * 201, "a/b"):
        with pytest.raises(SystemExit) as refused:
            cli(capsys, "run", flow, "-i", "question=hi", f"--session={bad}")
        assert refused.value.code == 2
        assert "session id" in capsys.readouterr().err


def test_validate_shows_the_needs_a_real_model_warning_and_passes(home: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    body = {"schema_version": 1, "id": "x", "nodes": [
        {"id": "text", "type": "input.text", "config": {"name": "text"}},
        {"id": "extract", "type": "chain.extract", "config": {"provider": "offline"}},
        {"id": "out", "type": "output.json", "config": {"name": "entities"}}],
        "edges": [{"from": "text.text", "to": "extract.text"}, {"from": "extract.entities", "to": "out.value"}]}
    code, out, _ = cli(capsys, "validate", write(tmp_path, body))
    assert code == 0
    assert out.splitlines()[0] == ("! needs_real_model  node 'extract': it reads entities out of free text into "
                                   "the schema, which the offline model cannot do: offline it only gives a "
                                   "stand-in answer")
