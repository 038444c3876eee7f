"""Turning a run request into a runnable job: the flow version, tweaks, inputs and time limit.

Everything is checked before anything runs, and every problem comes back at
once as a 422 issue naming the node and the field. Tweaks go through
`engine.tweaks.apply_tweaks`: only fields the flow's author marked tweakable,
never one that decides where data or credentials go.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from engine.errors import NotFound
from engine.tweaks import apply_tweaks
from engine.validate import Plan, compile_flow
from server.errors import invalid, issue_dict
from server.execution import RunJob
from server.schemas import RunRequest
from server.state import AppState
from server.tables import version_text


def _issue(code: str, message: str, node: str | None, field: str | None, hint: str = "") -> dict[str, Any]:
    return {"code": code, "node": node, "port": None, "field": field, "message": message, "hint": hint}


@dataclass(frozen=True)
class Prepared:
    plan: Plan
    version: int
    timeout: float


def saved_text(state: AppState, flow_ref: str, version: int | None) -> tuple[str, int, str]:
    """(flow id, version, saved text): one query when `flow_ref` is an id (the usual case),
    else the name is resolved first."""
    try:
        return (flow_ref, *version_text(state.store.engine, flow_ref, version))
    except NotFound:
        flow_id = state.store.resolve_flow_id(flow_ref)  # a name, or raises NotFound with a hint
        return (flow_id, *version_text(state.store.engine, flow_id, version))


def prepare(state: AppState, flow_ref: str, body: RunRequest) -> Prepared:
    """The plan, version and time limit for a run, or a 422 listing every problem."""
    settings = state.settings
    if body.timeout is not None and body.timeout > settings.max_run_timeout:
        raise invalid("the run's time limit is over the server's maximum", [_issue(
            "timeout_too_long", f"at most {settings.max_run_timeout:g} seconds", None, "timeout")])
    flow_id, version, text = saved_text(state, flow_ref, body.version)
    flow, plan = state.plans.get(text, f"saved flow '{flow_id}' v{version}")
    if body.tweaks:
        tweaked, refused = apply_tweaks(flow, body.tweaks, state.registry)
        if refused:
            raise invalid("the tweaks cannot be applied", [issue_dict(i) for i in refused],
                          hint="tweaks may change only the fields the flow marks tweakable")
        plan = compile_flow(tweaked, state.registry)
    issues = [issue_dict(i) for i in plan.input_issues(body.inputs, how='"inputs": {{"{name}": ...}}')]
    if issues:
        raise invalid("the inputs do not fit the flow", issues)
    return Prepared(plan, version, body.timeout or settings.run_timeout)


def job(state: AppState, prepared: Prepared, body: RunRequest, on_event: Any = None) -> RunJob:
    return RunJob(runner=state.runner, plan=prepared.plan, inputs=body.inputs,
                  run_id=uuid.uuid4().hex, session_id=body.session_id, timeout=prepared.timeout,
                  flow_version=prepared.version, on_event=on_event)
