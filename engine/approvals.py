"""Approval gates: a person approves or rejects a side-effect call before it goes out.

A node whose policy has `require_approval` (true: every call; a list: the tool
calls of an agent by tool name) asks the run's gate, `services["approvals"]`, with
the exact call and waits for a `Decision`. `StoreApprovals` is the durable gate:
the pending approval is a row in the store and the run's status is
`waiting_approval` while it waits, so any process (the API, the UI, another
worker) can decide it; the waiting run reads the decision back from the database.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Engine, func, insert, select, update

from engine.errors import PermanentError

POLL_SECONDS = 0.25
MAX_CALL_CHARS = 2000


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """One call waiting for a person: which run and node, which tool, with what."""

    run_id: str
    node: str
    tool: str
    call: dict[str, Any]

    def describe(self) -> str:
        """The exact call as people read it: `tool({"arg": ...})`."""
        args = json.dumps(self.call, ensure_ascii=False, sort_keys=True, default=str)
        if len(args) > MAX_CALL_CHARS:
            args = args[:MAX_CALL_CHARS] + f"… (+{len(args) - MAX_CALL_CHARS} chars)"
        return f"{self.tool}({args})"


@dataclass(frozen=True, slots=True)
class Decision:
    approved: bool
    by: str
    reason: str = ""
    approval_id: str = ""


def rejection_text(request: ApprovalRequest, decision: Decision) -> str:
    """What the agent (or the run's error) is told about a rejected call."""
    reason = decision.reason.strip() or "no reason given"
    return f"the call {request.describe()} was rejected by {decision.by}: {reason}"


class ApprovalRejected(PermanentError):
    """A person rejected the node's call; the node did not make it."""


class ApprovalUnavailable(PermanentError):
    """The node needs approval, but this run has no way to ask a person."""


class ApprovalGate(Protocol):
    async def ask(self, request: ApprovalRequest) -> Decision: ...


def _now() -> datetime:
    return datetime.now(UTC)


class StoreApprovals:
    """The durable gate: pending approvals in the store's `approvals` table, decided by anyone."""

    def __init__(self, engine: Engine, poll: float = POLL_SECONDS) -> None:
        self.engine = engine
        self.poll = poll

    async def ask(self, request: ApprovalRequest) -> Decision:
        approval_id = uuid.uuid4().hex
        await asyncio.to_thread(self.open, approval_id, request)
        try:
            decision = await self.wait(approval_id, request)
        except BaseException:
            await asyncio.shield(asyncio.to_thread(self.abandon, approval_id))
            raise
        await asyncio.to_thread(self.resume, request.run_id)
        return decision

    def open(self, approval_id: str, request: ApprovalRequest) -> None:
        """Record the pending approval and mark the run as waiting for it."""
        from engine.recording import flush_recordings  # noqa: PLC0415 - the run row must exist
        from engine.store import approvals_table as a  # noqa: PLC0415
        from engine.store import runs_table as r  # noqa: PLC0415
        flush_recordings()
        with self.engine.begin() as conn:
            conn.execute(insert(a).values(
                id=approval_id, run_id=request.run_id, node=request.node, tool=request.tool[:200],
                call=json.dumps(request.call, ensure_ascii=False, sort_keys=True, default=str),
                status="pending", requested_at=_now(), reason=""))
            conn.execute(update(r).where(r.c.id == request.run_id, r.c.status == "running")
                         .values(status="waiting_approval"))

    async def wait(self, approval_id: str, request: ApprovalRequest) -> Decision:
        """Poll the approval until someone decides it."""
        while True:
            decision = await asyncio.to_thread(self.read, approval_id)
            if decision is not None:
                return decision
            await asyncio.sleep(self.poll)

    def read(self, approval_id: str) -> Decision | None:
        from engine.store import approvals_table as a  # noqa: PLC0415

        with self.engine.connect() as conn:
            row = conn.execute(select(a.c.status, a.c.decided_by, a.c.reason)
                               .where(a.c.id == approval_id)).one()
        if row.status == "pending":
            return None
        return Decision(row.status == "approved", row.decided_by or "someone", row.reason or "",
                        approval_id)

    def resume(self, run_id: str) -> None:
        """Back to `running` once no approval of the run is pending."""
        from engine.store import approvals_table as a  # noqa: PLC0415
        from engine.store import runs_table as r  # noqa: PLC0415
        with self.engine.begin() as conn:
            pending = conn.execute(select(func.count()).select_from(a).where(
                a.c.run_id == run_id, a.c.status == "pending")).scalar_one()
            if not pending:
                conn.execute(update(r).where(r.c.id == run_id, r.c.status == "waiting_approval")
                             .values(status="running"))

    def abandon(self, approval_id: str) -> None:
        """The run stopped (cancel, timeout) while waiting: nobody needs to decide any more."""
        decide(self.engine, approval_id, status="cancelled", by="chainloom",
               reason="the run stopped before anyone decided")


def decide(engine: Engine, approval_id: str, *, status: str, by: str, reason: str) -> bool:
    """Set a pending approval's outcome (approved, rejected, cancelled); False if not pending."""
    from engine.store import approvals_table as a  # noqa: PLC0415

    with engine.begin() as conn:
        moved = conn.execute(update(a).where(a.c.id == approval_id, a.c.status == "pending").values(
            status=status, decided_at=_now(), decided_by=by[:200], reason=reason)).rowcount
    return bool(moved == 1)
