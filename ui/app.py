"""chainloom's visual builder: the Streamlit entry point (`chainloom ui` runs this file).

Layout: the sidebar holds the node palette; the main area holds the flow's header
(name, version, Save, Undo), the canvas and a side panel (Properties, Run, Chat,
Problems, History, Flows: the library). Every interaction reruns the whole script
(about 40 ms of Python at 100 nodes); while a run is live the page reruns itself
every few tenths of a second to show statuses and streamed tokens. No fragments:
with the canvas component's own follow-up reruns, fragment reruns in this Streamlit
raced with full ones and could drop the state of the fragment's widgets.
"""

from __future__ import annotations

import time

import streamlit as st
from streamlit_flow import streamlit_flow

from ui.services import Services
from ui.views.chat import chat_panel
from ui.views.common import (
    PANELS,
    canvas_key,
    panel,
    panel_clicked,
    panel_widget_key,
    plain,
    services,
    show_notices,
    take_canvas_event,
    workspace,
)
from ui.views.library import library, open_from_query, palette, save
from ui.views.properties import pending_connect, problems, properties
from ui.views.runs import LIVE_KEY, history_panel, is_live, keep_polling, run_panel
from ui.workspace import Workspace

CANVAS_HEIGHT = 640
PANEL_HEIGHT = 600
FIT_WINDOW = 3.0        # seconds after opening a flow during which the canvas fits its view


# A scrolling container shrinks its children to fit (text areas collapse to nothing);
# this static rule keeps every element at its natural height so the panel scrolls.
PAGE_CSS = """<style>
.st-key-side_panel [data-testid="stElementContainer"],
.st-key-side_panel [data-testid="stVerticalBlock"] > div { flex-shrink: 0; }
</style>"""


def main() -> None:
    st.set_page_config(page_title="chainloom", page_icon="🧶", layout="wide")
    st.markdown(PAGE_CSS, unsafe_allow_html=True)
    svc = services()
    ws = workspace()
    open_from_query(ws, svc)
    take_canvas_event(ws, svc)
    with st.sidebar:
        st.markdown("## 🧶 chainloom")
        st.caption("Add nodes to the canvas; open, save and export flows under **Flows** on the right.")
        palette(ws, svc)
    main_area(ws, svc)


def main_area(ws: Workspace, svc: Services) -> None:
    if is_live(ws) and (ws.run is None or ws.run.snapshot().finished):
        st.session_state[LIVE_KEY] = False   # this run draws the result; polling stops
    header(ws, svc)
    left, right = st.columns([11, 8], gap="medium")
    with left:
        draw_canvas(ws, svc)
    with right:
        show_notices(ws)
        pending_connect(ws)
        side_panel(ws, svc)
    keep_polling(ws)


def header(ws: Workspace, svc: Services) -> None:
    issues = ws.issues(svc.registry)
    title, save_col, undo_col = st.columns([6, 1, 1], vertical_alignment="bottom")
    with title:
        st.markdown(f"### {plain(ws.flow.name or ws.flow.id)}")
        if ws.version is None:
            state = "never saved" if ws.source == "new" else f"from {ws.source}, not saved"
        else:
            state = f"version {ws.version}" + (" · unsaved changes" if ws.dirty else " · saved")
        check = f"⚠️ {len(issues)} problem(s)" if issues else "✅ valid"
        st.caption(f"`{ws.flow.id}` · {state} · {check} · {len(ws.flow.nodes)} nodes")
    save_col.button("💾 Save", key="save", on_click=save, args=(ws, svc), type="primary", use_container_width=True,
                    help="Save as a new version (a stale version is refused, not overwritten)")
    undo_col.button("↶ Undo", key="undo", on_click=_undo, args=(ws,), disabled=not ws.undo_stack,
                    use_container_width=True)


def _undo(ws: Workspace) -> None:
    if ws.undo():
        ws.note("info", "undone")


def draw_canvas(ws: Workspace, svc: Services) -> None:
    state, _ = ws.canvas_state(svc.registry)
    # Fit the view only just after a flow is opened: the component re-fits after every
    # push while fit_view is on, which would move the user's view on each edit. A short
    # window (not one render) because the fit happens once the browser has measured
    # the nodes, which can be after the next rerun.
    fit = bool(ws.flow.nodes) and time.monotonic() - ws.loaded_at < FIT_WINDOW
    streamlit_flow(canvas_key(ws), state, height=CANVAS_HEIGHT, fit_view=fit,
                   show_controls=True, show_minimap=len(ws.flow.nodes) > 25, allow_new_edges=True,
                   animate_new_edges=False, get_node_on_click=True, get_edge_on_click=True, pan_on_drag=True,
                   allow_zoom=True, min_zoom=0.1, hide_watermark=True)
    if not ws.flow.nodes:
        st.caption("The canvas is empty: add nodes from the palette, or open an example under Flows.")
    else:
        st.caption("Drag from a node's right handle to another node's left handle to connect them. "
                   "Click a node to edit it.")


def side_panel(ws: Workspace, svc: Services) -> None:
    counts = {"Problems": len(ws.issues(svc.registry))}
    key = panel_widget_key()
    st.segmented_control("Panel", PANELS, key=key, default=panel(), required=True, label_visibility="collapsed",
                         format_func=lambda p: f"{p} ({counts[p]})" if counts.get(p) else p,
                         on_change=panel_clicked, args=(key,))
    with st.container(height=PANEL_HEIGHT, border=False, key="side_panel"):   # scrolls: the canvas stays in view
        panel_body(ws, svc, panel())


def panel_body(ws: Workspace, svc: Services, current: str) -> None:
    if current == "Properties":
        properties(ws, svc)
    elif current == "Run":
        run_panel(ws, svc)
    elif current == "Chat":
        chat_panel(ws, svc)
    elif current == "Problems":
        problems(ws, svc)
    elif current == "History":
        history_panel(ws, svc)
    else:
        library(ws, svc)


main()
