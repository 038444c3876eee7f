"""The chat playground: a conversation with a flow that has a chat input.

A flow qualifies when it has an `input.chat` node, or a text input named
`message` (the convention until a chat input node exists). Each turn runs the
flow with the message and the session id (memory nodes key on it); the reply is
the output named reply/answer/response/text, else the first output.
"""

from __future__ import annotations

import uuid
from typing import Any

import streamlit as st

from engine.flow import Flow
from engine.issues import errors
from ui.services import Services
from ui.views.common import plain, reply_markdown
from ui.views.runs import flow_inputs, is_live, start_run
from ui.workspace import Workspace

CHAT_NAMES = ("message",)
REPLY_NAMES = ("reply", "answer", "response", "text", "output")


def chat_input_name(flow: Flow, svc: Services) -> str | None:
    """The input that takes the user's message, or None when the flow is not a chat flow."""
    found = flow_inputs(flow, svc)
    for name, type_id, *_ in found:
        if type_id == "input.chat":
            return name
    for name, *_ in found:
        if name in CHAT_NAMES:
            return name
    return None


def reply_of(outputs: dict[str, Any]) -> str:
    for name in REPLY_NAMES:
        if name in outputs:
            return _text(outputs[name])
    return _text(next(iter(outputs.values()))) if outputs else "(the flow returned nothing)"


def _text(value: Any) -> str:
    if isinstance(value, dict) and "content" in value:
        return str(value["content"])
    return value if isinstance(value, str) else repr(value)


def _session(flow_id: str) -> str:
    key = f"chat_session:{flow_id}"
    if key not in st.session_state:
        st.session_state[key] = uuid.uuid4().hex[:12]
    return str(st.session_state[key])


def _log(flow_id: str, session: str) -> list[dict[str, str]]:
    logs: dict[str, list[dict[str, str]]] = st.session_state.setdefault("chat_logs", {})
    return logs.setdefault(f"{flow_id}:{session}", [])


def chat_panel(ws: Workspace, svc: Services) -> None:
    name = chat_input_name(ws.flow, svc)
    if name is None:
        st.info("This flow has no chat input. Add an input node named `message` (or a chat input node) "
                "to talk to the flow here.", icon=":material/chat:")
        return
    flow_id = ws.flow.id
    session = _session(flow_id)
    c1, c2 = st.columns([3, 1])
    c1.caption(f"Session `{session}` — memory nodes remember this conversation under this id.")
    c2.button("New session", key="chat_new", on_click=_new_session, args=(flow_id,))
    log = _log(flow_id, session)
    _finish_turn(ws, log)
    for turn in log:
        with st.chat_message(turn["role"]):
            st.markdown(reply_markdown(turn["content"]) if turn["role"] == "assistant" else plain(turn["content"]))
    pending = st.session_state.get("chat_pending")
    if pending and ws.run is not None:
        snap = ws.run.snapshot()
        streamed = "".join(n.tokens for n in snap.nodes.values() if n.tokens)
        with st.chat_message("assistant"):
            st.markdown(reply_markdown(streamed) if streamed else "…")
    problems = errors(ws.issues(svc.registry))  # warnings do not stop a run
    st.chat_input("Message the flow", key="chat_box", disabled=bool(problems) or is_live(ws),
                  on_submit=_send, args=(ws, svc, name, session))
    if problems:
        st.caption(f"Fix {len(problems)} problem(s) to chat (see Problems).")


def _new_session(flow_id: str) -> None:
    st.session_state[f"chat_session:{flow_id}"] = uuid.uuid4().hex[:12]


def _send(ws: Workspace, svc: Services, name: str, session: str) -> None:
    text = str(st.session_state.get("chat_box") or "").strip()
    if not text:
        return
    _log(ws.flow.id, session).append({"role": "user", "content": text})
    inputs: dict[str, Any] = {name: text}
    start_run(ws, svc, inputs, session_id=session)
    st.session_state["chat_pending"] = {"run_id": ws.run.run_id if ws.run else "", "flow": ws.flow.id,
                                        "session": session}


def _finish_turn(ws: Workspace, log: list[dict[str, str]]) -> None:
    """When the turn's run is over, add the flow's reply (or its error) to the conversation."""
    pending = st.session_state.get("chat_pending")
    if not pending or ws.run is None or ws.run.run_id != pending["run_id"]:
        return
    snap = ws.run.snapshot()
    if not snap.finished:
        return
    st.session_state["chat_pending"] = None
    if snap.status == "succeeded":
        log.append({"role": "assistant", "content": reply_of(snap.outputs)})
    else:
        log.append({"role": "assistant", "content": f"⚠️ {snap.error}" + (f"\n\n{snap.hint}" if snap.hint else "")})
