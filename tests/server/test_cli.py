"""`chainloom keys ...` and `chainloom serve` through server.cli.main and the chainloom command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from chainloom.cli import main as chainloom_main
from server.cli import main
from tests.server.conftest import ROOT, free_port


def test_keys_create_list_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = str(tmp_path)
    assert main(["keys", "create", "billing app", "--home", home]) == 0
    out, err = capsys.readouterr()
    key = out.strip()
    assert key.startswith("clk_") and len(key) > 50
    key_id = key.split("_")[1]
    assert err.strip() == (f"created key {key_id} 'billing app'. Copy it now: it is not stored and cannot "
                           "be shown again. Send it as `Authorization: Bearer <key>`.")
    assert main(["keys", "list", "--json", "--home", home]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(k["id"], k["name"], k["revoked_at"]) for k in listed] == [(key_id, "billing app", None)]
    assert key not in json.dumps(listed)
    assert main(["keys", "revoke", key_id, "--home", home]) == 0
    assert capsys.readouterr().out.strip() == f"revoked key {key_id} 'billing app'"
    assert main(["keys", "revoke", key_id, "--home", home]) == 1
    assert capsys.readouterr().err.strip() == (f"✗ no active API key has the id or name '{key_id}' "
                                               "(list keys with `chainloom keys list`)")


def test_keys_refuse_odd_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "create", "../../x", "--home", str(tmp_path)]) == 2
    assert "must be 1-100 letters" in capsys.readouterr().err


def test_chainloom_command_has_keys_and_serve(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert chainloom_main(["keys", "list", "--home", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == "no API keys yet; create one with `chainloom keys create NAME`"
    assert chainloom_main(["serve", "--host", "0.0.0.0", "--no-auth", "--home", str(tmp_path)]) == 2
    assert "auth can be turned off only on a loopback address" in capsys.readouterr().err


def test_serve_refuses_bad_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--workers", "0", "--home", str(tmp_path)]) == 2
    assert main(["serve", "--run-timeout", "-1", "--home", str(tmp_path)]) == 2


def test_serve_starts_uvicorn_with_two_workers(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CHAINLOOM_HOME": str(tmp_path)}
    key = subprocess.run([sys.executable, "-m", "chainloom.cli", "keys", "create", "t"], env=env,
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout.strip()
    proc = subprocess.Popen([sys.executable, "-m", "chainloom.cli", "serve", "--port", str(port), "--workers", "2",
                             "--log-level", "warning"], env=env, cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        status = None
        for _ in range(300):
            try:
                status = httpx.get(url + "/flows", headers={"X-API-Key": key}, timeout=1).status_code
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert status == 200
        assert httpx.get(url + "/flows").status_code == 401
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
