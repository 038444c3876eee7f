"""The example plugin (examples/plugin) installed into a fresh venv: listed, runnable, in the palette.

The venv reuses the test venv's packages through a .pth file (no network: pip runs
with --no-index --no-deps --no-build-isolation), and PYTHONPATH puts this checkout's
chainloom first. The plugin is installed from a copy so that the build leaves
nothing in the repository.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "examples" / "plugin"


class Venv:
    def __init__(self, path: Path, home: Path) -> None:
        self.python = str(path / "bin" / "python")
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "CHAINLOOM_HOME": str(home), "COLUMNS": "200",
                    "CHAINLOOM_NODES": ""}

    def run(self, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.python, *args], capture_output=True, text=True, env=self.env, cwd=cwd,
                              check=False, timeout=300)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    base = tmp_path_factory.mktemp("plugin-venv")
    path = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(path)], check=True, timeout=300)
    [target] = (path / "lib").glob("python3*/site-packages")
    (target / "chainloom-test-deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    shutil.copytree(PLUGIN, base / "plugin", ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    made = Venv(path, base / "home")
    out = made.run("-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-build-isolation",
                   str(base / "plugin"))
    assert out.returncode == 0, out.stderr
    return made


def test_the_installed_plugin_shows_up_in_chainloom_nodes(venv: Venv) -> None:
    out = venv.run("-m", "chainloom", "nodes", "--family", "text", "--json")
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    listed = {n["type"]: n["source"] for n in json.loads(out.stdout)}
    source = {"kind": "entry point", "module": "chainloom_text:NODES",
              "distribution": "chainloom-text-example", "version": "0.1.0"}
    assert listed == {"text.count": source, "text.reverse": source}
    table = venv.run("-m", "chainloom", "nodes", "--family", "text")
    assert "text.reverse" in table.stdout
    assert "chainloom-text-example 0.1.0 (chainloom_text:NODES)" in table.stdout
    builtin = venv.run("-m", "chainloom", "nodes", "--family", "transform")
    assert "built-in" in builtin.stdout


def test_a_flow_runs_with_the_plugin_nodes(venv: Venv) -> None:
    out = venv.run("-m", "chainloom", "run", str(PLUGIN / "flows" / "reverse.json"), "-i", "text=to be or not",
                   "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert (result["status"], result["outputs"]) == ("succeeded", {"reversed": "not or be to", "words": 4})


def test_the_ui_palette_lists_the_plugin_nodes(venv: Venv) -> None:
    code = ("import json; from nodes.registry import default_registry; "
            "from ui.canvas_component.graph import catalog_args; "
            "print(json.dumps([c for c in catalog_args(default_registry()) if c['family'] == 'text']))")
    out = venv.run("-c", code)
    assert out.returncode == 0, out.stderr
    palette = {c["type"]: c for c in json.loads(out.stdout)}
    assert sorted(palette) == ["text.count", "text.reverse"]
    assert palette["text.reverse"]["title"] == "Reverse text"
    assert [p["name"] for p in palette["text.count"]["outputs"]] == ["count"]


def test_the_plugins_own_tests_pass_in_the_venv(venv: Venv, tmp_path: Path) -> None:
    copy = tmp_path / "plugin"
    shutil.copytree(PLUGIN / "tests", copy / "tests")
    shutil.copytree(PLUGIN / "flows", copy / "flows")
    out = venv.run("-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=copy)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "4 passed" in out.stdout
