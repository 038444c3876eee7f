"""chainloom's visual builder: the Streamlit entry point (`chainloom ui` runs this file).

Layout (a wide page): the header (flow name, state, Save, New) above the canvas
component, which holds the palette on its left and takes the main area, and a
side panel on the right (Properties, Run, Chat, Problems, History, Flows, Use).
The editor runs as an `st.fragment`: a canvas edit or a form change reruns only
the editor, not the page. The canvas talks in small batches of ops acknowledged by
seq (ui/canvas_component/PROTOCOL.md), so no follow-up rerun of the component can
race with a fragment rerun, the reason fragments were once dropped here. Opening
another flow with unsaved changes asks first (a dialog of the full page).
"""

from __future__ import annotations

import streamlit as st

from ui.views.common import keeper, services, workspace
from ui.views.editor import DIALOG_SHOWN, PAGE_RUN, editor
from ui.views.library import PENDING_OPEN, confirm_open, open_from_query

FRAGMENT = True   # the editor reruns on its own (set False to rerun the whole page per action)

# The side panel scrolls beside the canvas: keep each element at its natural height.
PAGE_CSS = """<style>
.st-key-side_panel [data-testid="stElementContainer"],
.st-key-side_panel [data-testid="stVerticalBlock"] > div { flex-shrink: 0; }
.block-container { padding-top: 1.2rem; padding-bottom: 0.5rem; max-width: 100%; }
</style>"""


def _editor() -> None:
    editor(workspace(), services(), in_fragment=FRAGMENT)


run_editor = st.fragment(_editor) if FRAGMENT else _editor


def main() -> None:
    st.set_page_config(page_title="chainloom", page_icon="🧶", layout="wide", initial_sidebar_state="collapsed")
    st.markdown(PAGE_CSS, unsafe_allow_html=True)
    st.session_state[PAGE_RUN] = True
    svc, ws = services(), workspace()
    keeper(svc)
    open_from_query(ws, svc)
    st.session_state[DIALOG_SHOWN] = bool(st.session_state.get(PENDING_OPEN))
    if st.session_state[DIALOG_SHOWN]:
        confirm_open(ws, svc)
    run_editor()


main()
