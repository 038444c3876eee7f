"""The editor: the flow's header, the canvas component and the side panel.

Each rerun first applies the canvas batches Python has not applied yet (see
ui/canvas_component/PROTOCOL.md: all or nothing, acknowledged even when refused),
then draws. The component is given a new `revision` only when the graph Python
would draw changed, so pan, zoom, drag and selection stay in the browser. A click
on a node opens its form whichever panel was showing; its outputs button opens the
Run panel on that node.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import streamlit as st

from engine.registry import Registry
from ui.canvas_component import canvas, unapplied
from ui.canvas_component.graph import catalog_args, compat_args
from ui.services import Services, gallery
from ui.views.chat import chat_panel
from ui.views.common import (
    CANVAS_KEY,
    PANELS,
    keeper,
    panel,
    panel_clicked,
    panel_widget_key,
    plain,
    set_panel,
    show_notices,
)
from ui.views.library import PENDING_OPEN, library, request_open, save, sync_query
from ui.views.properties import problems, properties
from ui.views.runs import LIVE_KEY, history_panel, is_live, keep_polling, run_panel, statuses
from ui.views.use import use_panel
from ui.workspace import Workspace

PAGE_RUN = "page_run"    # True while the whole page (not only the editor fragment) is running
DIALOG_SHOWN = "dialog_shown"   # the last page run opened the unsaved-changes dialog
CANVAS_HEIGHT = 760
PANEL_HEIGHT = 700


_CATALOGS: dict[int, tuple[Registry, list[dict[str, Any]]]] = {}


def _catalog(registry: Registry) -> list[dict[str, Any]]:
    """The palette's catalog, built once per registry (the registry is kept so its id stays its own)."""
    if id(registry) not in _CATALOGS:
        _CATALOGS[id(registry)] = (registry, catalog_args(registry))
    return _CATALOGS[id(registry)][1]


@cache
def _compat() -> dict[str, list[str]]:
    return compat_args()


def editor(ws: Workspace, svc: Services, *, in_fragment: bool) -> None:
    """Everything that changes while editing one flow (run as a fragment when `in_fragment`)."""
    take_canvas_batches(ws, svc)
    _dialog_bookkeeping()
    if is_live(ws) and (ws.run is None or ws.run.snapshot().finished):
        st.session_state[LIVE_KEY] = False   # this rerun draws the result; polling stops
    header(ws, svc)
    left, right = st.columns([7, 3], gap="small")
    with left:
        draw_canvas(ws, svc)
    with right:
        show_notices(ws)
        side_panel(ws, svc)
    keeper(svc).keep(ws)
    sync_query(ws)
    keep_polling(ws, in_fragment=in_fragment)


def _dialog_bookkeeping() -> None:
    """The unsaved-changes dialog is opened by the full page: rerun it when an open was
    asked for after the page's check; a dialog dismissed with its ✕ asks no more."""
    pending, shown = st.session_state.get(PENDING_OPEN), st.session_state.get(DIALOG_SHOWN)
    if pending and not shown:
        st.rerun(scope="app")
    if pending and shown and not st.session_state.get(PAGE_RUN):
        st.session_state.pop(PENDING_OPEN, None)
    st.session_state[PAGE_RUN] = False


# ---------------------------------------------------------------- canvas
def take_canvas_batches(ws: Workspace, svc: Services) -> None:
    """Apply what the user did on the canvas since the last rerun, oldest batch first."""
    for batch in unapplied(st.session_state.get(CANVAS_KEY), ws.ack):
        applied = ws.apply_batch(batch.seq, batch.ops, svc.registry)
        if applied is None:
            continue
        if applied.selection_changed and applied.selected:
            set_panel("Run" if applied.panel == "outputs" else "Properties")
        for name, arg in applied.actions:
            _action(ws, svc, name, arg)


def _action(ws: Workspace, svc: Services, name: str, arg: Any) -> None:
    if name == "save":
        save(ws, svc)
    elif name == "open_example" and isinstance(arg, str):
        request_open(ws, svc, {"kind": "example", "id": arg})
    elif name == "new":
        request_open(ws, svc, {"kind": "new"})
    elif name == "run":
        set_panel("Run")


def draw_canvas(ws: Workspace, svc: Services) -> None:
    graph, revision = ws.canvas_graph(svc.registry)
    canvas(graph=graph, revision=revision, ack=ws.ack, catalog=_catalog(svc.registry),
           compat=_compat(), statuses=statuses(ws), selected=ws.selected,
           examples=gallery() if not ws.flow.nodes else [], options={"height": CANVAS_HEIGHT},
           notice=ws.toast, key=CANVAS_KEY)


# ---------------------------------------------------------------- header
def _save(ws: Workspace, svc: Services) -> None:
    save(ws, svc)   # a button callback returns nothing (save's bool is for the Ctrl+S path)


def header(ws: Workspace, svc: Services) -> None:
    issues = ws.issues(svc.registry)
    title, save_col, new_col = st.columns([8, 1, 1], vertical_alignment="bottom")
    with title:
        st.markdown(f"### {plain(ws.flow.name or ws.flow.id)}")
        if ws.version is None:
            state = "never saved" if ws.source in ("new", "draft") else f"from {ws.source}, not saved"
        else:
            state = f"version {ws.version}" + (" · unsaved changes" if ws.dirty else " · saved")
        check = "empty" if not ws.flow.nodes else f"⚠ {len(issues)} problem(s)" if issues else "✓ valid"
        st.caption(f"`{ws.flow.id}` · {state} · {check} · {len(ws.flow.nodes)} nodes")
    save_col.button("Save", key="save", on_click=_save, args=(ws, svc), type="primary", use_container_width=True,
                    help="Save as a new version (Ctrl+S on the canvas); a stale version is refused, not overwritten")
    new_col.button("New", key="new_flow", on_click=request_open, args=(ws, svc, {"kind": "new"}),
                   use_container_width=True, help="Start a new empty flow (asks first if there are unsaved changes)")


# ---------------------------------------------------------------- side panel
def side_panel(ws: Workspace, svc: Services) -> None:
    counts = {"Problems": len(ws.issues(svc.registry)) if ws.flow.nodes else 0}
    key = panel_widget_key()
    st.segmented_control("Panel", PANELS, key=key, default=panel(), required=True, label_visibility="collapsed",
                         format_func=lambda p: f"{p} ({counts[p]})" if counts.get(p) else p,
                         on_change=panel_clicked, args=(key,))
    with st.container(height=PANEL_HEIGHT, border=False, key="side_panel"):   # scrolls; the canvas stays
        panel_body(ws, svc, panel())


def panel_body(ws: Workspace, svc: Services, current: str) -> None:
    views = {"Properties": properties, "Run": run_panel, "Chat": chat_panel, "Problems": problems,
             "History": history_panel, "Flows": library, "Use": use_panel}
    views.get(current, properties)(ws, svc)
