"""Approvals on the terminal: `chainloom run` asks y/N before a call that a policy gates.

A flow with `policy.require_approval` on some node runs from the CLI only when
stdin is a terminal: each gated call is shown exactly (`tool({...})`) and waits
for y (approve) or anything else (reject). Without a terminal the run is refused
before anything runs, saying how else to approve.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from typing import TYPE_CHECKING, TextIO

from engine.approvals import ApprovalRequest, ApprovalUnavailable, Decision

if TYPE_CHECKING:
    from engine.plan import Plan


def gated_nodes(plan: Plan) -> list[str]:
    """The nodes whose policy asks a person before calls go out."""
    return [nid for nid, node in plan.nodes.items() if node.policy.require_approval]


class TerminalApprovals:
    """The CLI's approval gate: one question at a time on the terminal."""

    def __init__(self, stdin: TextIO | None = None, stderr: TextIO | None = None) -> None:
        self.stdin = stdin or sys.stdin
        self.stderr = stderr or sys.stderr
        self.lock = asyncio.Lock()
        self.who = f"{_user()} on the terminal"

    async def ask(self, request: ApprovalRequest) -> Decision:
        async with self.lock:
            answer = await asyncio.to_thread(self.prompt, request)
        if answer.strip().lower() in ("y", "yes"):
            return Decision(True, self.who)
        return Decision(False, self.who, "declined at the prompt")

    def prompt(self, request: ApprovalRequest) -> str:
        self.stderr.write(f"\n⏸ node '{request.node}' wants to make this call:\n"
                          f"    {request.describe()}\nApprove it? [y/N] ")
        self.stderr.flush()
        return self.stdin.readline()


def terminal_gate(plan: Plan, stdin: TextIO | None = None) -> TerminalApprovals | None:
    """The gate for a flow with gated nodes (None without any); refuses without a terminal."""
    nodes = gated_nodes(plan)
    if not nodes:
        return None
    stdin = stdin or sys.stdin
    if not stdin.isatty():
        names = ", ".join(f"'{n}'" for n in nodes)
        raise ApprovalUnavailable(
            f"flow '{plan.flow.id}': node {names} requires approval before its calls "
            "(policy.require_approval), and stdin is not a terminal to ask on",
            hint="run it on a terminal to answer y/N; or serve it (`chainloom serve`) and approve "
                 "with POST /approvals/{id}/approve (or in the UI); or drop policy.require_approval "
                 f"from node {names}")
    return TerminalApprovals(stdin)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "someone"
