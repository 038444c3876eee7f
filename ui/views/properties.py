"""The Properties and Problems panels: node forms, edge details, flow settings,
the port choice for an ambiguous connection, and the list of validation issues."""

from __future__ import annotations

import os
from typing import Any

import streamlit as st
from pydantic import BaseModel

from engine.flow import FlowNode, NodePolicy
from engine.node import NodeSpec
from ui import canvas
from ui.forms import FieldError, FormField, config_errors, form_fields, parse_widget, stored_config, widget_value
from ui.services import Services
from ui.views.common import plain, set_panel
from ui.workspace import Workspace

MAX_JS_INT = (1 << 53) - 1
FIELD_ERRORS = "field_errors"


def _key(ws: Workspace, *parts: str) -> str:
    return ":".join(["p", str(ws.canvas_gen), str(ws.form_gen), *parts])


# ---------------------------------------------------------------- pending connect
def pending_connect(ws: Workspace) -> None:
    pending = ws.pending
    if pending is None:
        return
    with st.container(border=True):
        st.markdown(f"**Connect `{pending.source}` → `{pending.target}`: which ports?**")
        labels = [desc for _, _, desc in pending.pairs]
        st.radio("Port pair", range(len(labels)), format_func=lambda i: labels[i], key="pending_pick",
                 label_visibility="collapsed")
        c1, c2 = st.columns(2)
        c1.button("Connect", key="pending_ok", type="primary", on_click=_choose, args=(ws,),
                  use_container_width=True)
        c2.button("Cancel", key="pending_cancel", on_click=_cancel_pending, args=(ws,), use_container_width=True)


def _choose(ws: Workspace) -> None:
    ws.choose(int(st.session_state.get("pending_pick") or 0))   # read now, not when drawn
    st.session_state.pop("pending_pick", None)


def _cancel_pending(ws: Workspace) -> None:
    ws.pending = None
    ws.force_push = True


# ---------------------------------------------------------------- properties
def properties(ws: Workspace, svc: Services) -> None:
    selected = ws.selected
    fnode = ws.flow.node(selected) if selected else None
    edge = next((e for e in ws.flow.edges if canvas.edge_id(e) == selected), None) if selected else None
    if fnode is not None:
        node_panel(ws, svc, fnode)
    elif edge is not None:
        st.markdown(f"#### Edge `{edge.source}` → `{edge.target}`")
        st.button("Delete edge", key="edge_delete", on_click=ws.delete_edge, args=(canvas.edge_id(edge),),
                  type="primary")
        _deselect_button(ws)
    else:
        flow_panel(ws)


def _deselect_button(ws: Workspace) -> None:
    st.button("Flow settings", key="deselect", on_click=_deselect, args=(ws,),
              help="Show the flow's own settings (name, id, description)")


def _deselect(ws: Workspace) -> None:
    ws.selected = None


def flow_panel(ws: Workspace) -> None:
    st.markdown("#### Flow settings")
    st.caption("Click a node on the canvas to edit it; add nodes from the palette on the left.")
    flow = ws.flow
    st.text_input("Name", flow.name, key=_key(ws, "flow", "name"), on_change=_flow_info, args=(ws, "name"))
    st.text_input("Id", flow.id, key=_key(ws, "flow", "id"), on_change=_flow_info, args=(ws, "flow_id"),
                  help="Saved flows are stored under this id; a new id saves as a new flow")
    st.text_area("Description", flow.description, key=_key(ws, "flow", "description"), on_change=_flow_info,
                 args=(ws, "description"))
    st.caption(f"{len(flow.nodes)} nodes · {len(flow.edges)} edges")


def _flow_info(ws: Workspace, what: str) -> None:
    value = st.session_state.get(_key(ws, "flow", "id" if what == "flow_id" else what), "")
    error = ws.set_flow_info(**{what: value})
    if error:
        ws.note("error", error)


def node_panel(ws: Workspace, svc: Services, fnode: FlowNode) -> None:
    spec = svc.registry.get(fnode.type) if fnode.type in svc.registry else None
    st.markdown(f"#### {plain(fnode.name or (spec.title if spec else fnode.id))}")
    st.caption(f"`{fnode.type}` v{fnode.version}" + (f" — {spec.description}" if spec else " — unknown type"))
    c1, c2 = st.columns(2)
    c1.text_input("Name", fnode.name, key=_key(ws, fnode.id, "name"), on_change=_rename, args=(ws, fnode.id),
                  placeholder=spec.title if spec else "", help="The label shown on the canvas")
    c2.text_input("Id", fnode.id, key=_key(ws, fnode.id, "id"), on_change=_change_id, args=(ws, fnode.id),
                  help="Edges refer to this id; changing it rewrites them")
    _connections(ws, svc, fnode, spec)
    if spec is not None:
        config_form(ws, fnode, spec)
        _policy(ws, fnode, spec)
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
    ins, outs = canvas.safe_ports(spec, fnode.config, fnode.version)
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
            st.button(f"Delete edge {e.source} → {e.target}", key=f"del_edge:{canvas.edge_id(e)}",
                      on_click=ws.delete_edge, args=(canvas.edge_id(e),))


# ---------------------------------------------------------------- config form
def config_form(ws: Workspace, fnode: FlowNode, spec: NodeSpec) -> None:
    fields = form_fields(spec.config.model_json_schema())
    if not fields:
        return
    errors = config_errors(spec.config, fnode.config)
    parse_errors: dict[tuple[str, str], str] = st.session_state.setdefault(FIELD_ERRORS, {})
    st.markdown("**Configuration**")
    for field in fields:
        value = fnode.config.get(field.name, field.default)
        _widget(ws, fnode.id, field, value, spec.config)
        for message in [parse_errors.get((fnode.id, field.name))] + errors.get(field.name, []):
            if message:
                st.markdown(f":red[⚠ {plain(message)}]")
    for message in errors.get("", []):
        st.markdown(f":red[⚠ {plain(message)}]")
    extra = [k for k in errors if k and k not in {f.name for f in fields}]
    for name in extra:
        st.markdown(f":red[⚠ {plain(name)}: {plain('; '.join(errors[name]))}]")


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
    if fnode is None:
        return
    errors: dict[tuple[str, str], str] = st.session_state.setdefault(FIELD_ERRORS, {})
    try:
        value = parse_widget(field, st.session_state.get(key))
    except FieldError as err:
        errors[(node_id, field.name)] = str(err)
        return
    errors.pop((node_id, field.name), None)
    ws.set_config(node_id, stored_config(model, {**fnode.config, field.name: value}))


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


# ---------------------------------------------------------------- problems
def problems(ws: Workspace, svc: Services) -> None:
    issues = ws.issues(svc.registry)
    if not issues:
        st.success("No problems: this flow can run.", icon="✅")
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
    ws.force_push = True   # a selection made outside the canvas must be drawn there
    set_panel("Properties")
