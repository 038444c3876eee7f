"""The UI's adapter: imports (checked, never run or saved), examples, export, ids."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from engine.flow import dumps_flow, parse_flow
from engine.store import open_store
from tests.ui.demo_nodes import qa_flow, registry
from ui.services import examples, export_text, free_flow_id, read_import
from ui.views.common import plain, reply_markdown


def test_a_valid_import_is_returned_unsaved() -> None:
    result = read_import(dumps_flow(qa_flow()).encode(), registry(), "qa.json")
    assert result.ok and result.flow is not None and dumps_flow(result.flow) == dumps_flow(qa_flow())


def test_an_import_lists_every_problem() -> None:
    broken = {"schema_version": 1, "id": "x", "nodes": [
        {"id": "a", "type": "demo.llm", "config": {"temperature": 5, "model": "gpt"}},
        {"id": "b", "type": "no.such"}], "edges": [{"from": "a.text", "to": "zz.in"}]}
    result = read_import(json.dumps(broken).encode(), registry(), "b.json")
    assert result.flow is not None and not result.ok
    # a's config is bad, yet its ports are still checked: its prompt input is not connected
    assert [i.code for i in result.issues] == ["bad_config", "bad_config", "unknown_type", "dangling_edge",
                                               "missing_input"]
    bad = read_import(b'{"schema_version": 1, "id": "../x", "nodes": [{"id": 1}]}', registry(), "c.json")
    assert bad.flow is None and bad.problems == (
        "c.json: field 'id': must be 1-64 letters, digits, '_' or '-', starting with a letter or '_', "
        "got '../x'",
        "c.json: node #1 field 'id': Input should be a valid string",
        "c.json: node #1 field 'type': Field required")
    assert read_import(b"\xff\xfe", registry(), "d.json").problems == (
        "d.json: not UTF-8 text; save the flow as UTF-8 JSON",)
    assert read_import(b"{nope", registry(), "e.json").problems[0].startswith("e.json: not valid JSON")


def test_examples_are_read_and_broken_ones_reported(tmp_path: Path) -> None:
    (tmp_path / "b_good.json").write_text(dumps_flow(qa_flow()), encoding="utf-8")
    (tmp_path / "a_bad.json").write_text("{", encoding="utf-8")
    found = examples(tmp_path)
    assert [e.path.name for e in found] == ["a_bad.json", "b_good.json"]
    assert found[0].flow is None and found[0].title == "a_bad (cannot be read)"
    assert found[1].title == "Q&A"
    assert examples(tmp_path / "missing") == []


def test_export_is_canonical_and_holds_secret_names_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_KEY", "sk-PLANTED-ui-val")
    flow = qa_flow(api_key_env="DEMO_KEY")
    text = export_text(flow)
    assert text == dumps_flow(flow) and '"api_key_env": "DEMO_KEY"' in text
    assert "sk-PLANTED-ui-val" not in text
    assert dumps_flow(parse_flow(text)) == text


def test_free_flow_ids_skip_saved_ones(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    assert free_flow_id("qa", store) == "qa"
    store.save_flow(qa_flow(), None)
    store.save_flow(qa_flow().model_copy(update={"id": "qa_2"}), None)
    assert free_flow_id("qa", store) == "qa_3"


def test_text_from_users_and_models_cannot_inject_markup() -> None:
    assert plain("![x](http://evil/?q=1) <b>") == "\\!\\[x\\]\\(http://evil/?q=1\\) &lt;b&gt;"
    assert reply_markdown("**ok** ![t](http://evil/?q=secret)") == "**ok** !\\[t](http://evil/?q=secret)"


def test_free_flow_ids_stay_within_the_id_limit(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    long_id = "f" * 64
    store.save_flow(qa_flow().model_copy(update={"id": long_id}), None)
    new = free_flow_id(long_id, store)
    assert new == "f" * 56 + "_2" and len(new) <= 64


def test_examples_and_templates_are_package_data_found_through_importlib(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import resources

    from ui import services

    monkeypatch.delenv(services.EXAMPLES_ENV, raising=False)
    package = Path(str(resources.files("flows")))
    assert services.examples_dir() == package and services.templates_dir() == package / "templates"
    assert {e.key for e in services.examples()} >= {"hello", "rag-qa"}
    assert {e.key for e in services.templates()} == {"template:rag", "template:chat-memory", "template:agent-tools"}
    cards = services.gallery()
    assert [c["kind"] for c in cards[:3]] == ["template"] * 3 and all(c["description"] for c in cards)
    assert all(len(c["description"]) <= 160 for c in cards)
    hello = services.find_example("hello")
    assert hello is not None and hello.flow is not None and hello.flow.id == "hello"
    assert services.find_example("template:rag") is not None and services.find_example("nope") is None


def test_an_installed_copy_lists_the_examples_and_templates_from_anywhere(tmp_path: Path) -> None:
    """What a non-editable install gets: setuptools builds the packages (with their package
    data) into a folder, and the gallery, run from another folder, lists every example."""
    import shutil
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    src, lib, elsewhere = tmp_path / "src", tmp_path / "lib", tmp_path / "elsewhere"
    shutil.copytree(root, src, ignore=shutil.ignore_patterns(".git", "node_modules", "__pycache__", "tests",
                                                             "benchmarks", "*.egg-info", ".venv", "build"))
    built = subprocess.run([sys.executable, "-c", "import setuptools; setuptools.setup()", "-q", "build_py",
                            "--build-lib", str(lib)], cwd=src, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]
    for name in ("hello.json", "templates/rag.json", "data/shop.sql", "data/handbook/faq.md"):
        assert (lib / "flows" / name).is_file(), name
    elsewhere.mkdir()
    probe = ("import json; from ui import services; "
             "print(json.dumps([services.examples_dir().as_posix(), [c['id'] for c in services.gallery()]]))")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CHAINLOOM_EXAMPLES")}
    done = subprocess.run([sys.executable, "-c", probe], cwd=elsewhere, capture_output=True, text=True,
                          timeout=300, env={**env, "PYTHONPATH": str(lib)})
    assert done.returncode == 0, done.stderr[-2000:]
    folder, ids = json.loads(done.stdout)
    assert folder == (lib / "flows").as_posix()
    expected = {p.stem for p in (root / "flows").glob("*.json")}
    assert set(ids) == expected | {f"template:{p.stem}" for p in (root / "flows" / "templates").glob("*.json")}
