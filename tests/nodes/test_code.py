"""`code.python`: off by default, parsed never executed, and run in a sandboxed process.

Each limit is tried the way hostile code would: read the environment for secrets, spin
the CPU, allocate gigabytes, reach a server on 127.0.0.1, fork in a loop, print or
return megabytes, look for inherited file descriptors, write a huge file.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import chainloom
from engine.errors import ValidationFailed
from engine.flow import parse_flow
from engine.validate import validate
from nodes.code import CodeConfig, CodeError, run_code
from nodes.registry import default_registry
from tests.test_cli import cli, write

PLANTED = "sk-planted-code-secret-77"


@pytest.fixture
def enabled(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CHAINLOOM_ENABLE_CODE", "1")
    monkeypatch.setenv("CHAINLOOM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OPENAI_API_KEY", PLANTED)


def code_flow(code: str, **config: Any) -> dict[str, Any]:
    return {"schema_version": 1, "id": "code", "nodes": [
        {"id": "value", "type": "input.json", "config": {"name": "value"}},
        {"id": "fn", "type": "code.python", "config": {"code": code, **config}},
        {"id": "answer", "type": "output.json", "config": {"name": "answer"}}],
        "edges": [{"from": "value.data", "to": "fn.value"}, {"from": "fn.result", "to": "answer.value"}]}


def run(code: str, value: Any = None, **config: Any) -> Any:
    return run_code(CodeConfig(code=code, **config), value)


def test_disabled_by_default_with_an_error_naming_how_to_enable(monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("CHAINLOOM_ENABLE_CODE", raising=False)
    monkeypatch.setenv("CHAINLOOM_HOME", str(tmp_path / "home"))
    issues = [i for i in validate(parse_flow(code_flow("def main(v):\n    return v\n")), default_registry())
              if i.severity == "error"]
    assert [(i.code, i.node) for i in issues] == [("bad_config", "fn")]
    assert "code.python is disabled here" in issues[0].message
    assert "CHAINLOOM_ENABLE_CODE=1" in issues[0].message
    code, _, err = cli(capsys, "run", write(tmp_path, code_flow("def main(v):\n    return v\n")),
                       "-i", "value=1")
    assert code == 2 and "CHAINLOOM_ENABLE_CODE=1" in err


def test_validation_parses_and_never_executes(enabled: None, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "ran"
    hostile = (f"import os\nos.system('touch {marker}-import')\n"
               f"def mark(f):\n    open('{marker}-decorator', 'w').close()\n    return f\n"
               f"@mark\ndef main(v, x=open('{marker}-default', 'w')):\n    return v\n")
    path = write(tmp_path, code_flow(hostile))
    assert cli(capsys, "validate", path)[0] == 0
    assert cli(capsys, "flows", "save", path)[0] == 0
    chainloom.load(path)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("ran")) == []
    bad = validate(parse_flow(code_flow("def main(v:\n    return v\n")), default_registry())
    assert [i.code for i in bad if i.severity == "error"] == ["bad_config"]
    assert "the code is not valid Python (line 1)" in bad[0].message
    missing = validate(parse_flow(code_flow("def other(v):\n    return v\n")), default_registry())
    assert "defines no top-level function 'main'; it defines: other" in missing[0].message


def test_a_run_through_the_cli_returns_json(enabled: None, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, code_flow("import math\ndef main(v):\n    return {'root': math.sqrt(v['n'])}\n"))
    code, out, _ = cli(capsys, "run", path, "-i", 'value={"n": 16}', "--json")
    assert (code, json.loads(out)["outputs"]) == (0, {"answer": {"root": 4.0}})


def test_the_environment_holds_no_secret(enabled: None) -> None:
    env = run("import os\ndef main(v):\n    return dict(os.environ)\n")
    assert env == {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    assert PLANTED not in json.dumps(env)


def test_a_cpu_loop_is_killed(enabled: None) -> None:
    with pytest.raises(CodeError, match=r"took longer than 1s and was killed|used more than 1s of CPU"):
        run("def main(v):\n    while True:\n        pass\n", timeout=1)


def test_a_memory_bomb_is_refused(enabled: None) -> None:
    with pytest.raises(CodeError, match="ran out of memory"):
        run("def main(v):\n    return len(bytearray(3 * 1024 ** 3))\n")


@pytest.fixture
def listening() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield int(server.getsockname()[1])
    server.close()


def test_the_network_is_unreachable(enabled: None, listening: int) -> None:
    for target in (f"('127.0.0.1', {listening})", f"('localhost', {listening})", "('10.0.0.1', 80)"):
        with pytest.raises(CodeError, match="unreachable|resolution|not known|Errno"):
            run(f"import socket\ndef main(v):\n    socket.create_connection({target}, timeout=3)\n    return 1\n")


def test_a_fork_bomb_gets_no_process(enabled: None) -> None:
    with pytest.raises(CodeError, match="Resource temporarily unavailable|BlockingIOError|PermissionError"):
        run("import os\ndef main(v):\n    return [os.fork() for _ in range(1000)]\n")


def test_big_output_is_capped_and_prints_go_nowhere(enabled: None) -> None:
    with pytest.raises(CodeError, match="output is over 1000 bytes"):
        run("def main(v):\n    return 'x' * 10 ** 7\n", max_output_bytes=1000)
    assert run("def main(v):\n    print('y' * 10 ** 6)\n    return 5\n", max_output_bytes=1000) == 5


def test_no_inherited_file_descriptors(enabled: None, tmp_path: Path) -> None:
    with (tmp_path / "open.txt").open("w") as held:
        fds = run("import os\ndef main(v):\n    return sorted(int(f) for f in os.listdir('/proc/self/fd'))\n")
        assert held.fileno() > 2
    assert max(fds) <= 5  # stdin, stdout, stderr, the result pipe, /dev/null, the listing itself


def test_file_size_is_limited_and_only_json_goes_in_and_out(enabled: None) -> None:
    with pytest.raises(CodeError, match="File too large"):
        run("def main(v):\n    open('big', 'wb').write(b'x' * (20 * 1024 * 1024))\n")
    with pytest.raises(CodeError, match="returned set, which is not JSON"):
        run("def main(v):\n    return {1, 2}\n")
    assert run("def main(v):\n    return [v, None, 1.5, {'a': True}]\n", "in") == ["in", None, 1.5, {"a": True}]


def test_a_run_timeout_kills_the_process(enabled: None, tmp_path: Path) -> None:
    result = chainloom.run(parse_flow(code_flow("def main(v):\n    while True:\n        pass\n", timeout=300)),
                           {"value": 1}, timeout=1)
    assert result.status == "timeout"
    import time

    from engine.node_run import blocking_work_in_flight

    deadline = time.monotonic() + 60
    while blocking_work_in_flight() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert blocking_work_in_flight() == 0


def test_the_server_setting_enables_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from nodes import code
    from server.app import create_app
    from server.settings import Settings

    monkeypatch.delenv("CHAINLOOM_ENABLE_CODE", raising=False)
    monkeypatch.setattr(code, "_ENABLED", False)
    create_app(Settings(home=str(tmp_path / "h"), enable_code=True))
    assert code.code_enabled()
    with pytest.raises(ValidationFailed):  # and the Python API refuses while it is off
        monkeypatch.setattr(code, "_ENABLED", False)
        chainloom.run(parse_flow(code_flow("def main(v):\n    return v\n")), {"value": 1},
                      home=os.fspath(tmp_path / "h"))
