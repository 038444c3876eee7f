"""The CLI's two consoles (results on stdout, problems on stderr) and how problems print.

Every problem is printed with what is wrong and, on its own line, the hint that says
how to fix it. Text from flows and errors is printed as plain text, never as markup.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # rich and the engine load when something is printed, not for `--help`
    from rich.console import Console
    from rich.text import Text

    from engine.errors import ChainloomError
    from engine.issues import Issue

EXIT_OK, EXIT_FAILED, EXIT_UNRUNNABLE = 0, 1, 2


def make_console(stream: TextIO) -> Console:
    """A console on `stream`; pipes get 120 columns (rich's 80 cuts tables short)."""
    from rich.console import Console  # noqa: PLC0415

    width = None if stream.isatty() or os.environ.get("COLUMNS") else 120
    return Console(file=stream, highlight=False, width=width)


@dataclass
class Term:
    out: Console
    err: Console

    @classmethod
    def default(cls) -> Term:
        return cls(make_console(sys.stdout), make_console(sys.stderr))

    @property
    def live(self) -> bool:
        """True when stdout is an interactive terminal (draw with rich.Live)."""
        return self.out.is_terminal and not self.out.is_dumb_terminal

    def json(self, data: Any) -> None:
        """Machine output: plain JSON on stdout, no styling, no wrapping."""
        self.out.file.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
        self.out.file.flush()

    def line(self, text: str | Text, *, err: bool = False) -> None:
        (self.err if err else self.out).print(text, soft_wrap=True, markup=False)


def issue_where(issue: Issue) -> str:
    where = f"node '{issue.node}'" if issue.node else "flow"
    return where + (f" port '{issue.port}'" if issue.port else "")


def print_issues(term: Term, issues: Sequence[Issue], *, err: bool = False) -> None:
    from rich.text import Text  # noqa: PLC0415

    for issue in issues:
        mark = ("! ", "yellow") if issue.severity == "warning" else ("✗ ", "red")
        term.line(Text.assemble(mark, (issue.code, "bold"), f"  {issue_where(issue)}: ",
                                issue.message), err=err)
        if issue.hint:
            term.line(Text(f"    hint: {issue.hint}", style="dim"), err=err)


def print_error(term: Term, error: ChainloomError) -> None:
    """An error on stderr: all issues of a ValidationFailed, else the message and hint."""
    from rich.text import Text  # noqa: PLC0415

    from engine.errors import ValidationFailed  # noqa: PLC0415

    if isinstance(error, ValidationFailed):
        print_issues(term, error.issues, err=True)
        n = len(error.issues)
        term.line(f"{n} problem{'s' if n != 1 else ''}; nothing was run", err=True)
        return
    term.line(Text.assemble(("✗ ", "red"), error.message), err=True)
    if error.hint:
        term.line(Text(f"  hint: {error.hint}", style="dim"), err=True)


def issues_of(error: ChainloomError) -> list[Issue]:
    """Structured issues for an error (one `load_error` issue when it is not a validation)."""
    from engine.errors import FlowLoadError, ValidationFailed  # noqa: PLC0415
    from engine.issues import Issue  # noqa: PLC0415

    if isinstance(error, ValidationFailed | FlowLoadError) and error.issues:
        return list(error.issues)
    code = {"FlowInputError": "bad_input", "NotFound": "not_found"}.get(type(error).__name__,
                                                                      "load_error")
    return [Issue(code, error.message, hint=error.hint)]
