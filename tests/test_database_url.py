"""A bad database URL or a missing driver: one clear line with the fix, from the CLI and the server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

BAD = {
    "unknown kind": ("nosuchdb://u:pw-secret@h/x", "✗ the database URL nosuchdb://u:***@h/x names an "
                     "unknown database kind 'nosuchdb'; fix: set CHAINLOOM_DATABASE_URL (or "
                     "--database-url) to e.g. sqlite:////path/to/chainloom.db or "
                     "postgresql+psycopg://user@host:5432/dbname"),
    "missing driver": ("mysql+pymysql://u:pw-secret@h/x", "✗ the database URL mysql+pymysql://u:***@h/x "
                       "needs the Python driver 'pymysql', which is not installed; fix: pip install pymysql"),
    "no server": ("postgresql://u:pw-secret@127.0.0.1:9/x?connect_timeout=3",
                  "✗ cannot open the database at postgresql://u:***@127.0.0.1:9/x?connect_timeout=3: "
                  "connection failed: "),
}


def chainloom(tmp_path: Path, url: str, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CHAINLOOM_HOME": str(tmp_path / "home"),
           "CHAINLOOM_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "chainloom.cli", *argv], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("case", list(BAD))
@pytest.mark.parametrize("command", [["runs"], ["flows", "list"], ["keys", "list"], ["serve", "--port", "0"]],
                         ids=["runs", "flows", "keys", "serve"])
def test_one_line_with_the_fix_and_no_password(tmp_path: Path, case: str, command: list[str]) -> None:
    url, message = BAD[case]
    done = chainloom(tmp_path, url, *command)
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(message)
    assert "Traceback" not in done.stderr and "pw-secret" not in done.stderr
