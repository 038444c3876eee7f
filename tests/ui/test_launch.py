"""`chainloom ui` and ui.launch: the command line that starts the Streamlit app."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from chainloom import cli
from ui import launch


def test_command_runs_the_packaged_app_headless_on_loopback() -> None:
    cmd = launch.command(8123)
    assert cmd[:4] == [sys.executable, "-m", "streamlit", "run"]
    assert cmd[4] == str(launch.APP) and launch.APP.name == "app.py" and launch.APP.is_file()
    flags = dict(zip(cmd[5::2], cmd[6::2], strict=False))
    assert flags["--server.headless"] == "true" and flags["--server.port"] == "8123"
    assert flags["--server.address"] == "127.0.0.1" and flags["--browser.gatherUsageStats"] == "false"


def test_chainloom_ui_starts_streamlit_with_the_options(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    calls: list[tuple[list[str], dict[str, str]]] = []

    def fake_call(cmd: list[str], env: dict[str, str]) -> int:
        calls.append((cmd, env))
        return 0

    monkeypatch.setattr(subprocess, "call", fake_call)
    assert cli.main(["ui", "--port", "9001", "--home", str(tmp_path)]) == 0
    (cmd, env), = calls
    assert cmd == launch.command(9001) and env["CHAINLOOM_HOME"] == str(tmp_path)
    monkeypatch.setenv("CHAINLOOM_UI_PORT", "9002")
    assert launch.main([]) == 0 and calls[-1][0] == launch.command(9002)
