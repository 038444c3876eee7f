"""File paths from flows resolve inside the allowed folders (roots), never outside them.

The roots, in order: each folder of $CHAINLOOM_FILES_ROOT (a list joined by the OS path
separator, ':' or ';'), the current working directory, and the bundled examples'
folder (so every example flow finds its sample data from any folder, with or without
the variable). A relative path is tried against each root and the first that exists
wins; an absolute path must lie inside one. Symlinks are followed; `..` escapes and
links that lead out of every root are refused. Errors show the resolved path(s) and
the roots.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import PermanentError
from engine.home import default_home

if TYPE_CHECKING:
    from engine.context import RunContext

MAX_MATCHES = 100_000
ROOTS_ENV = "CHAINLOOM_FILES_ROOT"
EXAMPLES_ENV = "CHAINLOOM_EXAMPLES"


class PathRefused(PermanentError):
    """A path from a flow points outside the allowed roots, or to nothing."""


def examples_dir() -> Path:
    """The bundled example flows: $CHAINLOOM_EXAMPLES, else the installed `flows` package
    (the repo's flows/ in a checkout). The one resolver the CLI, the builder and the paths use."""
    env = os.environ.get(EXAMPLES_ENV)
    if env:
        return Path(env).expanduser()
    spec = importlib.util.find_spec("flows")
    locations = list(spec.submodule_search_locations or []) if spec else []
    if locations:
        return Path(locations[0])
    return Path(__file__).resolve().parents[2] / "flows"


def files_roots() -> list[Path]:
    """The allowed roots, in the order relative paths are tried (see the module docstring)."""
    listed = [Path(p).expanduser() for p in os.environ.get(ROOTS_ENV, "").split(os.pathsep) if p.strip()]
    roots = [p.resolve() for p in [*listed, Path(os.getcwd())]]
    examples = examples_dir()
    if examples.is_dir():
        roots.append(examples.resolve())
    return list(dict.fromkeys(roots))


def files_root() -> Path:
    """The first root: where paths are shown relative to when no other root holds them."""
    return files_roots()[0]


def describe_roots(roots: list[Path] | None = None) -> str:
    return ", ".join(str(r) for r in roots or files_roots())


def _inside(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def resolve_path(raw: str, *, root: Path | None = None, field: str = "path", label: str = "") -> Path:
    """The real path of `raw` inside a root (the first root where it exists); PathRefused otherwise.

    `label` names where the path came from in errors (default: config field `field`).
    """
    roots = [root] if root else files_roots()
    where = label or f"config field '{field}'"
    if not raw or "\x00" in raw:
        raise PathRefused(f"{where} holds an empty or invalid path")
    candidate = Path(os.path.expanduser(raw)) if raw.startswith("~") else Path(raw)
    hint = f"use a path inside one of them, or add its folder to {ROOTS_ENV} (folders joined by '{os.pathsep}')"
    if candidate.is_absolute():
        full = candidate.resolve()
        if not any(_inside(full, r) for r in roots):
            raise PathRefused(f"{where}: '{raw}' (resolved to {full}) is outside the allowed "
                              f"folders: {describe_roots(roots)}", hint=hint)
        return full
    tried = [((r / candidate).resolve(), r) for r in roots]
    existing = next(((full, r) for full, r in tried if full.exists()), None)
    if existing and not _inside(*existing):  # `..` or a symlink leading out of its root
        raise PathRefused(f"{where}: '{raw}' (resolved to {existing[0]}) is outside the allowed "
                          f"folders: {describe_roots(roots)}", hint=hint)
    if existing:
        return existing[0]
    inside = [full for full, r in tried if _inside(full, r)]
    if not inside:
        raise PathRefused(f"{where}: '{raw}' (resolved to {tried[0][0]}) is outside the allowed "
                          f"folders: {describe_roots(roots)}", hint=hint)
    shown = ", ".join(str(p) for p in inside)
    raise PathRefused(f"{where}: '{raw}' does not exist (looked for {shown}); allowed "
                      f"folders: {describe_roots(roots)}", hint="check the path; a relative path is tried in "
                      f"each allowed folder in turn; or add its folder to {ROOTS_ENV}")


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
    """`path` relative to the innermost root holding it, as stored in document metadata.

    Innermost, so an example's sample file is `data/handbook/faq.md` from any working directory.
    """
    holding = [base for base in ([root] if root else files_roots()) if _inside(path, base)]
    if not holding:
        return str(path)
    return path.relative_to(max(holding, key=lambda base: len(base.parts))).as_posix()


def data_dir(ctx: RunContext) -> Path:
    """The run's chainloom data dir (embedded stores, memories, built databases)."""
    home = ctx.services.get("home") if ctx.services else None
    if home:
        return Path(home)
    return default_home()
