"""Shared plumbing for the views: services, the workspace, panels, notices, canvas events."""

from __future__ import annotations

import os
import re
from typing import Any

import streamlit as st

from ui import canvas
from ui.services import Services, open_services
from ui.workspace import Workspace

PANELS = ("Properties", "Run", "Chat", "Problems", "History", "Flows")
WS_KEY = "chainloom_workspace"
PANEL_KEY = "panel"            # the panel shown (ours, not a widget's)
PANEL_GEN = "panel_gen"        # generation of the panel switch widget
_IMAGE = re.compile(r"!\[")
NOTICE_ICON = {"success": "✅", "info": "ℹ️", "warning": "⚠️", "error": "🚫"}


@st.cache_resource(show_spinner=False)
def _services(home: str) -> Services:
    return open_services(home or None)


def services() -> Services:
    """One Services per data dir per server process ($CHAINLOOM_HOME picks the dir)."""
    return _services(os.environ.get("CHAINLOOM_HOME", ""))


def workspace() -> Workspace:
    ws = st.session_state.get(WS_KEY)
    if ws is None:
        ws = st.session_state[WS_KEY] = Workspace()
    return ws


def canvas_key(ws: Workspace) -> str:
    return f"canvas_{ws.canvas_gen}"


def set_panel(name: str) -> None:
    """Switch the side panel from code.

    The switch widget gets a new key instead of a new value: the canvas component
    sends follow-up reruns carrying the browser's widget values, and one sent just
    before this switch would otherwise set the old panel back.
    """
    if panel() != name:
        st.session_state[PANEL_KEY] = name
        st.session_state[PANEL_GEN] = st.session_state.get(PANEL_GEN, 0) + 1


def panel() -> str:
    value = st.session_state.get(PANEL_KEY)
    return value if value in PANELS else PANELS[0]


def panel_widget_key() -> str:
    return f"panel_{st.session_state.get(PANEL_GEN, 0)}"


def panel_clicked(key: str) -> None:
    if key != panel_widget_key():
        return   # a late report from a switch widget that a code switch has replaced
    value = st.session_state.get(key)
    if value in PANELS:
        st.session_state[PANEL_KEY] = value


def take_canvas_event(ws: Workspace, svc: Services) -> None:
    """Fold in the canvas value the component sent, once per new timestamp."""
    value = st.session_state.get(canvas_key(ws))
    if not isinstance(value, dict) or int(value.get("timestamp") or 0) <= ws.last_event_ts:
        return
    event = canvas.read_event(value, ws.flow)
    before = ws.selected
    ws.check_shown(value)
    ws.apply_event(event, svc.registry)
    if ws.selected != before and ws.selected and ws.flow.node(ws.selected) and panel() in ("Problems",):
        set_panel("Properties")
    if ws.pending is not None:
        set_panel("Properties")


def show_notices(ws: Workspace) -> None:
    for notice in ws.current_notices():
        box: Any = {"success": st.success, "info": st.info, "warning": st.warning}.get(notice.level, st.error)
        box(plain(notice.text), icon=NOTICE_ICON.get(notice.level))


def plain(text: object) -> str:
    """User or model text shown literally inside Streamlit markdown (no links, images, markup)."""
    return canvas.md_escape(str(text))


def reply_markdown(text: str) -> str:
    """Model output rendered as markdown, minus images: an image fetches its URL on sight,
    which would let injected text send data out (links still need a click)."""
    return _IMAGE.sub(r"!\\[", text)


def short(text: str, n: int = 80) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
