"""`chainloom run` and approvals: y/N on a terminal showing the exact call; refused without one."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from tests.server.test_approvals import SHOWN, gated_agent

ROOT = Path(__file__).resolve().parents[1]


def env(tmp_path: Path) -> dict[str, str]:
    out = {**os.environ, "PYTHONPATH": str(ROOT), "CHAINLOOM_HOME": str(tmp_path / "home"),
           "COLUMNS": "200"}
    out.pop("CHAINLOOM_DATABASE_URL", None)
    return out


def flow_file(tmp_path: Path) -> str:
    path = tmp_path / "gated.json"
    path.write_text(json.dumps(gated_agent()), encoding="utf-8")
    return str(path)


def test_without_a_terminal_the_run_is_refused_before_anything_runs(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "chainloom.cli", "run", flow_file(tmp_path), "-i", "q=2^10?"],
                          cwd=ROOT, env=env(tmp_path), stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert done.stderr.splitlines()[0] == (
        "✗ flow 'gated': node 'agent' requires approval before its calls (policy.require_approval), "
        "and stdin is not a terminal to ask on")
    assert "POST /approvals/{id}/approve" in done.stderr
    assert "drop policy.require_approval from node 'agent'" in done.stderr
    assert not (tmp_path / "home" / "chainloom.db").exists()  # nothing ran, nothing was recorded


def run_on_a_terminal(tmp_path: Path, answer: bytes) -> tuple[int, str]:
    """Run the gated flow with a pseudo-terminal as stdin; type `answer` at the prompt."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "chainloom.cli", "run", flow_file(tmp_path), "-i", "q=2^10?"],
                            cwd=ROOT, env=env(tmp_path), stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    seen, answered = b"", False
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break  # the child closed the terminal
            if not chunk:
                break
            seen += chunk
            if not answered and b"[y/N]" in seen:
                os.write(leader, answer)
                answered = True
        elif proc.poll() is not None:
            break
    proc.wait(timeout=30)
    os.close(leader)
    return proc.returncode, seen.decode(errors="replace").replace("\r\n", "\n")


def observations(tmp_path: Path) -> str:
    """The agent's observations in the run the CLI recorded."""
    from engine.store import Store

    store = Store(f"sqlite:///{tmp_path / 'home' / 'chainloom.db'}")
    try:
        [record] = store.list_runs()
        return "\n".join(e["data"]["text"] for e in store.run_events(record.id)
                         if e["kind"] == "node.step" and e["name"] == "observation")
    finally:
        store.close()


def test_on_a_terminal_the_exact_call_is_shown_and_y_approves_it(tmp_path: Path) -> None:
    code, out = run_on_a_terminal(tmp_path, b"y\n")
    assert code == 0, out
    assert f"⏸ node 'agent' wants to make this call:\n    {SHOWN}\nApprove it? [y/N]" in out
    assert "1024" in observations(tmp_path)


def test_on_a_terminal_anything_but_y_rejects_and_the_agent_is_told(tmp_path: Path) -> None:
    code, out = run_on_a_terminal(tmp_path, b"\n")
    assert code == 0, out
    [text] = observations(tmp_path).splitlines()
    assert text.startswith(f"the call {SHOWN} was rejected by ")
    assert text.endswith(" on the terminal: declined at the prompt")
