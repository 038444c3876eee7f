"""The Properties and Problems panels: node forms (essential fields first, advanced
ones folded, provider-specific ones only for their provider), edge details, flow
settings, and the list of validation issues."""

from __future__ import annotations

import os
from typing import Any

import streamlit as st
from pydantic import BaseModel

from engine.fields import where_kind
from engine.flow import FlowNode, NodePolicy
from engine.node import NodeSpec
from ui.forms import (
    FieldError,
    FormField,
    applies,
    config_errors,
    essential,
    form_fields,
    parse_widget,
    widget_value,
    with_field,
)
from ui.ops import node_ports
from ui.services import Services
from ui.views.common import plain, set_panel
from ui.views.library import saved_ids
from ui.workspace import Workspace, edge_id

MAX_JS_INT = (1 << 53) - 1
FIELD_ERRORS = "field_errors"


IO_NAME_LABEL = {"input": "Input name", "output": "Output name"}
IO_NAME_HELP = {"input": "What callers call this input: `chainloom run FLOW --input NAME=...`, the API's "
                         "`inputs`, the Run form. Also the node's label on the canvas.",
                "output": "The name this output has in the run's result (CLI, API, Python). Also the node's "
                          "label on the canvas."}


def _key(ws: Workspace, *parts: str) -> str:
    return ":".join(["p", str(ws.form_gen), *parts])


# ---------------------------------------------------------------- properties
def properties(ws: Workspace, svc: Services) -> None:
    selected = ws.selected
    fnode = ws.flow.node(selected) if selected else None
    edge = next((e for e in ws.flow.edges if edge_id(e) == selected), None) if selected else None
    if fnode is not None:
        node_panel(ws, svc, fnode)
    elif edge is not None:
        st.markdown(f"#### Edge `{edge.source}` → `{edge.target}`")
        st.button("Delete edge", key="edge_delete", on_click=ws.delete_edge, args=(edge_id(edge),),
                  type="primary")
        _deselect_button(ws)
    else:
        flow_panel(ws, svc)


def _deselect_button(ws: Workspace) -> None:
    st.button("Flow settings", key="deselect", on_click=_deselect, args=(ws,),
              help="Show the flow's own settings (name, id, description)")


def _deselect(ws: Workspace) -> None:
    ws.selected = None


def flow_panel(ws: Workspace, svc: Services) -> None:
    st.markdown("#### Flow settings")
    st.caption("Click a node on the canvas to edit it; drag nodes in from the palette on the canvas's left.")
    flow = ws.flow
    st.text_input("Flow name", flow.name, key=_key(ws, "flow", "name", flow.id), on_change=_flow_info,
                  args=(ws, svc, "name"),
                  help="Until the flow is first saved, its id follows its name (my-flow, my-flow-2, ...)")
    st.text_input("Flow id", flow.id, key=_key(ws, "flow", "id", flow.id), on_change=_flow_info,
                  args=(ws, svc, "flow_id"), help="Saved flows are stored under this id; a new id saves as a new flow")
    st.text_area("Description", flow.description, key=_key(ws, "flow", "description", flow.id),
                 on_change=_flow_info, args=(ws, svc, "description"))
    st.caption(f"{len(flow.nodes)} nodes · {len(flow.edges)} edges")


def _flow_info(ws: Workspace, svc: Services, what: str) -> None:
    field = "id" if what == "flow_id" else what
    value = str(st.session_state.get(_key(ws, "flow", field, ws.flow.id), ""))
    if what != "description" and ("\n" in value or "\r" in value):
        ws.note("error", f"the flow's {field} is one line; remove the line breaks")
        return
    error = ws.set_flow_info(**{what: value.strip() if what != "description" else value},
                             taken=lambda: saved_ids(svc))
    if error:
        ws.note("error", error)


def node_panel(ws: Workspace, svc: Services, fnode: FlowNode) -> None:
    spec = svc.registry.get(fnode.type) if fnode.type in svc.registry else None
    io_role = spec.role if spec is not None and "name" in spec.config.model_fields else None
    title = fnode.config.get("name") if io_role else fnode.name
    st.markdown(f"#### {plain(title or (spec.title if spec else fnode.id))}")
    st.caption(f"`{fnode.type}` · id `{fnode.id}`" + (f" — {spec.description}" if spec else " — unknown type"))
    if fnode.type == "code.python":
        _code_switch()
    if not io_role:   # an input/output node is labelled by its input/output name (one field, below)
        c1, c2 = st.columns(2)
        c1.text_input("Label", fnode.name, key=_key(ws, fnode.id, "name"), on_change=_rename, args=(ws, fnode.id),
                      placeholder=spec.title if spec else "", help="The title shown on the canvas")
        c2.text_input("Id", fnode.id, key=_key(ws, fnode.id, "id"), on_change=_change_id, args=(ws, fnode.id),
                      help="Edges refer to this id; changing it rewrites them")
    if spec is not None:
        config_form(ws, fnode, spec, io_role)
    _connections(ws, svc, fnode, spec)
    if spec is not None:
        _policy(ws, fnode, spec)
        _tweakable(ws, fnode, spec)
    if io_role:
        st.text_input("Node id", fnode.id, key=_key(ws, fnode.id, "id"), on_change=_change_id,
                      args=(ws, fnode.id), help="Edges refer to this id; changing it rewrites them")
    c1, c2 = st.columns(2)
    c1.button("Delete node", key=f"node_delete:{fnode.id}", on_click=ws.delete_node, args=(fnode.id,),
              use_container_width=True, help="Removes the node and its edges (Undo brings it back)")
    with c2:
        _deselect_button(ws)


def _rename(ws: Workspace, node_id: str) -> None:
    error = ws.rename(node_id, st.session_state.get(_key(ws, node_id, "name"), ""))
    if error:
        ws.note("error", error)


def _change_id(ws: Workspace, node_id: str) -> None:
    error = ws.change_id(node_id, st.session_state.get(_key(ws, node_id, "id"), ""))
    if error:
        ws.note("error", error)


def _connections(ws: Workspace, svc: Services, fnode: FlowNode, spec: NodeSpec | None) -> None:
    ins, outs = node_ports(spec, fnode.config, fnode.version)
    edges = [e for e in ws.flow.edges if fnode.id in (e.source_node, e.target_node)]
    with st.expander(f"Ports and edges ({len(edges)})"):
        for port in ins:
            linked = [e.source for e in edges if e.target_node == fnode.id and e.target_port == port.name]
            need = "" if not port.required else " · required"
            sources = ", ".join(f"`{s}`" for s in linked) or "—"
            st.markdown(f"⇥ **{port.name}** `{port.type.value}`{need} ← {sources}")
        for port in outs:
            linked = [e.target for e in edges if e.source_node == fnode.id and e.source_port == port.name]
            st.markdown(f"↦ **{port.name}** `{port.type.value}` → " + (", ".join(f"`{t}`" for t in linked) or "—"))
        for e in edges:
            st.button(f"Delete edge {e.source} → {e.target}", key=f"del_edge:{edge_id(e)}",
                      on_click=ws.delete_edge, args=(edge_id(e),))


# ---------------------------------------------------------------- config form
def config_form(ws: Workspace, fnode: FlowNode, spec: NodeSpec, io_role: str | None = None) -> None:
    fields = [f for f in form_fields(spec.config.model_json_schema()) if applies(f, fnode.config)]
    if io_role:   # the one name of an input/output node, first and clearly labelled
        fields = sorted(fields, key=lambda f: f.name != "name")
        fields = [FormField(**{**f.__dict__, "label": IO_NAME_LABEL[io_role], "help": IO_NAME_HELP[io_role]})
                  if f.name == "name" else f for f in fields]
    if not fields:
        return
    errors = config_errors(spec.config, fnode.config)
    main = [f for f in fields if essential(f) or errors.get(f.name)]
    advanced = [f for f in fields if f not in main]
    for field in main:
        _field(ws, fnode, field, spec, errors)
    if advanced:
        changed = sum(1 for f in advanced if f.name in fnode.config)
        with st.expander(f"Advanced ({len(advanced)})" + (f" · {changed} changed" if changed else "")):
            for field in advanced:
                _field(ws, fnode, field, spec, errors)
    for message in errors.get("", []):
        st.markdown(f":red[⚠ {plain(message)}]")
    extra = [k for k in errors if k and k not in {f.name for f in fields}]
    for name in extra:
        st.markdown(f":red[⚠ {plain(name)}: {plain('; '.join(errors[name]))}]")


def _field(ws: Workspace, fnode: FlowNode, field: FormField, spec: NodeSpec, errors: dict[str, list[str]]) -> None:
    parse_errors: dict[tuple[str, str], str] = st.session_state.setdefault(FIELD_ERRORS, {})
    _widget(ws, fnode.id, field, fnode.config.get(field.name, field.default), spec.config)
    for message in [parse_errors.get((fnode.id, field.name))] + errors.get(field.name, []):
        if message:
            st.markdown(f":red[⚠ {plain(message)}]")


def _widget(ws: Workspace, node_id: str, field: FormField, value: Any, model: type[BaseModel]) -> None:
    key = _key(ws, node_id, "cfg", field.name)
    shown = widget_value(field, value)
    common: dict[str, Any] = {"key": key, "help": field.help or None, "on_change": _apply_field,
                              "args": (ws, node_id, field, key, model)}
    label = field.label + (" *" if field.required else "")
    kind = field.kind
    if kind == "bool":
        st.checkbox(label, bool(shown), **common)
    elif kind == "select":
        options = list(field.options) if shown in field.options else [*field.options, shown]
        st.selectbox(label, options, index=options.index(shown), format_func=_option, **common)
    elif kind == "multiselect":
        st.multiselect(label, list(field.options), default=shown, **common)
    elif kind in ("integer", "number"):
        _number(label, field, shown, common)
    elif kind == "secret":
        st.text_input(label, shown, placeholder="ENV_VAR_NAME", **common)
        if shown:
            state = "is set" if os.environ.get(shown) else "is NOT set"
            st.caption(f"🔑 The variable `{shown}` {state} in the environment that runs chainloom. "
                       "Only its name is stored.")
    elif kind in ("prompt", "textarea", "list", "json"):
        # "content" grows with the text; a pixel height collapses inside the scrolling panel
        st.text_area(label, shown, height="content", **common)
        hint = {"prompt": "Variables in {braces} become input ports.", "list": "One item per line.",
                "json": "JSON" + (" or plain text" if field.loose else "") + "."}.get(kind)
        if hint:
            st.caption(hint)
    else:
        st.text_input(label, shown, max_chars=field.max_length if field.max_length and field.max_length <= 1000
                      else None, **common)


def _option(value: Any) -> str:
    return "—" if value is None else str(value)


def _number(label: str, field: FormField, shown: Any, common: dict[str, Any]) -> None:
    integer = field.kind == "integer"
    lo, hi = field.minimum, field.maximum
    inside = shown is None or ((lo is None or shown >= lo) and (hi is None or shown <= hi))
    kwargs: dict[str, Any] = {}
    if inside:   # a value outside its bounds (e.g. an imported file) must still show, with its error
        if lo is not None:
            kwargs["min_value"] = int(max(lo, -MAX_JS_INT)) if integer else float(lo)
        if hi is not None:
            kwargs["max_value"] = int(min(hi, MAX_JS_INT)) if integer else float(hi)
    if shown is not None:
        shown = int(shown) if integer else float(shown)
    if shown is None and not field.nullable:
        shown = kwargs.get("min_value", 0 if integer else 0.0)
    st.number_input(label, value=shown, step=1 if integer else 0.1, format=None if integer else "%g",
                    **kwargs, **common)


def _apply_field(ws: Workspace, node_id: str, field: FormField, key: str, model: type[BaseModel]) -> None:
    fnode = ws.flow.node(node_id)
    if fnode is None or key not in st.session_state:
        return   # a report from a form that is gone (another node, another flow) changes nothing
    errors: dict[tuple[str, str], str] = st.session_state.setdefault(FIELD_ERRORS, {})
    try:
        value = parse_widget(field, st.session_state.get(key))
    except FieldError as err:
        errors[(node_id, field.name)] = str(err)
        return
    errors.pop((node_id, field.name), None)
    ws.set_config(node_id, with_field(model, fnode.config, field, value))


# ---------------------------------------------------------------- policy
def _policy(ws: Workspace, fnode: FlowNode, spec: NodeSpec) -> None:
    policy = fnode.policy
    changed = policy != NodePolicy()
    with st.expander("Run policy (timeout, retries, errors)" + (" · customised" if changed else "")):
        def k(name: str) -> str:
            return _key(ws, fnode.id, "policy", name)

        st.number_input("Timeout (s, 0 = none)", value=float(policy.timeout or 0), min_value=0.0,
                        max_value=86_400.0, key=k("timeout"), on_change=_apply_policy, args=(ws, fnode.id))
        st.number_input("Retries", value=policy.retries, min_value=0, max_value=5, key=k("retries"),
                        disabled=spec.side_effects, on_change=_apply_policy, args=(ws, fnode.id),
                        help="Never for nodes with side effects")
        st.selectbox("On error", ["fail", "fallback"], index=["fail", "fallback"].index(policy.on_error),
                     key=k("on_error"), on_change=_apply_policy, args=(ws, fnode.id))
        st.checkbox("Allow cache", policy.cache, key=k("cache"), on_change=_apply_policy, args=(ws, fnode.id))


def _apply_policy(ws: Workspace, node_id: str) -> None:
    fnode = ws.flow.node(node_id)
    if fnode is None:
        return
    def get(name: str) -> Any:
        return st.session_state.get(_key(ws, node_id, "policy", name))

    values = fnode.policy.model_dump()
    values.update(timeout=get("timeout") or None, retries=int(get("retries") or 0),
                  on_error=get("on_error") or "fail", cache=bool(get("cache")))
    error = ws.set_policy(node_id, values)
    if error:
        ws.note("error", f"policy of '{node_id}': {error}")


# ---------------------------------------------------------------- tweakable
def _tweakable(ws: Workspace, fnode: FlowNode, spec: NodeSpec) -> None:
    """Which fields a caller may change for one run (API `tweaks`, `run --tweak`); none unless ticked.
    Fields that decide where data or credentials go are shown, disabled, with the reason."""
    marked = set(fnode.tweakable)
    with st.expander("Tweakable per run" + (f" · {len(marked)}" if marked else "")):
        st.caption("Ticked fields may be changed for a single run by the API's `tweaks`, "
                   "`chainloom run --tweak` or `chainloom.run(tweaks=...)`. Nothing else can be.")
        for name in spec.config.model_fields:
            kind = where_kind(spec.config, name)
            st.checkbox(name, name in marked and kind is None, key=_key(ws, fnode.id, "tweak", name),
                        disabled=kind is not None, on_change=_apply_tweakable, args=(ws, fnode.id, spec),
                        help=(f"Never tweakable: it decides where data or credentials go ({kind})"
                              if kind else "Allow callers to change this field for one run"))


def _apply_tweakable(ws: Workspace, node_id: str, spec: NodeSpec) -> None:
    fnode = ws.flow.node(node_id)
    if fnode is None:
        return
    chosen = [n for n in spec.config.model_fields if where_kind(spec.config, n) is None
              and st.session_state.get(_key(ws, node_id, "tweak", n))]
    if chosen != fnode.tweakable:
        ws.update_node(node_id, tweakable=chosen)


def _code_switch() -> None:
    """The code node says plainly when this machine does not allow it, and how to allow it."""
    from nodes.code import DISABLED, code_enabled  # noqa: PLC0415 - only when a code node is shown

    if not code_enabled():
        st.warning(DISABLED, icon=":material/block:")


# ---------------------------------------------------------------- problems
def problems(ws: Workspace, svc: Services) -> None:
    issues = ws.issues(svc.registry)
    if not issues:
        st.success("No problems: this flow can run.", icon=":material/check_circle:")
        return
    st.markdown(f"**{len(issues)} problem{'s' if len(issues) != 1 else ''}** — click one to select its node")
    for n, issue in enumerate(issues):
        text = issue.message + (f" — {issue.hint}" if issue.hint else "")
        if issue.node and ws.flow.node(issue.node) is not None:
            where = f"{issue.node}" + (f".{issue.port}" if issue.port else "")
            st.button(f"⚠ {plain(where)}: {plain(text)}", key=f"issue:{n}", on_click=_select,
                      args=(ws, issue.node), use_container_width=True)
        else:
            st.markdown(f"⚠ {plain(text)}")


def _select(ws: Workspace, node_id: str) -> None:
    ws.selected = node_id
    set_panel("Properties")
