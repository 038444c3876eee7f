"""The Flows panel (new, open, examples, import, export, duplicate, delete, versions),
opening a flow without losing work (a dialog asks first when there are unsaved
changes; a flow with a draft in this browser opens with the draft), the `?flow=`
link, and saving."""

from __future__ import annotations

from typing import Any

import streamlit as st

from engine.errors import ChainloomError, FlowExists, FlowLoadError, StaleVersion
from engine.flow import dumps_flow, parse_flow
from engine.validate import saving_issues
from ui.canvas_component import unapplied
from ui.services import Services, examples, export_text, find_example, read_import
from ui.views.common import CANVAS_KEY, keeper, plain, short
from ui.workspace import Workspace, blank_flow, unique_flow_id

IMPORT_KEY = "import_file"
PENDING_OPEN = "pending_open"     # a target waiting for the user's answer in the dialog
Target = dict[str, Any]           # {"kind": new|saved|example|import|duplicate, ...}


# ---------------------------------------------------------------- opening
def request_open(ws: Workspace, svc: Services, target: Target) -> None:
    """Open `target` now, or ask first (a dialog) when the working copy has unsaved changes."""
    if ws.dirty:
        st.session_state[PENDING_OPEN] = target
        return
    open_target(ws, svc, target)


def open_target(ws: Workspace, svc: Services, target: Target) -> None:
    kind = target.get("kind")
    if kind == "new":
        name = "Untitled flow"
        ws.load(blank_flow(unique_flow_id(name, saved_ids(svc)), name), version=None, source="new")
        ws.note("info", "a new empty flow: drag nodes from the palette, or start from a card")
    elif kind == "saved":
        _open_saved(ws, svc, str(target["id"]), target.get("version"))
    elif kind == "example":
        found = find_example(str(target["id"]))
        if found is None or found.flow is None:
            ws.note("error", f"no example or template called '{target['id']}'")
            return
        ws.load(found.flow, version=None, source="template" if found.key.startswith("template:") else "example")
        ws.note("success", f"opened '{found.title}'; save it to keep your changes")
    elif kind == "import":
        ws.load(parse_flow(str(target["text"])), version=None, source="import")
        st.session_state.pop(IMPORT_KEY, None)
        ws.note("info", f"imported '{ws.flow.id}' (not saved yet)")
    elif kind == "duplicate":
        flow = parse_flow(str(target["text"]))
        new_id = unique_flow_id(f"{flow.name or flow.id} copy", saved_ids(svc))
        ws.load(flow.model_copy(update={"id": new_id, "name": f"Copy of {flow.name or flow.id}"[:200]}),
                version=None, source="new")
        ws.note("info", f"this is an unsaved copy with the id '{new_id}'; save it to keep it")
    skip_stale_batches(ws)


def skip_stale_batches(ws: Workspace) -> None:
    """Batches the canvas sent about the flow just replaced must not touch the new one."""
    for batch in unapplied(st.session_state.get(CANVAS_KEY), ws.ack):
        ws.ack = max(ws.ack, batch.seq)


def _open_saved(ws: Workspace, svc: Services, flow_id: str, version: int | None = None) -> None:
    if version is None and keeper(svc).restore(ws, flow_id):
        ws.note("info", f"restored your unsaved changes to '{flow_id}' (a draft kept in this browser)")
        return
    try:
        flow, got = svc.store.get_flow(flow_id, version)
        latest = svc.store.get_flow(flow_id)[1] if version is not None else got
    except ChainloomError as err:
        ws.note("error", str(err))
        return
    if version is not None and got != latest:
        ws.load(flow, version=latest, source="saved", saved_text=dumps_flow(svc.store.get_flow(flow_id)[0]))
        ws.note("info", f"opened version {got} of '{flow_id}'; saving it makes version {latest + 1}")
    else:
        ws.load(flow, version=got, source="saved")
        ws.note("success", f"opened '{flow_id}' version {got}")


def saved_ids(svc: Services) -> set[str]:
    return {f.id for f in svc.store.list_flows()}


@st.dialog("Unsaved changes")
def confirm_open(ws: Workspace, svc: Services) -> None:
    target = st.session_state.get(PENDING_OPEN)
    if not target:
        return
    st.markdown(f"**{plain(ws.flow.name or ws.flow.id)}** has changes that are not saved. "
                "Save them before opening another flow?")
    c1, c2, c3 = st.columns(3)
    if c1.button("Save, then open", type="primary", key="confirm_save", use_container_width=True):
        st.session_state.pop(PENDING_OPEN, None)
        if save(ws, svc):
            open_target(ws, svc, target)
        st.rerun()
    if c2.button("Discard changes", key="confirm_discard", use_container_width=True):
        st.session_state.pop(PENDING_OPEN, None)
        keeper(svc).discard(ws.flow.id)
        open_target(ws, svc, target)
        st.rerun()
    if c3.button("Cancel", key="confirm_cancel", use_container_width=True):
        st.session_state.pop(PENDING_OPEN, None)
        st.rerun()


# ---------------------------------------------------------------- the Flows panel
def library(ws: Workspace, svc: Services) -> None:
    c1, c2 = st.columns(2)
    c1.button("New flow", key="lib_new", on_click=request_open, args=(ws, svc, {"kind": "new"}),
              use_container_width=True)
    c2.button("Duplicate", key="lib_dup", on_click=_duplicate, args=(ws, svc), use_container_width=True,
              help="Make an unsaved copy with a new id")
    _saved_list(ws, svc)
    _example_list(ws, svc)
    _import(ws, svc)
    # The file is made when the button is clicked, from the flow as it is then.
    st.download_button("Export JSON", lambda: export_text(ws.flow), file_name=f"{ws.flow.id}.json",
                       mime="application/json", key="lib_export", use_container_width=True,
                       help="The canonical flow file; secrets are variable names only")
    _versions(ws, svc)
    _delete(ws, svc)


def _duplicate(ws: Workspace, svc: Services) -> None:
    request_open(ws, svc, {"kind": "duplicate", "text": dumps_flow(ws.flow)})


def _saved_list(ws: Workspace, svc: Services) -> None:
    records = svc.store.list_flows()
    if not records:
        st.caption("No saved flows yet.")
        return
    labels = {r.id: f"{r.name or r.id} · {r.id} · v{r.latest_version}" for r in records}
    st.selectbox("Saved flows", list(labels), format_func=lambda i: labels.get(i, i), key="lib_saved")
    st.button("Open saved flow", key="lib_open", on_click=_open_selected, args=(ws, svc),
              use_container_width=True)


def _open_selected(ws: Workspace, svc: Services) -> None:
    flow_id = st.session_state.get("lib_saved")
    if flow_id:
        request_open(ws, svc, {"kind": "saved", "id": flow_id})


def _example_list(ws: Workspace, svc: Services) -> None:
    found = {e.key: e for e in examples() if e.flow is not None}
    if not found:
        st.caption("No example flows found.")
        return
    choice = st.selectbox("Examples", list(found), format_func=lambda k: found[k].title, key="lib_example",
                          help="Example flows shipped with chainloom")
    chosen = found[choice].flow if choice in found else None
    if chosen is not None and chosen.description:
        st.caption(short(chosen.description, 140))
    st.button("Open example", key="lib_open_example", on_click=_open_example_selected, args=(ws, svc),
              use_container_width=True)


def _open_example_selected(ws: Workspace, svc: Services) -> None:
    key = st.session_state.get("lib_example")
    if key:
        request_open(ws, svc, {"kind": "example", "id": key})


def _import(ws: Workspace, svc: Services) -> None:
    upload = st.file_uploader("Import a flow file", type=["json"], key=IMPORT_KEY,
                              help="Checked for problems; nothing runs and nothing is saved")
    if upload is None:
        return
    result = read_import(upload.getvalue(), svc.registry, upload.name)
    if result.flow is None:
        st.error(f"Cannot import {plain(upload.name)}: {len(result.problems)} problem(s)", icon=":material/block:")
        for problem in result.problems:
            st.markdown(f"- {plain(problem)}")
        return
    if result.problems:
        st.warning(f"{plain(upload.name)} has {len(result.problems)} problem(s); you can open it to fix them",
                   icon=":material/warning:")
        for problem in result.problems:
            st.markdown(f"- {plain(problem)}")
    else:
        st.success(f"{plain(upload.name)} is a valid flow", icon=":material/check_circle:")
    st.button("Open imported flow", key="lib_open_import", on_click=request_open,
              args=(ws, svc, {"kind": "import", "text": dumps_flow(result.flow)}), use_container_width=True)


def _versions(ws: Workspace, svc: Services) -> None:
    if ws.version is None:
        return
    try:
        versions = svc.store.flow_versions(ws.flow.id)
    except ChainloomError:
        return
    if len(versions) < 2:
        return
    labels = {v.version: f"v{v.version} · {v.created_at:%Y-%m-%d %H:%M}" + (f" · {v.message}" if v.message else "")
              for v in reversed(versions)}
    st.selectbox("Versions", list(labels), format_func=lambda v: labels.get(v, str(v)), key="lib_version")
    st.button("Open this version", key="lib_open_version", on_click=_open_version, args=(ws, svc),
              use_container_width=True)


def _open_version(ws: Workspace, svc: Services) -> None:
    request_open(ws, svc, {"kind": "saved", "id": ws.flow.id, "version": st.session_state.get("lib_version")})


def _delete(ws: Workspace, svc: Services) -> None:
    if ws.version is None:
        return
    if not st.session_state.get("confirm_delete"):
        st.button("Delete saved flow…", key="lib_delete", on_click=_set_confirm, args=(True,),
                  use_container_width=True)
        return
    st.warning(f"Delete '{ws.flow.id}' and all its versions? Its recorded runs stay.", icon=":material/warning:")
    c1, c2 = st.columns(2)
    c1.button("Delete for good", key="lib_delete_yes", type="primary", on_click=_delete_now,
              args=(ws, svc), use_container_width=True)
    c2.button("Cancel", key="lib_delete_no", on_click=_set_confirm, args=(False,), use_container_width=True)


def _set_confirm(value: bool) -> None:
    st.session_state["confirm_delete"] = value


def _delete_now(ws: Workspace, svc: Services) -> None:
    st.session_state["confirm_delete"] = False
    flow_id = ws.flow.id
    try:
        svc.store.delete_flow(flow_id)
    except ChainloomError as err:
        ws.note("error", str(err))
        return
    ws.version, ws.saved_text, ws.source = None, None, "new"
    ws.note("success", f"deleted the saved flow '{flow_id}'; the canvas keeps an unsaved copy")


# ---------------------------------------------------------------- links
def open_from_query(ws: Workspace, svc: Services) -> None:
    """Once per browser session: `?flow=ID[&version=N]` opens that flow (with this browser's
    draft of it, if any), `?example=NAME` an example or template; else a new flow."""
    if st.session_state.get("query_opened"):
        return
    st.session_state["query_opened"] = True
    params = st.query_params
    flow_id, example = params.get("flow"), params.get("example")
    if example:
        open_target(ws, svc, {"kind": "example", "id": example})
        if ws.source not in ("example", "template"):
            names = ", ".join(e.key for e in examples())
            ws.note("error", f"no example called '{example}'; examples: {names or 'none'}")
        st.query_params.pop("example", None)
    elif flow_id:
        version = params.get("version")
        if version and version.isdigit():
            _open_saved(ws, svc, flow_id, int(version))
        elif keeper(svc).restore(ws, flow_id):
            ws.note("info", f"restored your unsaved changes to '{flow_id}'")
        else:
            _open_saved(ws, svc, flow_id)
    if ws.version is None and ws.source == "new" and not ws.flow.nodes:
        notices = ws.notices
        open_target(ws, svc, {"kind": "new"})
        ws.notices = notices   # a bad link's error stays; the "new flow" hint is not needed


def sync_query(ws: Workspace) -> None:
    """The address bar names the flow being edited, so reload and links land on it."""
    if st.query_params.get("flow") != ws.flow.id:
        st.query_params["flow"] = ws.flow.id
    if "version" in st.query_params:
        st.query_params.pop("version", None)


# ---------------------------------------------------------------- save
def save(ws: Workspace, svc: Services) -> bool:
    """Save the working copy as a new version; a stale base is refused, never overwritten.

    A never-saved flow whose id is already taken gets a free id from its name first
    (`my-flow-2`), so a second new flow is saved, not refused. The flow passes the same
    gate as every other way of storing one (engine.validate.saving_issues)."""
    problems = saving_issues(ws.flow, svc.registry)
    if problems:
        ws.note("error", f"Not saved: the flow has {len(problems)} problem(s); the first: {problems[0]}. "
                         "Fix them (they are marked on the canvas) and save again.")
        return False
    if ws.version is None and ws.flow.id in saved_ids(svc):
        old = ws.flow.id
        new = unique_flow_id(ws.flow.name or ws.flow.id, saved_ids(svc))
        ws.flow = ws.flow.model_copy(update={"id": new})
        ws.note("info", f"'{old}' is taken by a saved flow, so this one is saved as '{new}'")
    try:
        version = svc.store.save_flow(ws.flow, ws.version)
    except FlowExists as err:
        ws.note("error", f"Not saved: {err.message}. Give this flow another id under Properties "
                         f"(click the empty canvas), or open the saved one under Flows.")
        return False
    except StaleVersion as err:
        ws.note("error", f"Not saved: {err.message}. Someone saved a newer version; open it under Flows "
                         f"and re-apply your change, or duplicate this flow to keep both.")
        return False
    except (ChainloomError, FlowLoadError) as err:
        ws.note("error", f"Not saved: {err}")
        return False
    ws.mark_saved(version)
    ws.note("success", f"saved '{ws.flow.id}' as version {version}")
    return True

