"""The Run and History panels: an inputs form built from the flow's input nodes, a
run started off the script thread, its live trace, outputs and errors, and the
list of recorded runs (open one to see its trace again, on the canvas too)."""

from __future__ import annotations

import json
import time
from typing import Any

import streamlit as st

from engine.errors import ChainloomError
from engine.flow import Flow
from engine.issues import errors
from engine.plan import needs_value
from ui.live import LiveRun, NodeTrace, RunSnapshot
from ui.services import Services
from ui.views.common import plain, set_panel, short
from ui.workspace import Workspace

STATUS_BADGE = {"queued": "○", "running": "◐", "done": "●", "failed": "✖", "skipped": "⤼", "cached": "◆",
                "cancelled": "⊘"}
RUN_BADGE = {"starting": "◌", "running": "◐", "succeeded": "●", "failed": "✖", "timeout": "◷", "cancelled": "⊘",
             "waiting_approval": "⏸", "interrupted": "⚠"}
LIVE_KEY = "run_is_live"
TICK: float | None = 0.4   # seconds between redraws while a run is live (None: off, for tests)


def flow_inputs(flow: Flow, svc: Services) -> list[tuple[str, str, Any, bool, str]]:
    """(name, node type, default, needs a value, description) of every input node, in flow order."""
    out = []
    for fnode in flow.nodes:
        spec = svc.registry.get(fnode.type) if fnode.type in svc.registry else None
        if spec is None or spec.role != "input":
            continue
        cfg = fnode.config
        out.append((str(cfg.get("name") or fnode.id), fnode.type, cfg.get("default"),
                    needs_value(cfg), str(cfg.get("description") or "")))
    return out


def is_live(ws: Workspace) -> bool:
    return ws.run is not None and bool(st.session_state.get(LIVE_KEY))


def keep_polling(ws: Workspace, *, in_fragment: bool = False) -> None:
    """While a run is live, redraw every TICK seconds (call it last).

    The script reruns itself from the server (the editor fragment only, when it is
    one) rather than through a `run_every` timer: switching a fragment's timer on
    and off raced with the browser's queued ticks and could drop widget state.
    """
    if TICK is None or not is_live(ws):
        return
    time.sleep(TICK)
    st.rerun(scope="fragment" if in_fragment else "app")


def statuses(ws: Workspace) -> dict[str, dict[str, Any]]:
    """The canvas's `statuses` arg: each node's state, time, tokens and reason in the shown run."""
    if ws.run is None:
        return {}
    out = {}
    for nid, trace in ws.run.snapshot().nodes.items():
        tokens = (trace.usage or {}).get("total_tokens")
        out[nid] = {"state": trace.status,
                    "time_ms": round(trace.duration * 1000, 1) if trace.duration is not None else None,
                    "tokens": int(tokens) if isinstance(tokens, int | float) else None,
                    "reason": trace.reason or trace.error or None}
    return out


def start_run(ws: Workspace, svc: Services, inputs: dict[str, Any], session_id: str | None = None) -> LiveRun:
    flow_version = ws.version if not ws.dirty else None
    live = LiveRun(node_ids=[n.id for n in ws.flow.nodes], inputs=inputs)
    ws.run = live
    st.session_state[LIVE_KEY] = True
    return live.start(svc.runner(), ws.flow, inputs, session_id=session_id, flow_version=flow_version)


# ---------------------------------------------------------------- run panel
def run_panel(ws: Workspace, svc: Services) -> None:
    issues = errors(ws.issues(svc.registry))  # warnings (an unset secret) do not stop a run
    if issues:
        st.warning(f"Fix {len(issues)} problem(s) before running (see Problems).", icon=":material/warning:")
    _inputs_form(ws, svc, disabled=bool(issues) or is_live(ws))
    if ws.run is not None:
        snap = ws.run.snapshot()
        if not snap.finished:
            st.button("⏹ Stop run", key="stop_run", on_click=ws.run.cancel,
                      help="Cancel the running nodes; the run ends as 'cancelled'.")
            approvals_panel(svc, snap.run_id)
        show_run(ws, snap)


def approvals_panel(svc: Services, run_id: str) -> None:
    """Approve or reject each call of the run that waits for a person (policy require_approval)."""
    for call in svc.pending_approvals(run_id):
        with st.container(border=True):
            st.markdown(f"**Waiting for approval** · node `{plain(call.node)}` wants to make this call:")
            st.code(call.shown, language="json")
            st.text_input("Reason (shown to the agent when rejected)", key=f"why:{call.approval_id}")
            approve, reject = st.columns(2)
            approve.button("✔ Approve", key=f"approve:{call.approval_id}", type="primary",
                           on_click=_decide, args=(svc, call.approval_id, True))
            reject.button("✖ Reject", key=f"reject:{call.approval_id}",
                          on_click=_decide, args=(svc, call.approval_id, False))


def _decide(svc: Services, approval_id: str, approved: bool) -> None:
    # The reason is read when the button is clicked, not when the panel was drawn.
    svc.decide(approval_id, approved, str(st.session_state.get(f"why:{approval_id}") or ""))


def _inputs_form(ws: Workspace, svc: Services, *, disabled: bool) -> None:
    inputs = flow_inputs(ws.flow, svc)
    with st.form("run_form", border=True):
        st.markdown("**Inputs**" if inputs else "This flow takes no inputs.")
        for name, type_id, default, required, description in inputs:
            label = name + (" *" if required else "")
            help_text = description or None
            key = f"run_in:{ws.flow.id}:{name}"
            if type_id == "input.json":
                st.text_area(label, json.dumps(default) if default is not None else "", key=key, help=help_text,
                             height=90, placeholder="JSON value")
            else:
                st.text_area(label, "" if default is None else str(default), key=key, help=help_text, height=70)
        st.form_submit_button("▶ Run flow", type="primary", disabled=disabled, on_click=_run_clicked,
                              args=(ws, svc))


def _run_clicked(ws: Workspace, svc: Services) -> None:
    values: dict[str, Any] = {}
    for name, type_id, _default, required, _ in flow_inputs(ws.flow, svc):
        raw = st.session_state.get(f"run_in:{ws.flow.id}:{name}", "")
        if raw == "" and not required:
            continue
        if type_id == "input.json":
            try:
                values[name] = json.loads(raw)
            except ValueError as err:
                ws.note("error", f"input '{name}' is not valid JSON: {err}")
                return
        else:
            values[name] = raw
    start_run(ws, svc, values)
    set_panel("Run")


def show_run(ws: Workspace, snap: RunSnapshot) -> None:
    """The run's status, outputs, failure, and a per-node trace."""
    badge = RUN_BADGE.get(snap.status, "")
    took = f" in {snap.duration:.2f} s" if snap.duration is not None else ""
    tokens = snap.usage.get("total_tokens") if snap.usage else None
    st.markdown(f"**Run `{snap.run_id[:8]}`** — {badge} {snap.status}{took}"
                + (f" · {tokens} tokens" if tokens else ""))
    if snap.status == "failed" or snap.error:
        node = snap.failed_node
        head = f"Node **{node}** failed" if node else "The run failed"
        st.error(f"{head}: {plain(snap.error)}", icon=":material/block:")
        if snap.hint:
            st.info(f"What to do: {plain(snap.hint)}", icon=":material/lightbulb:")
    _selected_node(ws, snap)
    if snap.outputs:
        with st.container(key="run_outputs"):
            st.markdown("**Outputs**")
            for name, value in snap.outputs.items():
                st.markdown(f"`{name}`")
                if isinstance(value, str):
                    st.code(value, language=None, wrap_lines=True)
                else:
                    st.json(value, expanded=False)
    _trace(ws, snap)


def _selected_node(ws: Workspace, snap: RunSnapshot) -> None:
    """The node picked on the canvas (its outputs button), shown first."""
    trace = snap.nodes.get(ws.selected or "")
    if trace is None or trace.status == "queued":
        return
    with st.container(border=True, key="node_outputs"):
        st.markdown(f"**Node `{plain(ws.selected)}`** · {STATUS_BADGE.get(trace.status, '')} {trace.status}")
        _node_detail(trace)


def _trace(ws: Workspace, snap: RunSnapshot) -> None:
    st.markdown("**Trace**")
    order = [n.id for n in ws.flow.nodes if n.id in snap.nodes] + [n for n in snap.nodes if ws.flow.node(n) is None]
    for nid in order:
        trace = snap.nodes[nid]
        label = f"{STATUS_BADGE.get(trace.status, '')} {nid} · {trace.status}"
        if trace.duration is not None:
            label += f" · {trace.duration:.3f} s"
        if trace.usage and trace.usage.get("total_tokens"):
            label += f" · {trace.usage['total_tokens']} tok"
        expanded = trace.status in ("running", "failed") or nid == ws.selected
        with st.expander(label, expanded=expanded):
            _node_detail(trace)


def _node_detail(trace: NodeTrace) -> None:
    if trace.error:
        st.error(plain(trace.error), icon=":material/block:")
        if trace.hint:
            st.info(f"What to do: {plain(trace.hint)}", icon=":material/lightbulb:")
    if trace.reason:
        st.caption(plain(trace.reason))
    if trace.tokens:
        st.markdown("Streamed")
        st.code(trace.tokens[-4000:], language=None, wrap_lines=True)
    for title, value in (("Inputs", trace.inputs), ("Outputs", trace.outputs)):
        if value not in (None, {}):
            st.markdown(title)
            st.json(value, expanded=1)
    if trace.usage:
        st.caption("Usage: " + ", ".join(f"{k}={v}" for k, v in trace.usage.items()))
    for step in trace.steps[-20:]:
        st.caption(short(f"step {step.get('name')}: " + json.dumps(step, default=str), 300))


# ---------------------------------------------------------------- history
def history_panel(ws: Workspace, svc: Services) -> None:
    try:
        runs = svc.store.list_runs(ws.flow.id, limit=30)
    except ChainloomError as err:
        st.error(str(err))
        return
    if not runs:
        st.caption(f"No recorded runs of '{ws.flow.id}' yet.")
        return
    st.markdown(f"**Recent runs of `{ws.flow.id}`**")
    for run in runs:
        took = f"{run.duration:.2f} s" if run.duration is not None else "—"
        version = f"v{run.flow_version}" if run.flow_version else "unsaved"
        label = (f"{RUN_BADGE.get(run.status, '')} {run.started_at.astimezone():%m-%d %H:%M:%S} · {run.status} · "
                 f"{took} · {version} · {run.id[:8]}")
        st.button(label, key=f"hist:{run.id}", on_click=_open_run, args=(ws, svc, run.id),
                  use_container_width=True)


def _open_run(ws: Workspace, svc: Services, run_id: str) -> None:
    try:
        events = svc.store.run_events(run_id)
    except ChainloomError as err:
        ws.note("error", str(err))
        return
    ws.run = LiveRun.replay(events, run_id=run_id)
    st.session_state[LIVE_KEY] = False
    ws.note("info", f"showing the recorded run {run_id[:8]}; node statuses are on the canvas")
    set_panel("Run")
