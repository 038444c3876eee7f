"""Flow <-> streamlit-flow canvas state, as pure functions.

`flow_to_canvas` draws a Flow: one canvas node per flow node (its type, name,
ports, run status and validation problems in the node's markdown and style; the
flow node itself in `data["chainloom"]`) and one canvas edge per flow edge (the
ports in the edge id, its label and `data`). `canvas_to_flow` reads a canvas
state back into a Flow, losing nothing. `read_event` turns what the component
returned after a user action into moves, connection requests and a selection;
the flow stays the source of truth and the canvas is only read after an event.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
from streamlit_flow.elements import StreamlitFlowEdge, StreamlitFlowNode
from streamlit_flow.state import StreamlitFlowState

from engine.flow import Edge, Flow, FlowNode, NodePolicy
from engine.node import NodeSpec
from engine.ports import Port
from engine.registry import Registry
from ui.ports import edge_label

DATA_KEY = "chainloom"
NEW_EDGE_PREFIX = "st-flow-edge_"  # ids the component gives edges the user drew
NODE_W, NODE_H = 170.0, 100.0      # footprint used to place nodes without overlap
STEP_X, STEP_Y = 270.0, 150.0
ORIGIN = (40.0, 40.0)

STATUS_ICON = {
    "queued": "○ queued", "running": "◐ running", "done": "● done", "failed": "✖ failed",
    "skipped": "⤼ skipped", "cached": "◆ cached", "cancelled": "⊘ cancelled",
}
STATUS_STYLE: dict[str, dict[str, str]] = {
    "queued": {"background": "#f8fafc", "border": "1px solid #cbd5e1"},
    "running": {"background": "#fef3c7", "border": "2px solid #f59e0b"},
    "done": {"background": "#dcfce7", "border": "2px solid #16a34a"},
    "failed": {"background": "#fee2e2", "border": "2px solid #dc2626"},
    "skipped": {"background": "#f1f5f9", "border": "2px dashed #94a3b8", "opacity": "0.75"},
    "cached": {"background": "#dbeafe", "border": "2px solid #2563eb"},
    "cancelled": {"background": "#f1f5f9", "border": "2px solid #64748b"},
}
BASE_STYLE = {"width": f"{NODE_W:.0f}px", "fontSize": "12px", "textAlign": "left", "padding": "6px 10px",
              "borderRadius": "8px", "background": "#ffffff", "border": "1px solid #94a3b8",
              "color": "#0f172a"}
PROBLEM_STYLE = {"border": "2px dashed #dc2626", "boxShadow": "0 0 0 2px #fecaca"}
SELECTED_STYLE = {"boxShadow": "0 0 0 3px #6366f1"}
_EDGE_ID = re.compile(r"^(?P<src>[^.>]+)\.(?P<sp>[^.>]+)->(?P<dst>[^.>]+)\.(?P<dp>[^.>]+)$")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$])")


def md_escape(text: str) -> str:
    """User text shown as literal markdown: no emphasis, links or raw HTML."""
    html_safe = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", html_safe.replace("\n", " "))


def edge_id(edge: Edge) -> str:
    return f"{edge.source}->{edge.target}"


def now_ms() -> int:
    return int(time.time() * 1000)


# ---------------------------------------------------------------- flow -> canvas
@dataclass(frozen=True)
class NodeLook:
    """What the canvas shows about one node beyond the flow itself."""

    status: str | None = None
    problems: tuple[str, ...] = ()
    note: str = ""          # e.g. "0.42 s · 120 tok"
    selected: bool = False


def safe_ports(spec: NodeSpec | None, config: Mapping[str, Any], version: int = 0
               ) -> tuple[tuple[Port, ...], tuple[Port, ...]]:
    """The node's (inputs, outputs) for its current config, even a half-edited one."""
    return ((), ()) if spec is None else spec.ports_for(config, version or None)


def node_markdown(fnode: FlowNode, spec: NodeSpec | None, look: NodeLook) -> str:
    title = fnode.name or (spec.title if spec else fnode.id)
    lines = [f"**{md_escape(title)}**", f"`{fnode.type}` · {md_escape(fnode.id)}"]
    ins, outs = safe_ports(spec, fnode.config, fnode.version)
    if ins:
        lines.append("in: " + ", ".join(md_escape(p.name) for p in ins))
    if outs:
        lines.append("out: " + ", ".join(md_escape(p.name) for p in outs))
    if spec is None:
        lines.append("⚠ unknown type")
    if look.status:
        lines.append(STATUS_ICON.get(look.status, look.status) + (f" · {md_escape(look.note)}" if look.note else ""))
    if look.problems:
        n = len(look.problems)
        lines.append(f"⚠ {n} problem{'s' if n != 1 else ''}")
    return "  \n".join(lines)


def node_element(fnode: FlowNode, spec: NodeSpec | None, look: NodeLook,
                 position: tuple[float, float]) -> StreamlitFlowNode:
    role = spec.role if spec else None
    style = dict(BASE_STYLE)
    if look.status:
        style.update(STATUS_STYLE.get(look.status, {}))
    if look.problems:
        style.update(PROBLEM_STYLE)
    if look.selected:
        style.update(SELECTED_STYLE)
    classes = ["cl-node", f"cl-role-{role or 'step'}"]
    if look.status:
        classes.append(f"cl-status-{look.status}")
    if look.problems:
        classes.append("cl-invalid")
    return StreamlitFlowNode(
        id=fnode.id, pos=position,
        data={"content": node_markdown(fnode, spec, look), DATA_KEY: node_data(fnode)},
        node_type="input" if role == "input" else "output" if role == "output" else "default",
        source_position="right", target_position="left",
        selectable=True, connectable=True, deletable=False, selected=look.selected,
        style=style, className=" ".join(classes))


def node_data(fnode: FlowNode) -> dict[str, Any]:
    """The flow node as carried in canvas node data (policy only when not default)."""
    data: dict[str, Any] = {"type": fnode.type, "version": fnode.version, "name": fnode.name,
                            "config": fnode.config}
    policy = {k: v for k, v in fnode.policy.model_dump(mode="json").items()
              if v != NodePolicy.model_fields[k].default}
    if policy:
        data["policy"] = policy
    return data


def edge_element(edge: Edge, *, selected: bool = False, status: str | None = None) -> StreamlitFlowEdge:
    color = "#6366f1" if selected else "#dc2626" if status == "bad" else "#64748b"
    return StreamlitFlowEdge(
        id=edge_id(edge), source=edge.source_node, target=edge.target_node,
        label=edge_label(edge.source_port, edge.target_port), label_show_bg=True,
        label_style={"fontSize": "11px"}, label_bg_style={"fill": "#f8fafc"},
        marker_end={"type": "arrowclosed", "color": color}, selected=selected,
        animated=status == "running", focusable=True, deletable=False,
        style={"stroke": color, "strokeWidth": 2 if selected else 1.5},
        data={"source_port": edge.source_port, "target_port": edge.target_port})


def flow_to_canvas(flow: Flow, registry: Registry, *, looks: Mapping[str, NodeLook] | None = None,
                   selected: str | None = None, bad_edges: Iterable[str] = (),
                   running_edges: Iterable[str] = (), timestamp: int | None = None) -> StreamlitFlowState:
    """The canvas state that draws `flow` (nodes without a position are placed)."""
    looks = looks or {}
    positions = layout_positions(flow)
    bad, running = set(bad_edges), set(running_edges)
    nodes = []
    for fnode in flow.nodes:
        spec = registry.get(fnode.type) if fnode.type in registry else None
        look = looks.get(fnode.id, NodeLook())
        if selected == fnode.id and not look.selected:
            look = NodeLook(look.status, look.problems, look.note, True)
        nodes.append(node_element(fnode, spec, look, positions[fnode.id]))
    edges = []
    for e in flow.edges:
        eid = edge_id(e)
        edges.append(edge_element(e, selected=eid == selected,
                                  status="bad" if eid in bad else "running" if eid in running else None))
    return StreamlitFlowState(nodes=nodes, edges=edges, selected_id=selected,
                              timestamp=timestamp if timestamp is not None else now_ms())


# ---------------------------------------------------------------- placement
def _overlaps(x: float, y: float, taken: Sequence[tuple[float, float]]) -> bool:
    return any(abs(x - tx) < NODE_W + 20 and abs(y - ty) < NODE_H + 20 for tx, ty in taken)


NEAR_STEPS = ((1, 0), (0, 1), (1, 1), (0, -1), (1, -1), (-1, 0), (-1, 1), (-1, -1), (0, 2), (1, 2))


def free_position(taken: Sequence[tuple[float, float]], near: tuple[float, float] | None = None
                  ) -> tuple[float, float]:
    """A spot that overlaps no node, likely inside the user's view: next to `near` (the
    selected node) when given, else the first gap in the nodes' own bounding box, row
    by row, then the rows below it (a fitted view shows that box)."""
    if near is not None:
        for dx, dy in NEAR_STEPS:
            cand = (near[0] + dx * STEP_X, near[1] + dy * STEP_Y)
            if not _overlaps(*cand, taken):
                return cand
    if not taken:
        return ORIGIN
    x0, x1 = min(x for x, _ in taken), max(x for x, _ in taken)
    y0 = min(y for _, y in taken)
    cols = max(1, int((x1 - x0) // STEP_X) + 1)
    for row in range(len(taken) + 2):
        for col in range(cols):
            cand = (x0 + col * STEP_X, y0 + row * STEP_Y)
            if not _overlaps(*cand, taken):
                return cand
    return (x0, y0 + (len(taken) + 2) * STEP_Y)  # pragma: no cover - every row is full


def layout_positions(flow: Flow) -> dict[str, tuple[float, float]]:
    """Every node's position: its own, else a layered spot (left to right by depth)."""
    placed = {n.id: (float(n.position[0]), float(n.position[1])) for n in flow.nodes if n.position}
    missing = [n.id for n in flow.nodes if n.id not in placed]
    if not missing:
        return placed
    depth = _depths(flow)
    rows: dict[int, int] = {}
    taken = list(placed.values())
    for nid in missing:
        d = depth.get(nid, 0)
        want = (ORIGIN[0] + d * STEP_X, ORIGIN[1] + rows.get(d, 0) * STEP_Y)
        rows[d] = rows.get(d, 0) + 1
        spot = want if not _overlaps(*want, taken) else free_position(taken, (want[0] - STEP_X, want[1]))
        placed[nid] = spot
        taken.append(spot)
    return placed


def _depths(flow: Flow) -> dict[str, int]:
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(n.id for n in flow.nodes)
    graph.add_edges_from((e.source_node, e.target_node) for e in flow.edges
                         if e.source_node in graph and e.target_node in graph)
    if not nx.is_directed_acyclic_graph(graph):
        return {}
    depth: dict[str, int] = {}
    for nid in nx.topological_sort(graph):
        depth[nid] = max((depth[p] + 1 for p in graph.predecessors(nid)), default=0)
    return depth


# ---------------------------------------------------------------- canvas -> flow
def canvas_dicts(value: StreamlitFlowState | Mapping[str, Any]
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str | None, int]:
    """(nodes, edges, selected id, timestamp) from a state object or the component's raw dict."""
    if isinstance(value, StreamlitFlowState):
        return ([n.asdict() for n in value.nodes], [e.asdict() for e in value.edges],
                value.selected_id, int(value.timestamp or 0))
    return (list(value.get("nodes") or []), list(value.get("edges") or []),
            value.get("selectedId", value.get("selected_id")), int(value.get("timestamp") or 0))


def parse_edge(element: Mapping[str, Any]) -> Edge | None:
    """The flow edge a canvas edge stands for, from its id, label or data; None for a
    fresh connection the user just drew (its ports are not decided yet)."""
    src, dst = str(element.get("source", "")), str(element.get("target", ""))
    m = _EDGE_ID.match(str(element.get("id", "")))
    if m and m["src"] == src and m["dst"] == dst:
        return Edge.model_validate({"from": f"{src}.{m['sp']}", "to": f"{dst}.{m['dp']}"})
    data = element.get("data") or {}
    ports = (data.get("source_port"), data.get("target_port")) if isinstance(data, Mapping) else (None, None)
    if not all(ports):
        label = str(element.get("label") or "")
        parts = [p.strip() for p in label.split("→")]
        ports = (parts[0], parts[1]) if len(parts) == 2 and all(parts) else (None, None)
    if not all(ports) or not src or not dst:
        return None
    return Edge.model_validate({"from": f"{src}.{ports[0]}", "to": f"{dst}.{ports[1]}"})


def _position(element: Mapping[str, Any]) -> tuple[float, float]:
    pos = element.get("position") or {}
    return (round(float(pos.get("x", 0.0)), 1), round(float(pos.get("y", 0.0)), 1))


def canvas_to_flow(value: StreamlitFlowState | Mapping[str, Any], base: Flow) -> Flow:
    """Read the whole canvas back into a Flow (id, name and description from `base`)."""
    nodes_raw, edges_raw, _, _ = canvas_dicts(value)
    nodes = []
    for el in nodes_raw:
        data = (el.get("data") or {}).get(DATA_KEY)
        if not isinstance(data, Mapping):
            continue  # not one of ours (e.g. made by the component's own pane menu)
        nodes.append(FlowNode.model_validate({
            "id": el["id"], "type": data["type"], "version": data.get("version", 1),
            "name": data.get("name", ""), "config": dict(data.get("config") or {}),
            "policy": dict(data.get("policy") or {}), "position": _position(el)}))
    ids = {n.id for n in nodes}
    edges = [e for e in (parse_edge(el) for el in edges_raw)
             if e is not None and e.source_node in ids and e.target_node in ids]
    return base.model_copy(update={"nodes": nodes, "edges": edges})


@dataclass
class CanvasEvent:
    """What a user did on the canvas, as far as the component reports it."""

    timestamp: int
    selected: str | None = None                      # a node id or one of our edge ids
    moved: dict[str, tuple[float, float]] = field(default_factory=dict)
    connects: list[tuple[str, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.moved or self.connects)


def read_event(value: StreamlitFlowState | Mapping[str, Any], flow: Flow) -> CanvasEvent:
    """Compare the canvas the component returned with the flow: moves, new connections, selection.

    Edges or nodes missing from the canvas are ignored: deletion happens in the side
    panel, because the component does not report keyboard deletes.
    """
    nodes_raw, edges_raw, selected, ts = canvas_dicts(value)
    by_id = {n.id: n for n in flow.nodes}
    event = CanvasEvent(timestamp=ts)
    for el in nodes_raw:
        fnode = by_id.get(str(el.get("id")))
        if fnode is None:
            continue
        pos = _position(el)
        old = fnode.position
        if old is None or abs(old[0] - pos[0]) > 0.5 or abs(old[1] - pos[1]) > 0.5:
            event.moved[fnode.id] = pos
    ours = {edge_id(e) for e in flow.edges}
    for el in edges_raw:
        if str(el.get("id")) in ours or parse_edge(el) is not None:
            continue
        pair = (str(el.get("source")), str(el.get("target")))
        if pair[0] in by_id and pair[1] in by_id and pair not in event.connects:
            event.connects.append(pair)
    if isinstance(selected, str) and selected.startswith(NEW_EDGE_PREFIX) and not event.connects:
        again = _pair_from_new_edge_id(selected[len(NEW_EDGE_PREFIX):], by_id)
        if again is not None:
            event.connects.append(again)   # a second edge between the same two nodes
    if selected in by_id or selected in ours:
        event.selected = selected
    return event


def _pair_from_new_edge_id(rest: str, nodes: Mapping[str, Any]) -> tuple[str, str] | None:
    for src in nodes:
        if rest.startswith(src + "-") and rest[len(src) + 1:] in nodes:
            return src, rest[len(src) + 1:]
    return None


def view_signature(value: StreamlitFlowState | Mapping[str, Any]) -> str:
    """What a canvas shows, minus what the user changes there (positions, selection):
    each node's text and classes, and the edges. Used to notice a stale canvas."""
    nodes_raw, edges_raw, _, _ = canvas_dicts(value)
    nodes = sorted((str(n.get("id")), str((n.get("data") or {}).get("content", "")), str(n.get("className", "")))
                   for n in nodes_raw)
    edges = sorted(str(e.get("id")) for e in edges_raw)
    return hashlib.sha1(json.dumps([nodes, edges]).encode(), usedforsecurity=False).hexdigest()


def apply_moves(flow: Flow, moved: Mapping[str, tuple[float, float]]) -> Flow:
    if not moved:
        return flow
    nodes = [n.model_copy(update={"position": moved[n.id]}) if n.id in moved else n for n in flow.nodes]
    return flow.model_copy(update={"nodes": nodes})


def with_positions(flow: Flow) -> Flow:
    """The flow with every node's drawn position written into it."""
    positions = layout_positions(flow)
    if all(n.position is not None for n in flow.nodes):
        return flow
    return apply_moves(flow, {n.id: positions[n.id] for n in flow.nodes if n.position is None})
