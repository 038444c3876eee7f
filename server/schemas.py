"""Request and response bodies of the API (they drive validation and the docs at /docs).

A flow travels as the flow file itself (`engine.flow.Flow`, schema_version 1);
everything a request may carry is bounded here, and unknown fields are refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.flow import Flow
from nodes.support.sessions import SESSION_PATTERN as SESSION_PATTERN  # one rule for the API and the CLI

RUN_ID_PATTERN = r"^[A-Za-z0-9_-]{1,100}$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class CreateFlow(_Body):
    flow: Flow = Field(description="The flow file (schema_version 1).")
    message: str = Field("", max_length=1000, description="A note kept with this version.")


class UpdateFlow(_Body):
    flow: Flow = Field(description="The whole flow as it should be now; its id must match the path.")
    base_version: int = Field(ge=1, le=2**31 - 1, description="The version this edit started "
                              "from. If the flow has moved on since, the save is refused (409).")
    message: str = Field("", max_length=1000, description="A note kept with this version.")


class RunRequest(_Body):
    inputs: dict[str, Any] = Field(default_factory=dict, max_length=256,
                                   description="Flow inputs by name (the `name` of each input node).")
    tweaks: dict[str, dict[str, Any]] = Field(
        default_factory=dict, max_length=256,
        description="Per-run config overrides: node id -> {field: value}. Secret fields, and "
                    "address fields of nodes that hold a secret, cannot be changed.")
    session_id: str | None = Field(None, pattern=SESSION_PATTERN,
                                   description="Groups runs of one conversation (chat memory).")
    version: int | None = Field(None, ge=1, le=2**31 - 1,
                                description="Run this saved version instead of the latest.")
    stream: bool = Field(False, description="Answer with Server-Sent Events instead of one JSON "
                         "body (also chosen by `Accept: text/event-stream`).")
    timeout: float | None = Field(None, gt=0, le=86_400,
                                  description="Seconds before the run is stopped (capped by the server).")


class FlowSummary(BaseModel):
    id: str
    name: str
    latest_version: int
    created_at: datetime
    updated_at: datetime


class FlowSaved(BaseModel):
    id: str
    name: str
    version: int


class FlowOut(BaseModel):
    id: str
    name: str
    version: int
    flow: dict[str, Any] = Field(description="The flow file of this version.")


class VersionOut(BaseModel):
    flow_id: str
    version: int
    created_at: datetime
    message: str


class ValidationOut(BaseModel):
    valid: bool
    issues: list[dict[str, Any]]


class RunOut(BaseModel):
    """A run: as it ended (blocking run) or as recorded so far (GET /runs/{id})."""

    run_id: str
    flow_id: str
    flow_version: int | None
    status: str = Field(description="running | waiting_approval | succeeded | failed | timeout | "
                                    "cancelled | interrupted (its process stopped before it ended)")
    outputs: dict[str, Any]
    error: str | None
    hint: str
    failed_node: str | None
    usage: dict[str, Any]
    duration: float | None
    session_id: str | None
    inputs: dict[str, Any] | None = Field(None, description="Previews of the inputs (recorded runs).")
    started_at: datetime | None = None
    finished_at: datetime | None = None


class RunEvents(BaseModel):
    run_id: str
    status: str
    events: list[dict[str, Any]]
    next_after: int = Field(description="Pass as `after` to get the events that follow.")


class CancelOut(BaseModel):
    run_id: str
    status: str


class ErrorDetail(BaseModel):
    code: str
    message: str
    hint: str = ""
    issues: list[dict[str, Any]] | None = None


class ErrorOut(BaseModel):
    error: ErrorDetail


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text} for code, text in {
        400: "Malformed or too deeply nested JSON body.",
        401: "No API key, or an unknown or revoked one.",
        413: "The request body is over the size limit.",
        422: "Every problem with the request or the flow, naming node and field.",
    }.items()
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The error responses of a route, for the docs: the common ones plus `codes`."""
    text = {404: "No such flow, version or run.", 409: "Conflict: a stale version, an existing "
            "flow id, or a run that already finished."}
    out = dict(ERRORS)
    for code in codes:
        out[code] = {"model": ErrorOut, "description": text.get(code, "Error.")}
    return out
