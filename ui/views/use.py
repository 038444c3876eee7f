"""The "Use this flow" panel: how to call the saved flow from other programs."""

from __future__ import annotations

import os

import streamlit as st

from ui.services import Services
from ui.share import KEY_VARIABLE, snippets
from ui.views.common import plain
from ui.views.runs import flow_inputs
from ui.workspace import Workspace

BASE_URL_ENV = "CHAINLOOM_API_URL"   # where `chainloom serve` answers, for the snippets


def use_panel(ws: Workspace, svc: Services) -> None:
    st.markdown("#### Use this flow")
    if ws.version is None:
        st.info("Save the flow first: the API runs saved flows by their id.", icon=":material/save:")
        return
    if ws.dirty:
        st.warning("The API runs the last saved version; save to include your latest changes.",
                   icon=":material/warning:")
    base = os.environ.get(BASE_URL_ENV) or "http://127.0.0.1:8000"
    inputs = {name: default if default is not None else f"<{name}>"
              for name, _, default, _, _ in flow_inputs(ws.flow, svc)}
    st.caption(f"Serve saved flows with `chainloom serve` ({plain(base)}); create a key with "
               f"`chainloom keys create NAME` and export it as `{KEY_VARIABLE}`. The route is "
               f"`POST /flows/{plain(ws.flow.id)}/run`.")
    code = snippets(ws.flow.id, inputs, base)
    tabs = st.tabs(["curl", "Python", "JavaScript"])
    for tab, (name, language) in zip(tabs, (("curl", "bash"), ("python", "python"), ("javascript", "javascript")),
                                     strict=True):
        with tab:
            st.code(code[name], language=language)
