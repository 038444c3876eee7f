"""Approvals: calls that wait for a person (policy `require_approval`), listed and decided here.

A waiting run's status is `waiting_approval`; its pending approval shows the exact
call. Approve or reject it from any worker: the run (which polls the database)
goes on, or the agent is told the call was rejected, by whom and why. When the
process that ran it is gone (a restart), the decision settles the run honestly
as `interrupted`: a run cannot resume in another process.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import Engine, select

from engine.approvals import ApprovalRequest, Decision, decide, rejection_text
from engine.errors import NotFound
from engine.lease import interrupt
from engine.store import approvals_table as a
from engine.store import runs_table as r
from server import sse
from server.auth import require_key
from server.errors import ApiError
from server.keys import ApiKey
from server.schemas import errors
from server.state import app_state
from server.tables import run_orphaned

router = APIRouter(tags=["approvals"])

ApprovalId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="The approval's id.")]


class ApprovalOut(BaseModel):
    approval_id: str
    run_id: str
    flow_id: str
    node: str
    tool: str
    call: dict[str, Any] = Field(description="The exact arguments of the call waiting for a decision.")
    shown: str = Field(description="The call as people read it: tool({...}).")
    status: str = Field(description="pending | approved | rejected | cancelled")
    requested_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    reason: str


class DecisionIn(BaseModel):
    reason: str = Field("", max_length=2000, description="Why (shown to the agent when rejected).")


def _body(row: Any) -> dict[str, Any]:
    call = json.loads(row.call)
    shown = ApprovalRequest(row.run_id, row.node, row.tool, call).describe()
    return {"approval_id": row.id, "run_id": row.run_id, "flow_id": row.flow_id, "node": row.node,
            "tool": row.tool, "call": call, "shown": shown, "status": row.status,
            "requested_at": row.requested_at, "decided_at": row.decided_at,
            "decided_by": row.decided_by, "reason": row.reason}


def _query() -> Any:
    return select(a, r.c.flow_id).join(r, r.c.id == a.c.run_id).order_by(a.c.requested_at)


def _one(engine: Engine, approval_id: str) -> Any:
    with engine.connect() as conn:
        row = conn.execute(_query().where(a.c.id == approval_id)).one_or_none()
    if row is None:
        raise NotFound(f"no approval has the id '{approval_id}'",
                       hint="list pending approvals with GET /approvals")
    return row


def _json(value: Any, status: int = 200) -> Response:
    return Response(sse.dumps(value), status_code=status, media_type="application/json")


@router.get("/approvals", response_model=list[ApprovalOut], summary="Calls waiting for a person "
            "(or decided ones), oldest first", responses=errors())
def list_approvals(request: Request,
                   status: Annotated[str, Query(pattern=r"^(pending|approved|rejected|cancelled)$")] = "pending",
                   run_id: Annotated[str | None, Query(max_length=100)] = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 100) -> Response:
    query = _query().where(a.c.status == status).limit(limit)
    if run_id is not None:
        query = query.where(a.c.run_id == run_id)
    with app_state(request).store.engine.connect() as conn:
        rows = conn.execute(query).all()
    return _json([_body(row) for row in rows])


@router.get("/approvals/{approval_id}", response_model=ApprovalOut, summary="One approval",
            responses=errors(404))
def get_approval(request: Request, approval_id: ApprovalId) -> Response:
    return _json(_body(_one(app_state(request).store.engine, approval_id)))


def _who(key: ApiKey | None) -> str:
    return f"API key '{key.name}'" if key is not None else "the local operator"


def _decide(request: Request, approval_id: str, approved: bool, reason: str, key: ApiKey | None) -> Response:
    engine = app_state(request).store.engine
    row = _one(engine, approval_id)
    status = "approved" if approved else "rejected"
    if not decide(engine, approval_id, status=status, by=_who(key), reason=reason):
        raise ApiError(409, "already_decided", f"approval '{approval_id}' is already {row.status}",
                       hint="list pending approvals with GET /approvals")
    row = _one(engine, approval_id)
    if run_orphaned(engine, row.run_id):
        _settle_orphan(engine, row, Decision(approved, _who(key), reason))
    return _json(_body(row))


def _settle_orphan(engine: Engine, row: Any, decision: Decision) -> None:
    """The run's process is gone (a restart): the decision ends the run; it cannot resume."""
    request = ApprovalRequest(row.run_id, row.node, row.tool, json.loads(row.call))
    if decision.approved:
        why = ("its process stopped while it waited for approval; the call was approved "
               "afterwards but a run cannot resume in another process")
    else:
        why = f"its process stopped while it waited for approval, and {rejection_text(request, decision)}"
    interrupt(engine, row.run_id, reason=why, hint="run the flow again (the approval applied to that run only)")


@router.post("/approvals/{approval_id}/approve", response_model=ApprovalOut,
             summary="Approve the call: the waiting run makes it", responses=errors(404, 409))
def approve(request: Request, approval_id: ApprovalId,
            body: Annotated[DecisionIn | None, Body()] = None,
            key: ApiKey | None = Depends(require_key)) -> Response:
    return _decide(request, approval_id, True, (body or DecisionIn()).reason, key)


@router.post("/approvals/{approval_id}/reject", response_model=ApprovalOut,
             summary="Reject the call: the agent is told who rejected it and why",
             responses=errors(404, 409))
def reject(request: Request, approval_id: ApprovalId,
           body: Annotated[DecisionIn | None, Body()] = None,
           key: ApiKey | None = Depends(require_key)) -> Response:
    return _decide(request, approval_id, False, (body or DecisionIn()).reason, key)
