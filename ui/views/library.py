"""The node palette (sidebar) and the flow library (the Flows panel: new, open,
examples, import, export, duplicate, delete, versions). Every button acts through a
callback."""

from __future__ import annotations

import streamlit as st

from engine.errors import ChainloomError, FlowExists, StaleVersion
from engine.flow import Flow
from ui.services import Services, examples, export_text, free_flow_id, read_import
from ui.views.common import plain, set_panel, short
from ui.workspace import Workspace, blank_flow

IMPORT_KEY = "import_file"


# ---------------------------------------------------------------- palette
def palette(ws: Workspace, svc: Services) -> None:
    query = st.text_input("Search nodes", key="palette_q", placeholder="prompt, chat, json…").strip().lower()
    shown = 0
    for family, specs in svc.registry.families().items():
        hits = [s for s in specs if not query or query in f"{s.type} {s.title} {s.description}".lower()]
        if not hits:
            continue
        with st.expander(f"{family} ({len(hits)})", expanded=bool(query) or len(svc.registry) <= 12):
            for spec in hits:
                shown += 1
                st.button(f"+ {spec.title}", key=f"add:{spec.type}", help=f"`{spec.type}` — {spec.description}",
                          on_click=_add, args=(ws, svc, spec.type), use_container_width=True)
                st.caption(short(spec.description, 90))
    if not shown:
        st.caption(f"No node matches '{plain(query)}'.")


def _add(ws: Workspace, svc: Services, type_id: str) -> None:
    node_id = ws.add_node(svc.registry.get(type_id))
    ws.note("success", f"added '{node_id}' ({type_id}); connect it by dragging from a handle")
    set_panel("Properties")


# ---------------------------------------------------------------- library
def library(ws: Workspace, svc: Services) -> None:
    c1, c2 = st.columns(2)
    c1.button("New flow", key="lib_new", on_click=_new, args=(ws,), use_container_width=True)
    c2.button("Duplicate", key="lib_dup", on_click=_duplicate, args=(ws, svc), use_container_width=True,
              help="Make an unsaved copy with a new id")
    _open_saved(ws, svc)
    _open_example(ws)
    _import(ws, svc)
    # The file is made when the button is clicked, from the flow as it is then.
    st.download_button("Export JSON", lambda: export_text(ws.flow), file_name=f"{ws.flow.id}.json",
                       mime="application/json", key="lib_export", use_container_width=True,
                       help="The canonical flow file; secrets are variable names only")
    _versions(ws, svc)
    _delete(ws, svc)


def _new(ws: Workspace) -> None:
    ws.load(blank_flow(), version=None, source="new")
    ws.note("info", "new empty flow: add nodes from the palette")


def _duplicate(ws: Workspace, svc: Services) -> None:
    new_id = free_flow_id(f"{ws.flow.id[:56]}_copy", svc.store)
    copy = ws.flow.model_copy(update={"id": new_id, "name": f"Copy of {ws.flow.name or ws.flow.id}"[:200]})
    ws.load(copy, version=None, source="new")
    ws.note("info", f"this is an unsaved copy with the id '{new_id}'; save it to keep it")


def _open_saved(ws: Workspace, svc: Services) -> None:
    records = svc.store.list_flows()
    if not records:
        st.caption("No saved flows yet.")
        return
    labels = {r.id: f"{r.name or r.id} · {r.id} · v{r.latest_version}" for r in records}
    st.selectbox("Saved flows", list(labels), format_func=lambda i: labels.get(i, i), key="lib_saved")
    st.button("Open saved flow", key="lib_open", on_click=_open_selected, args=(ws, svc),
              use_container_width=True)


def _open_selected(ws: Workspace, svc: Services) -> None:
    # Read the selection now: the button's args were fixed when it was drawn, and the
    # user may have changed the select box since (a rerun still on its way).
    _load_saved(ws, svc, st.session_state.get("lib_saved"))


def _load_saved(ws: Workspace, svc: Services, flow_id: str | None, version: int | None = None) -> None:
    if not flow_id:
        return
    try:
        flow, got = svc.store.get_flow(flow_id, version)
        latest = svc.store.get_flow(flow_id)[1] if version is not None else got
    except ChainloomError as err:
        ws.note("error", str(err))
        return
    ws.load(flow, version=latest, source="saved")
    if version is not None and got != latest:
        ws.saved_text = None
        ws.note("info", f"opened version {got} of '{flow_id}'; saving it makes version {latest + 1}")
    else:
        ws.note("success", f"opened '{flow_id}' version {got}")


def _open_example(ws: Workspace) -> None:
    found = [e for e in examples() if e.flow is not None]
    if not found:
        st.caption("No example flows found.")
        return
    names = {str(e.path): e for e in found}
    choice = st.selectbox("Examples", list(names), format_func=lambda p: names[p].title, key="lib_example",
                          help="Example flows shipped in flows/")
    chosen = names[choice].flow if choice else None
    desc = chosen.description if chosen is not None else ""
    if desc:
        st.caption(short(desc, 140))
    st.button("Open example", key="lib_open_example", on_click=_open_example_selected, args=(ws,),
              use_container_width=True)


def _open_example_selected(ws: Workspace) -> None:
    path = st.session_state.get("lib_example")
    found = next((e for e in examples() if str(e.path) == path), None)
    _load_example(ws, found.flow if found else None)


def _load_example(ws: Workspace, flow: Flow | None) -> None:
    if flow is None:
        return
    ws.load(flow, version=None, source="example")
    ws.note("success", f"opened the example '{flow.name or flow.id}'; save it to keep your changes")


def _import(ws: Workspace, svc: Services) -> None:
    upload = st.file_uploader("Import a flow file", type=["json"], key=IMPORT_KEY,
                              help="Checked for problems; nothing runs and nothing is saved")
    if upload is None:
        return
    result = read_import(upload.getvalue(), svc.registry, upload.name)
    if result.flow is None:
        st.error(f"Cannot import {plain(upload.name)}: {len(result.problems)} problem(s)", icon="🚫")
        for problem in result.problems:
            st.markdown(f"- {plain(problem)}")
        return
    if result.problems:
        st.warning(f"{plain(upload.name)} has {len(result.problems)} problem(s); you can open it to fix them",
                   icon="⚠️")
        for problem in result.problems:
            st.markdown(f"- {plain(problem)}")
    else:
        st.success(f"{plain(upload.name)} is a valid flow", icon="✅")
    st.button("Open imported flow", key="lib_open_import", on_click=_load_import,
              args=(ws, result.flow), use_container_width=True)


def _load_import(ws: Workspace, flow: Flow) -> None:
    ws.load(flow, version=None, source="import")
    st.session_state.pop(IMPORT_KEY, None)
    ws.note("info", f"imported '{flow.id}' (not saved yet)")


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
    _load_saved(ws, svc, ws.flow.id, st.session_state.get("lib_version"))


def _delete(ws: Workspace, svc: Services) -> None:
    if ws.version is None:
        return
    if not st.session_state.get("confirm_delete"):
        st.button("Delete saved flow…", key="lib_delete", on_click=_ask_delete, use_container_width=True)
        return
    st.warning(f"Delete '{ws.flow.id}' and all its versions? Its recorded runs stay.", icon="⚠️")
    c1, c2 = st.columns(2)
    c1.button("Delete for good", key="lib_delete_yes", type="primary", on_click=_delete_now,
              args=(ws, svc), use_container_width=True)
    c2.button("Cancel", key="lib_delete_no", on_click=_cancel_delete, use_container_width=True)


def _ask_delete() -> None:
    st.session_state["confirm_delete"] = True


def _cancel_delete() -> None:
    st.session_state["confirm_delete"] = False


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


# ---------------------------------------------------------------- deep links
def open_from_query(ws: Workspace, svc: Services) -> None:
    """Once per browser session: `?flow=ID[&version=N]` opens a saved flow, `?example=NAME`
    an example (by file name without .json)."""
    if st.session_state.get("query_opened"):
        return
    st.session_state["query_opened"] = True
    params = st.query_params
    if params.get("flow"):
        version = params.get("version")
        _load_saved(ws, svc, params["flow"], int(version) if version and version.isdigit() else None)
    elif params.get("example"):
        found = {e.path.stem: e for e in examples()}
        example = found.get(params["example"])
        if example is None or example.flow is None:
            ws.note("error", f"no example called '{params['example']}'; examples: {', '.join(found) or 'none'}")
        else:
            _load_example(ws, example.flow)


# ---------------------------------------------------------------- save
def save(ws: Workspace, svc: Services) -> None:
    """Save the working copy as a new version; a stale base is refused, never overwritten."""
    problems = len(ws.issues(svc.registry))
    try:
        version = svc.store.save_flow(ws.flow, ws.version)
    except FlowExists as err:
        ws.note("error", f"Not saved: {err.message}. Give this flow another id under Properties "
                         f"(click the empty canvas), or open the saved one from the library.")
        return
    except StaleVersion as err:
        ws.note("error", f"Not saved: {err.message}. Someone saved a newer version; open it from the "
                         f"library and re-apply your change, or duplicate this flow to keep both.")
        return
    except ChainloomError as err:
        ws.note("error", f"Not saved: {err}")
        return
    ws.mark_saved(version)
    extra = f" (with {problems} problem(s) left to fix before it can run)" if problems else ""
    ws.note("success", f"saved '{ws.flow.id}' as version {version}{extra}")
