"""File paths from flows resolve inside one allowed root, never outside it.

The root is $CHAINLOOM_FILES_ROOT, else the current working directory. A path
(relative to the root, or absolute but inside it) is resolved with symlinks
followed; `..` escapes and symlinks that lead out of the root are refused.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import PermanentError
from engine.home import default_home

if TYPE_CHECKING:
    from engine.context import RunContext

MAX_MATCHES = 100_000


class PathRefused(PermanentError):
    """A path from a flow points outside the allowed root."""


def files_root() -> Path:
    return Path(os.environ.get("CHAINLOOM_FILES_ROOT") or os.getcwd()).resolve()


def _inside(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def resolve_path(raw: str, *, root: Path | None = None, field: str = "path") -> Path:
    """The real path of `raw` inside the root; PathRefused if it escapes."""
    root = root or files_root()
    if not raw or "\x00" in raw:
        raise PathRefused(f"config field '{field}' holds an empty or invalid path")
    candidate = Path(os.path.expanduser(raw)) if raw.startswith("~") else Path(raw)
    full = (candidate if candidate.is_absolute() else root / candidate).resolve()
    if not _inside(full, root):
        raise PathRefused(f"config field '{field}': '{raw}' is outside the allowed folder {root}",
                          hint="use a path inside that folder, or set CHAINLOOM_FILES_ROOT")
    return full


def glob_in_root(pattern: str, *, root: Path | None = None, field: str = "glob") -> list[Path]:
    """Files matching `pattern` (relative to the root; `**` recurses), all inside the root."""
    root = root or files_root()
    if not pattern or "\x00" in pattern or Path(pattern).is_absolute():
        raise PathRefused(f"config field '{field}': '{pattern}' must be a relative glob pattern",
                          hint="for example 'docs/**/*.md'")
    if ".." in Path(pattern).parts:
        raise PathRefused(f"config field '{field}': '{pattern}' may not contain '..'")
    out: list[Path] = []
    for match in sorted(root.glob(pattern)):
        real = match.resolve()
        if real.is_file() and _inside(real, root):
            out.append(real)
            if len(out) > MAX_MATCHES:
                raise PermanentError(f"config field '{field}': '{pattern}' matches over {MAX_MATCHES} files")
    return out


def display(path: Path, root: Path | None = None) -> str:
    """`path` relative to the root, as stored in document metadata."""
    root = root or files_root()
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def data_dir(ctx: RunContext) -> Path:
    """The run's chainloom data dir (embedded stores, memories, built databases)."""
    home = ctx.services.get("home") if ctx.services else None
    if home:
        return Path(home)
    return default_home()
