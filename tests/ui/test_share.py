"""`Use this flow`: the curl, Python and JavaScript snippets really run a saved flow
against `chainloom serve` on 127.0.0.1, with the key only from the environment."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server.conftest import LiveServer, hello
from ui.share import KEY_VARIABLE, snippets


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    server = LiveServer(tmp_path_factory.mktemp("share"))
    key = server.prepare()
    server.start()
    try:
        r = httpx.post(server.url + "/flows", json={"flow": hello()}, headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 201, r.text
        yield server, key
    finally:
        server.stop()


def test_snippets_name_the_route_and_never_a_key() -> None:
    code = snippets("my flow", {"question": "Hi 'there'"}, "http://example.test:9000/")
    for text in code.values():
        assert "http://example.test:9000/flows/my%20flow/run" in text and KEY_VARIABLE in text
        assert "Bearer" in text
    assert """-d '{"inputs": {"question": "Hi '"'"'there'"'"'"}}'""" in code["curl"]


def _run(cmd: list[str], key: str) -> str:
    env = {**os.environ, KEY_VARIABLE: key}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("language", ["curl", "python", "javascript"])
def test_each_snippet_runs_the_saved_flow(served: tuple[LiveServer, str], language: str, tmp_path: Path) -> None:
    server, key = served
    code = snippets("hello", {"question": "What is chainloom?"}, server.url)[language]
    if language == "curl":
        if shutil.which("curl") is None:
            pytest.skip("curl is not installed")
        out = json.loads(_run(["bash", "-c", code], key))["outputs"]
    elif language == "python":
        out = eval(_run([sys.executable, "-c", code], key))  # noqa: S307 - our own printed dict
    else:
        if shutil.which("node") is None:
            pytest.skip("node is not installed")
        script = tmp_path / "run.mjs"
        last = "console.log((await response.json()).outputs);"
        assert code.endswith(last)
        script.write_text(code.replace(last, "console.log(JSON.stringify((await response.json()).outputs));"),
                          encoding="utf-8")
        out = json.loads(_run(["node", str(script)], key))
    assert out == {"answer": "chainloom is a visual, no-code builder for LLM chains and agents."}
