"""Saved flows: create, list, read, update with the version the client saw, delete, history,
import and export, validate.

Every save is validated first (422 lists every issue); an update names its base
version and a stale one gets 409 with nothing written (the store checks and
inserts in one transaction). Export is the canonical flow file: flows hold the
names of secrets, never their values, so an export has none to leak.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Request, Response
from sqlalchemy import select

from engine.errors import FlowExists
from engine.flow import ID_PATTERN, Flow, dumps_flow, flow_to_dict, redacted_flow
from engine.issues import errors as error_issues
from engine.store import flows_table
from engine.validate import check, saving_issues
from server.errors import ApiError, invalid, issue_dict
from server.schemas import CreateFlow, FlowOut, FlowSaved, FlowSummary, UpdateFlow, ValidationOut, VersionOut, errors
from server.state import AppState, app_state

router = APIRouter(tags=["flows"])

FlowRef = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$",
                              description="The flow's id (or its unique name, for reading).")]
FlowId = Annotated[str, Path(pattern=ID_PATTERN, description="The flow's id.")]
Version = Annotated[int, Path(ge=1, le=2**31 - 1)]
VersionQuery = Annotated[int | None, Query(ge=1, le=2**31 - 1, description="A past version; "
                                           "the latest when left out.")]


def validated(state: AppState, flow: Flow) -> None:
    """Raise 422 listing every problem the engine finds in `flow`."""
    issues = saving_issues(flow, state.registry)
    if issues:
        n = len(issues)
        raise invalid(f"the flow has {n} problem{'s' if n != 1 else ''}",
                      [issue_dict(i) for i in issues], hint="fix every issue listed and save again")


def exists(state: AppState, flow_id: str) -> int | None:
    """The latest version of the flow with this exact id, or None."""
    with state.store.engine.connect() as conn:
        return conn.execute(select(flows_table.c.latest_version)
                            .where(flows_table.c.id == flow_id)).scalar_one_or_none()


def flow_out(flow: Flow, version: int) -> FlowOut:
    return FlowOut(id=flow.id, name=flow.name, version=version, flow=flow_to_dict(redacted_flow(flow)))


def create(state: AppState, flow: Flow, message: str) -> FlowSaved:
    validated(state, flow)
    try:
        version = state.store.save_flow(flow, None, message=message)
    except FlowExists as err:
        raise ApiError(409, "flow_exists", err.message, hint=err.hint, flow_id=flow.id,
                       current_version=err.actual) from err
    return FlowSaved(id=flow.id, name=flow.name, version=version)


@router.get("/flows", response_model=list[FlowSummary], summary="List saved flows",
            responses=errors())
def list_flows(request: Request) -> list[FlowSummary]:
    return [FlowSummary(id=f.id, name=f.name, latest_version=f.latest_version,
                        created_at=f.created_at, updated_at=f.updated_at)
            for f in app_state(request).store.list_flows()]


@router.post("/flows", status_code=201, response_model=FlowSaved, summary="Save a new flow",
             responses=errors(409))
def create_flow(request: Request, response: Response, body: CreateFlow) -> FlowSaved:
    saved = create(app_state(request), body.flow, body.message)
    response.headers["Location"] = f"/flows/{saved.id}"
    return saved


@router.get("/flows/{flow_id}", response_model=FlowOut, summary="Read a flow",
            responses=errors(404))
def get_flow(request: Request, flow_id: FlowRef, version: VersionQuery = None) -> FlowOut:
    flow, number = app_state(request).store.get_flow(flow_id, version)
    return flow_out(flow, number)


@router.put("/flows/{flow_id}", response_model=FlowSaved, summary="Save a new version of a flow",
            responses=errors(404, 409))
def update_flow(request: Request, flow_id: FlowId, body: UpdateFlow) -> FlowSaved:
    if body.flow.id != flow_id:
        raise invalid("the flow's id does not match the path",
                      [{"code": "id_mismatch", "node": None, "port": None, "field": "flow.id",
                        "message": f"the body's flow id is '{body.flow.id}' but the path names "
                                   f"'{flow_id}'", "hint": "ids never change; save a copy as a new flow"}])
    state = app_state(request)
    validated(state, body.flow)
    version = state.store.save_flow(body.flow, body.base_version, message=body.message)
    return FlowSaved(id=flow_id, name=body.flow.name, version=version)


@router.delete("/flows/{flow_id}", status_code=204, summary="Delete a flow and its versions",
               responses=errors(404))
def delete_flow(request: Request, flow_id: FlowId) -> Response:
    app_state(request).store.delete_flow(flow_id)
    return Response(status_code=204)


@router.get("/flows/{flow_id}/versions", response_model=list[VersionOut],
            summary="A flow's version history, oldest first", responses=errors(404))
def list_versions(request: Request, flow_id: FlowRef) -> list[VersionOut]:
    return [VersionOut(flow_id=v.flow_id, version=v.version, created_at=v.created_at, message=v.message)
            for v in app_state(request).store.flow_versions(flow_id)]


@router.get("/flows/{flow_id}/versions/{version}", response_model=FlowOut,
            summary="Read a past version of a flow", responses=errors(404))
def get_version(request: Request, flow_id: FlowRef, version: Version) -> FlowOut:
    flow, number = app_state(request).store.get_flow(flow_id, version)
    return flow_out(flow, number)


@router.get("/flows/{flow_id}/export", summary="Download the flow file",
            responses={200: {"content": {"application/json": {}},
                             "description": "The canonical flow file (no secret values)."},
                       **errors(404)})
def export_flow(request: Request, flow_id: FlowRef, version: VersionQuery = None) -> Response:
    flow, _ = app_state(request).store.get_flow(flow_id, version)
    return Response(dumps_flow(redacted_flow(flow)), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{flow.id}.json"'})


@router.post("/flows/import", status_code=201, response_model=FlowSaved,
             summary="Save a flow file (as exported)", responses=errors(409))
def import_flow(request: Request, response: Response,
                flow: Annotated[Flow, Body(description="A flow file, as exported.")],
                replace: Annotated[bool, Query(description="If a flow with this id exists, save "
                                               "the file as its next version instead of refusing.")] = False
                ) -> FlowSaved:
    state = app_state(request)
    latest = exists(state, flow.id)
    if latest is None:
        saved = create(state, flow, "imported")
        response.headers["Location"] = f"/flows/{saved.id}"
        return saved
    if not replace:
        raise ApiError(409, "flow_exists", f"flow '{flow.id}' already exists (at version {latest})",
                       hint="pass replace=true to save the file as its next version",
                       flow_id=flow.id, current_version=latest)
    validated(state, flow)
    version = state.store.save_flow(flow, latest, message="imported")
    response.status_code = 200
    return FlowSaved(id=flow.id, name=flow.name, version=version)


@router.post("/validate", response_model=ValidationOut, summary="Check a flow without saving it",
             responses=errors())
def validate_flow(request: Request, flow: Annotated[Flow, Body()]) -> ValidationOut:
    _, issues = check(flow, app_state(request).registry)
    return ValidationOut(valid=not error_issues(issues), issues=[issue_dict(i) for i in issues])

