"""Where chainloom keeps its data on this machine (runs, flows, traces, vectors)."""

from __future__ import annotations

import os
from pathlib import Path


def default_home() -> Path:
    """The data dir: $CHAINLOOM_HOME, else ~/.chainloom."""
    return Path(os.environ.get("CHAINLOOM_HOME") or Path.home() / ".chainloom")
