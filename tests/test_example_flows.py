"""Every flow in flows/ loads, is canonical, validates and runs offline with no inputs.

New example flows are picked up automatically; each `input.*` node in an example
must carry a `default` so the flow runs as it is. Each flow runs in its own fresh
data dir (never the user's ~/.chainloom); a flow that reads what another example
writes (an ask flow after its ingest flow) lists that flow in PREREQUISITES. A few
flows also pin their answers and which branches were skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.flow import dumps_flow, load_flow
from engine.runner import Runner
from engine.validate import validate
from nodes.registry import default_registry

_FOLDER = Path(__file__).resolve().parent.parent / "flows"
FLOWS = sorted(_FOLDER.glob("*.json")) + sorted((_FOLDER / "templates").glob("*.json"))   # templates too

EXPECTED: dict[str, dict[str, Any]] = {
    "hello": {"answer": "chainloom is a visual, no-code builder for LLM chains and agents."},
    "router": {"reply": "Refunds go back to the original payment method within 5 business days."},
}
SKIPPED = {"router": {"help_prompt", "help_llm", "acknowledge"},
           "router-specialists": {"general", "billing_prompt", "billing_llm", "brewing_prompt", "brewing_llm"},
           "reviewed-answer": {"decline", "greet"}}
PREREQUISITES = {"rag-ask": ["rag-ingest"]}


def test_there_are_example_flows() -> None:
    assert {"hello", "router"} <= {p.stem for p in FLOWS}


@pytest.mark.parametrize("where", ["checkout", "elsewhere", "files_root_set"])
@pytest.mark.parametrize("path", FLOWS, ids=[p.stem for p in FLOWS])
def test_example_flow_runs_offline(path: Path, where: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """From the checkout, from any other folder, and with CHAINLOOM_FILES_ROOT pointing elsewhere:
    an example finds its sample data in the bundled examples' folder."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # examples must not need a key
    monkeypatch.delenv("CHAINLOOM_FILES_ROOT", raising=False)
    monkeypatch.setenv("CHAINLOOM_HOME", str(tmp_path))
    if where != "checkout":
        (tmp_path / "cwd").mkdir()
        monkeypatch.chdir(tmp_path / "cwd")
    if where == "files_root_set":
        (tmp_path / "mine").mkdir()
        monkeypatch.setenv("CHAINLOOM_FILES_ROOT", str(tmp_path / "mine"))
    flow = load_flow(path)
    assert path.read_text(encoding="utf-8") == dumps_flow(flow), "write example flows with save_flow()"
    registry = default_registry()
    assert validate(flow, registry) == []
    without_default = [n.id for n in flow.nodes
                       if registry.get(n.type).role == "input" and n.config.get("default") is None]
    assert without_default == [], "every input of an example flow needs a default"

    runner = Runner(registry, services={"home": str(tmp_path)})
    for name in PREREQUISITES.get(path.stem, []):
        assert runner.run(load_flow(path.with_name(f"{name}.json"))).ok, f"prerequisite {name} failed"

    result = runner.run(flow)

    assert result.status == "succeeded", result.error
    assert result.outputs and all(v not in (None, "", [], {}) for v in result.outputs.values()), result.outputs
    assert set(result.node_status.values()) <= {"done", "skipped"}
    if path.stem in EXPECTED:
        assert result.outputs == EXPECTED[path.stem]
    skipped = {nid for nid, status in result.node_status.items() if status == "skipped"}
    assert skipped == SKIPPED.get(path.stem, set())


def test_map_reduce_and_refine_summaries_do_what_their_names_say(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    """Offline: map-reduce lists one point per part, cited in order; refine keeps the best few; they differ."""
    import re

    monkeypatch.setenv("CHAINLOOM_HOME", str(tmp_path))
    runner = Runner(default_registry(), services={"home": str(tmp_path)})
    folder = Path(__file__).resolve().parent.parent / "flows"
    mapped = runner.run(load_flow(folder / "summarize-map-reduce.json"))
    refined = runner.run(load_flow(folder / "summarize-refine.json"))
    assert mapped.ok and refined.ok
    summary, refine = mapped.outputs["summary"], refined.outputs["summary"]
    parts = [int(n) for n in re.findall(r"\[(\d+)\]", summary)]
    assert len(parts) >= 3 and parts == list(range(1, len(parts) + 1))
    assert "[" not in refine and len(refine) < len(summary) and refine != summary
    letter = (folder / "data" / "annual-letter-2023.md").read_text(encoding="utf-8")
    flat = " ".join(letter.split())
    assert all(sentence.strip() in flat for sentence in re.split(r"(?<=\.) ", refine))  # extracted, not made up


# What each example's answer must say (offline), and what no answer may contain: the offline model answers
# like an extractive assistant, never with instructions, prompts, role labels or raw memory lines.
CONTENT: dict[str, dict[str, list[str]]] = {
    "agent-plan": {"answer": ["48", "30 days"]},
    "agent-react": {"answer": ["42", "30 days"]},
    "agent-sql": {"answer": ["Leeds Morning Blend", "Huila Decaf"]},
    "chatbot-memory": {"reply": ["You're Ada and you live in Lisbon."]},  # told back, not parroted
    "conversational-rag": {"reply": ["30 days"]},
    "extract-json": {"person": ["Ada Lovelace", "1815"]},
    "few-shot-classifier": {"category": ["billing"]},
    "hello": {"answer": ["visual, no-code builder"]},
    "rag-ask": {"answer": ["30 days"]},
    "rag-ingest": {"stats": ['"count": 15']},
    "rag-qa": {"answer": ["6.95 GBP"]},
    "reviewed-answer": {"answer": ["Leeds", "2014", "Maya Okafor"]},
    "router-specialists": {"reply": ["tracking number"]},
    "router": {"reply": ["5 business days"]},
    "sequential-chain": {"reply": ["Hi Sam", "five days"]},
    "sql-qa": {"answer": ["Ada Lovelace", "Burr Grinder"]},
    "summarize-map-reduce": {"summary": ["61 tonnes", "York"]},
    "summarize-refine": {"summary": ["York"]},
    # the starter templates
    "agent-tools": {"answer": ["47"]},
    "chat-memory": {"reply": ["Noted"]},
    "rag": {"answer": ["Edit items"]},
}
NEVER = ["System:", "Human:", "User:", "AI:", "Assistant:", "You are a", "Answer the question", "Context:",
         "could not find", "Question:", "{", "NONE"]


def test_every_example_is_covered_by_a_content_check() -> None:
    assert {p.stem for p in FLOWS} == set(CONTENT)


@pytest.mark.parametrize("path", FLOWS, ids=[p.stem for p in FLOWS])
def test_example_answers_say_what_they_should_and_nothing_they_should_not(
        path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import json

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("CHAINLOOM_HOME", str(tmp_path))
    runner = Runner(default_registry(), services={"home": str(tmp_path)})
    for name in PREREQUISITES.get(path.stem, []):
        assert runner.run(load_flow(path.with_name(f"{name}.json"))).ok
    result = runner.run(load_flow(path))
    assert result.ok, result.error
    for output, needles in CONTENT[path.stem].items():
        value = result.outputs[output]
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        for needle in needles:
            assert needle in text, (output, needle, text)
        if output not in ("stats", "person", "category"):  # prose answers only
            shown = value["content"] if isinstance(value, dict) and "content" in value else text
            assert not [bad for bad in NEVER if bad in shown], (output, shown)
            assert len(shown) < 1500, shown  # short
