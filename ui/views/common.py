"""Shared plumbing for the views: services, the workspace, the draft keeper, the browser
id, panels and notices."""

from __future__ import annotations

import json
import os
import re
import uuid
from typing import Any

import streamlit as st

from ui.drafts import BROWSER_COOKIE, DraftKeeper, valid_browser_id
from ui.services import Services, open_services
from ui.workspace import Workspace

PANELS = ("Properties", "Run", "Chat", "Problems", "History", "Flows", "Use")
WS_KEY = "chainloom_workspace"
KEEPER_KEY = "chainloom_drafts"
BROWSER_KEY = "chainloom_browser_id"
PANEL_KEY = "panel"            # the panel shown (ours, not a widget's)
PANEL_GEN = "panel_gen"        # generation of the panel switch widget
CANVAS_KEY = "canvas"          # the canvas component's key (its last message lives there)
_IMAGE = re.compile(r"!\[")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$])")
NOTICE_ICON = {"success": ":material/check_circle:", "info": ":material/info:", "warning": ":material/warning:",
               "error": ":material/block:"}
COOKIE_DAYS = 400


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


def browser_id() -> str:
    """This browser's id: from its cookie, else a new one (the cookie is set for next time)."""
    known = st.session_state.get(BROWSER_KEY)
    if known:
        return str(known)
    cookie = st.context.cookies.get(BROWSER_COOKIE) if st.context.cookies else None
    value = cookie if valid_browser_id(cookie) else uuid.uuid4().hex
    if value != cookie:
        _set_cookie(str(value))
    st.session_state[BROWSER_KEY] = value
    return str(value)


def _set_cookie(value: str) -> None:
    # A component frame is same-origin, so its script may set the page's cookie.
    cookie = f"{BROWSER_COOKIE}={value}; path=/; max-age={COOKIE_DAYS * 86400}; SameSite=Lax"
    st.iframe(f"<script>window.parent.document.cookie = {json.dumps(cookie)};</script>", height=1)


def keeper(svc: Services) -> DraftKeeper:
    kept = st.session_state.get(KEEPER_KEY)
    if kept is None:
        kept = st.session_state[KEEPER_KEY] = DraftKeeper(svc.store, browser_id())
    return kept


def set_panel(name: str) -> None:
    """Switch the side panel from code (the switch widget gets a new key, so a report
    from the old widget still on its way cannot set the old panel back)."""
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
        return
    value = st.session_state.get(key)
    if value in PANELS:
        st.session_state[PANEL_KEY] = value


def show_notices(ws: Workspace) -> None:
    for notice in ws.current_notices():
        box: Any = {"success": st.success, "info": st.info, "warning": st.warning}.get(notice.level, st.error)
        box(plain(notice.text), icon=NOTICE_ICON.get(notice.level))


def md_escape(text: str) -> str:
    """User text shown as literal markdown: no emphasis, links or raw HTML."""
    html_safe = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", html_safe.replace("\n", " "))


def plain(text: object) -> str:
    """User or model text shown literally inside Streamlit markdown (no links, images, markup)."""
    return md_escape(str(text))


def reply_markdown(text: str) -> str:
    """Model output rendered as markdown, minus images: an image fetches its URL on sight,
    which would let injected text send data out (links still need a click)."""
    return _IMAGE.sub(r"!\\[", text)


def short(text: str, n: int = 80) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
