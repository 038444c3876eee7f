"""Turning a run request into a runnable job: the flow version, tweaks, inputs and time limit.

Everything is checked before anything runs, and every problem comes back at
once as a 422 issue naming the node and the field. Tweaks may change a node's
ordinary config fields for one run; they may not touch a secret reference, nor
the address fields of a node that holds one (that would send the operator's
key to a server of the caller's choosing).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from engine.errors import NotFound
from engine.flow import Flow, FlowNode
from engine.node import NodeSpec
from engine.validate import Plan, compile_flow
from server.errors import invalid, issue_dict
from server.execution import RunJob
from server.schemas import RunRequest
from server.state import AppState
from server.tables import version_text

ADDRESS_FIELDS = frozenset({"url", "base_url", "api_base", "endpoint", "host", "server_url"})


def _issue(code: str, message: str, node: str | None, field: str | None, hint: str = "") -> dict[str, Any]:
    return {"code": code, "node": node, "port": None, "field": field, "message": message, "hint": hint}


def is_secret_field(spec: NodeSpec, name: str) -> bool:
    info = spec.config.model_fields.get(name)
    extra = info.json_schema_extra if info is not None else None
    return isinstance(extra, dict) and bool(extra.get("secret"))


def is_protected_field(spec: NodeSpec, name: str) -> bool:
    """An address field of a node that also holds a secret reference."""
    if name not in ADDRESS_FIELDS and not name.endswith("_url"):
        return False
    return any(is_secret_field(spec, other) for other in spec.config.model_fields)


def tweak_issues(flow: Flow, tweaks: dict[str, dict[str, Any]], state: AppState) -> list[dict[str, Any]]:
    issues: list[dict[str, Any]] = []
    node_ids = [n.id for n in flow.nodes]
    for node_id, fields in tweaks.items():
        fnode = flow.node(node_id)
        if fnode is None:
            issues.append(_issue("unknown_node", "tweaks name a node that is not in the flow",
                                 node_id[:64], None, hint="nodes are: " + ", ".join(node_ids)))
            continue
        if fnode.type not in state.registry:
            continue  # validation reports the unknown type
        spec = state.registry.get(fnode.type)
        for name in fields:
            field = f"config.{name[:100]}"
            if name not in spec.config.model_fields:
                issues.append(_issue("unknown_field", f"'{spec.type}' has no config field by this name",
                                     node_id, field, hint="fields are: " + ", ".join(spec.config.model_fields)))
            elif is_secret_field(spec, name):
                issues.append(_issue("secret_field", "this field names a secret and cannot be "
                                     "changed per run", node_id, field,
                                     hint="change it in the saved flow (an operator's decision)"))
            elif is_protected_field(spec, name):
                issues.append(_issue("protected_field", "this field decides where the node sends "
                                     "its secret, so it cannot be changed per run", node_id, field,
                                     hint="change it in the saved flow"))
    return issues


def apply_tweaks(flow: Flow, tweaks: dict[str, dict[str, Any]]) -> Flow:
    nodes: list[FlowNode] = []
    for fnode in flow.nodes:
        fields = tweaks.get(fnode.id)
        nodes.append(fnode.model_copy(update={"config": {**fnode.config, **fields}}) if fields else fnode)
    return flow.model_copy(update={"nodes": nodes})


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
        issues = tweak_issues(flow, body.tweaks, state)
        if issues:
            raise invalid("the tweaks cannot be applied", issues,
                          hint="tweaks change ordinary config fields of nodes in this flow")
        plan = compile_flow(apply_tweaks(flow, body.tweaks), state.registry)
    issues = [issue_dict(i) for i in plan.input_issues(body.inputs, how='"inputs": {{"{name}": ...}}')]
    if issues:
        raise invalid("the inputs do not fit the flow", issues)
    return Prepared(plan, version, body.timeout or settings.run_timeout)


def job(state: AppState, prepared: Prepared, body: RunRequest, on_event: Any = None) -> RunJob:
    return RunJob(runner=state.runner, plan=prepared.plan, inputs=body.inputs,
                  run_id=uuid.uuid4().hex, session_id=body.session_id, timeout=prepared.timeout,
                  flow_version=prepared.version, on_event=on_event)
