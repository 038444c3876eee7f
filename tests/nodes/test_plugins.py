"""Node plugins: CHAINLOOM_NODES loading, refused shadowing, broken plugins warned and skipped."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from engine.errors import UnknownNodeType
from nodes.plugins import PluginWarning, discover
from nodes.registry import Catalog

ROOT = Path(__file__).resolve().parents[2]

SHOUT = '''
from typing import Any
from pydantic import Field
from engine.node import NodeConfig, node
from engine.ports import Port, PortType

class ShoutConfig(NodeConfig):
    marks: int = Field(1, ge=0, le=10, description="How many exclamation marks to add.")

def make(type_id):
    @node(type_id, title="Shout", config=ShoutConfig, description="Upper-cases a text.",
          inputs=[Port("text", PortType.TEXT, "Text.")], outputs=[Port("text", PortType.TEXT, "Loud text.")],
          blocking=False)
    def shout(config: ShoutConfig, inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
        return {"text": str(inputs["text"]).upper() + "!" * config.marks}
    return shout
'''


def _module(path: Path, name: str, body: str) -> None:
    (path / f"{name}.py").write_text(SHOUT + textwrap.dedent(body))


@pytest.fixture
def plugins_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    _module(tmp_path, "acme_nodes", "NODES = [make('acme.shout')]")
    _module(tmp_path, "acme_twin", "NODES = [make('acme.shout')]")
    _module(tmp_path, "acme_builtin", "NODES = [make('acme.other'), make('transform.text')]")
    _module(tmp_path, "acme_tuple", "NODES = 'acme.shout'")
    _module(tmp_path, "acme_broken_import", "import no_such_module_anywhere\nNODES = []")
    _module(tmp_path, "acme_bad_spec", '''
        from engine.node import NodeConfig
        class Bare(NodeConfig):
            loud: bool = True
        bad = make('acme.bad')
        import dataclasses
        NODES = [dataclasses.replace(bad, config=Bare)]
    ''')
    return tmp_path


def _catalog(env: str) -> tuple[Catalog, list[str]]:
    catalog = Catalog(plugins=discover(env=env))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        catalog.load_all()
    return catalog, [str(w.message) for w in caught if issubclass(w.category, PluginWarning)]


def test_a_module_named_in_chainloom_nodes_adds_its_types(plugins_dir: Path) -> None:
    catalog, warned = _catalog(" acme_nodes:NODES , ")
    assert warned == []
    spec = catalog.get("acme.shout")
    assert spec.run(spec.parse_config({"marks": 2}), {"text": "hi"}, None) == {"text": "HI!!"}
    assert catalog.source("acme.shout").label() == "CHAINLOOM_NODES (acme_nodes:NODES)"
    assert catalog.source("acme.shout").to_dict() == {"kind": "CHAINLOOM_NODES", "module": "acme_nodes:NODES"}
    assert catalog.source("transform.text").label() == "built-in"
    assert "acme" in catalog.families()


def test_a_plugin_may_not_shadow_a_builtin_family(plugins_dir: Path) -> None:
    catalog, warned = _catalog("acme_builtin:NODES")
    assert warned == [
        "plugin 'acme_builtin:NODES' (from CHAINLOOM_NODES) skipped: node type 'transform.text' is in the built-in "
        "family 'transform' (nodes.transform); fix: give the plugin's types their own family, e.g. 'myorg.text'"]
    assert catalog.source("transform.text").label() == "built-in"
    assert catalog.get("transform.text").run.__module__ == "nodes.transform"
    assert "acme.other" not in catalog  # the whole plugin is skipped, not only the clashing type


def test_a_plugin_may_not_take_another_plugins_type_id(plugins_dir: Path) -> None:
    catalog, warned = _catalog("acme_nodes:NODES,acme_twin:NODES")
    assert warned == [
        "plugin 'acme_twin:NODES' (from CHAINLOOM_NODES) skipped: node type 'acme.shout' is already defined by "
        "CHAINLOOM_NODES (acme_nodes:NODES); fix: rename one of the two types, or uninstall one of the plugins"]
    assert catalog.source("acme.shout").module == "acme_nodes:NODES"


def test_broken_plugins_are_warned_about_and_the_builtins_still_load(plugins_dir: Path) -> None:
    catalog, warned = _catalog("acme_broken_import:NODES,acme_nodes:NOPE,acme_tuple:NODES,nocolon,acme_bad_spec:NODES")
    prefix = "plugin '{}' (from CHAINLOOM_NODES) skipped: "
    assert warned == [
        prefix.format("acme_broken_import:NODES") + "importing it failed: ModuleNotFoundError: No module named "
        "'no_such_module_anywhere'; fix: install what it needs, or uninstall it / remove it from CHAINLOOM_NODES",
        prefix.format("acme_nodes:NOPE") + "module 'acme_nodes' has no attribute 'NOPE'; fix: define "
        "NOPE = [...your NodeSpecs...] in acme_nodes, or fix the name",
        prefix.format("acme_tuple:NODES") + "acme_tuple:NODES is a str, not a list of NodeSpec; fix: point it at "
        "a list of specs made with engine.node.node, e.g. NODES = [reverse, count]",
        prefix.format("nocolon") + "'nocolon' is not module:attr; fix: write it as module:attr, "
        "e.g. mynodes:NODES in CHAINLOOM_NODES",
        prefix.format("acme_bad_spec:NODES") + "node type 'acme.bad' breaks the node contract: config field "
        "'loud' has no description; the UI form and the docs show it; fix: fix the spec; "
        "engine.testing.check_spec(spec) in the plugin's tests shows it",
    ]
    assert not any(spec.family == "acme" for spec in catalog)
    assert "transform.text" in catalog and "prompt.template" in catalog


def test_asking_for_a_builtin_type_imports_no_plugin() -> None:
    loaded: list[str] = []
    plugin = discover(env="acme_nodes:NODES")[0]
    spy = type(plugin)(plugin.source, lambda: loaded.append("imported") or [])
    catalog = Catalog(plugins=[spy])
    assert "transform.text" in catalog
    assert loaded == []
    assert "acme.shout" not in catalog  # a type outside the built-in families loads the plugins, once
    list(catalog)
    assert loaded == ["imported"]


def test_a_flow_never_imports_the_module_its_type_names(plugins_dir: Path) -> None:
    _module(plugins_dir, "acmeflow", "NODES = [make('acmeflow.shout')]")
    catalog = Catalog(plugins=discover(env=""))
    with pytest.raises(UnknownNodeType):
        catalog.get("acmeflow.shout")
    assert "acmeflow" not in sys.modules


def test_chainloom_nodes_lists_a_plugin_with_its_source(plugins_dir: Path) -> None:
    env = {**os.environ, "CHAINLOOM_NODES": "acme_nodes:NODES,acme_twin:NODES",
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(plugins_dir)])}
    out = subprocess.run([sys.executable, "-m", "chainloom", "nodes", "--family", "acme", "--json"],
                         capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    assert out.returncode == 0, out.stderr
    [node] = json.loads(out.stdout)
    assert (node["type"], node["source"]) == ("acme.shout", {"kind": "CHAINLOOM_NODES", "module": "acme_nodes:NODES"})
    assert out.stderr.strip() == (
        "⚠ plugin 'acme_twin:NODES' (from CHAINLOOM_NODES) skipped: node type 'acme.shout' is already defined by "
        "CHAINLOOM_NODES (acme_nodes:NODES); fix: rename one of the two types, or uninstall one of the plugins")


def test_the_readme_write_a_node_example_keeps_the_contract() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Write a node"):readme.index("## Layout")]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    names: dict[str, object] = {}
    # dont_inherit: the README's code runs without this module's `from __future__ import annotations`
    exec(compile(code.group(1), "README.md", "exec", dont_inherit=True), names)  # noqa: S102 - our README
    from engine.testing import check_spec

    spec = names["reverse"]
    check_spec(spec)  # type: ignore[arg-type]
    assert spec.run(spec.parse_config({"by": "words"}), {"text": "a b"}, None) == {"text": "b a"}  # type: ignore[attr-defined]
    assert "pip install -e examples/plugin && chainloom nodes --family text" in section
