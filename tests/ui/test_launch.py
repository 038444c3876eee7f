"""`chainloom ui` and ui.launch: the command line that starts the Streamlit app, and
what happens when `chainloom ui` is told to stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from chainloom import cli
from ui import launch
from ui.services import MAX_IMPORT_BYTES

ROOT = Path(__file__).resolve().parents[2]


def test_command_runs_the_packaged_app_headless_on_loopback() -> None:
    cmd = launch.command(8123)
    assert cmd[:4] == [sys.executable, "-m", "streamlit", "run"]
    assert cmd[4] == str(launch.APP) and launch.APP.name == "app.py" and launch.APP.is_file()
    flags = dict(zip(cmd[5::2], cmd[6::2], strict=True))
    assert flags["--server.headless"] == "true" and flags["--server.port"] == "8123"
    assert flags["--server.address"] == "127.0.0.1" and flags["--browser.gatherUsageStats"] == "false"


def test_streamlit_shows_no_deploy_button_and_the_real_upload_limit() -> None:
    flags = dict(zip(launch.command(8123)[5::2], launch.command(8123)[6::2], strict=True))
    assert flags["--client.toolbarMode"] == "minimal"
    assert int(flags["--server.maxUploadSize"]) * 1024 * 1024 == MAX_IMPORT_BYTES


def test_chainloom_ui_starts_streamlit_with_the_options(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    calls: list[tuple[list[str], dict[str, str]]] = []

    def fake_supervise(cmd: list[str], env: dict[str, str]) -> int:
        calls.append((cmd, dict(env)))
        return 0

    monkeypatch.setattr(launch, "supervise", fake_supervise)
    assert cli.main(["ui", "--port", "9001", "--home", str(tmp_path)]) == 0
    (cmd, env), = calls
    assert cmd == launch.command(9001) and env["CHAINLOOM_HOME"] == str(tmp_path)
    monkeypatch.setenv("CHAINLOOM_UI_PORT", "9002")
    assert launch.main([]) == 0 and calls[-1][0] == launch.command(9002)


def _port_free(port: int) -> bool:
    """Nothing listens and a new server could bind (as servers do, with SO_REUSEADDR:
    connections the old server closed may linger in TIME_WAIT)."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - the test's own http://127.0.0.1 URL
            return bool(resp.status == 200)
    except OSError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stopping_chainloom_ui_stops_streamlit_and_frees_the_port(tmp_path: Path, sig: signal.Signals) -> None:
    port = launch.free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "chainloom.cli", "ui", "--port", str(port),
                             "--home", str(tmp_path / "home")], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(lambda: _answers(f"http://127.0.0.1:{port}/_stcore/health"), 90, "the UI to answer")
        proc.send_signal(sig)
        assert proc.wait(60) in (0, -sig, 128 + sig)
        _wait(lambda: _port_free(port), 30, f"port {port} to be free")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
