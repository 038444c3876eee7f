"""The editing model behind the builder page: one flow being edited, without Streamlit.

A Workspace holds the working copy of a flow, the stored version it is based on,
the selection, a pending ambiguous connection, notices for the user, an undo
stack and the canvas bookkeeping (when the drawing must be pushed again). Every
edit goes through a method here, so the page code only renders and dispatches,
and every rule (port inference, id rules, placement) is unit-tested.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
from pydantic import ValidationError

from engine.flow import ID_PATTERN, Edge, Flow, FlowNode, NodePolicy, dumps_flow
from engine.node import NodeSpec
from engine.registry import Registry
from engine.validate import Issue, check, ordering_graph
from ui import canvas
from ui.canvas import CanvasEvent, NodeLook
from ui.live import LiveRun
from ui.ports import Ambiguous, Incompatible, PortPair, Unique, infer

UNDO_DEPTH = 50
NOTICE_SECONDS = 12.0   # a notice outlives the component's echo reruns that follow an edit
MAX_NOTICES = 3
PUSH_AHEAD_MS = 10 * 365 * 24 * 3600 * 1000   # see Workspace.canvas_state
_ID = re.compile(ID_PATTERN)


@dataclass(frozen=True)
class Notice:
    level: str   # info | success | warning | error
    text: str
    at: float = 0.0


@dataclass(frozen=True)
class PendingConnect:
    """A connection with several fitting port pairs, waiting for the user's choice."""

    source: str
    target: str
    pairs: tuple[tuple[str, str, str], ...]   # (output port, input port, description)


def slug(text: str, fallback: str = "node") -> str:
    out = re.sub(r"[^A-Za-z0-9_]+", "_", text.strip().lower()).strip("_")
    if not out or not (out[0].isalpha() or out[0] == "_"):
        out = f"{fallback}_{out}" if out else fallback
    return out[:48]


def unique_id(base: str, taken: set[str]) -> str:
    if base not in taken:
        return base
    n = 2
    while f"{base}_{n}" in taken:
        n += 1
    return f"{base}_{n}"


def blank_flow(flow_id: str = "untitled", name: str = "Untitled flow") -> Flow:
    return Flow(id=flow_id, name=name)


def initial_config(spec: NodeSpec, node_id: str) -> dict[str, Any]:
    """The config a fresh node starts with: a flow input/output is named after its id."""
    if spec.role and "name" in spec.config.model_fields:
        return {"name": node_id}
    return {}


@dataclass
class Workspace:
    flow: Flow = field(default_factory=blank_flow)
    version: int | None = None        # the stored version this copy is based on
    saved_text: str | None = None     # canonical text at the last load/save (dirty check)
    source: str = "new"               # new | saved | example | import
    selected: str | None = None
    pending: PendingConnect | None = None
    notices: list[Notice] = field(default_factory=list)
    undo_stack: list[Flow] = field(default_factory=list)
    canvas_gen: int = 0               # bumped on load: the canvas remounts and fits the view
    form_gen: int = 0                 # bumped when the flow changes behind the forms (undo)
    last_event_ts: int = 0            # timestamp of the last canvas value we processed
    drawn: str | None = None          # signature of what the canvas shows
    push_ts: int = 0                  # timestamp of the state we last pushed
    force_push: bool = False
    pushed_view: str | None = None    # canvas.view_signature of the last push
    run: LiveRun | None = None        # the live or re-opened run shown on the canvas
    loaded_at: float = 0.0            # time.monotonic() of the last load (the canvas fits its view)
    _issues: tuple[str, list[Issue]] | None = None

    # ------------------------------------------------------------ state
    @property
    def dirty(self) -> bool:
        return self.saved_text is None or dumps_flow(self.flow) != self.saved_text

    def note(self, level: str, text: str) -> None:
        self.notices = [*self.notices, Notice(level, text, time.monotonic())][-MAX_NOTICES:]

    def current_notices(self) -> list[Notice]:
        """Notices young enough to show (newest last); older ones are dropped."""
        now = time.monotonic()
        self.notices = [n for n in self.notices if now - n.at < NOTICE_SECONDS]
        return list(self.notices)

    def load(self, flow: Flow, *, version: int | None, source: str) -> None:
        """Replace the working copy (a new canvas is mounted; undo history is dropped)."""
        flow = canvas.with_positions(flow)
        self.flow, self.version, self.source = flow, version, source
        self.saved_text = dumps_flow(flow) if version is not None else None
        self.selected, self.pending, self.undo_stack = None, None, []
        self.run, self.canvas_gen, self.drawn = None, self.canvas_gen + 1, None
        self.loaded_at = time.monotonic()

    def mark_saved(self, version: int) -> None:
        self.version, self.saved_text, self.source = version, dumps_flow(self.flow), "saved"

    def edit(self, flow: Flow) -> None:
        """Make `flow` the working copy, remembering the previous one for undo."""
        if flow is self.flow:
            return
        self.undo_stack.append(self.flow)
        del self.undo_stack[:-UNDO_DEPTH]
        self.flow = flow

    def undo(self) -> bool:
        if not self.undo_stack:
            return False
        self.flow = self.undo_stack.pop()
        self.form_gen += 1
        if self.selected and not self._exists(self.selected):
            self.selected = None
        self.force_push = True
        return True

    def _exists(self, item: str) -> bool:
        return self.flow.node(item) is not None or any(canvas.edge_id(e) == item for e in self.flow.edges)

    def issues(self, registry: Registry) -> list[Issue]:
        text = dumps_flow(self.flow)
        key = hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()
        if self._issues is None or self._issues[0] != key:
            self._issues = (key, check(self.flow, registry)[1])
        return self._issues[1]

    # ------------------------------------------------------------ nodes
    def add_node(self, spec: NodeSpec) -> str:
        """Add a node of `spec` next to the selected node (or in the first free spot)."""
        taken = {n.id for n in self.flow.nodes}
        node_id = unique_id(slug(spec.title or spec.type.split(".")[-1]), taken)
        positions = canvas.layout_positions(self.flow)
        near = positions.get(self.selected) if self.selected else None
        spot = canvas.free_position(list(positions.values()), near)
        fnode = FlowNode(id=node_id, type=spec.type, version=spec.version,
                         config=initial_config(spec, node_id), position=spot)
        self.edit(self.flow.model_copy(update={"nodes": [*self.flow.nodes, fnode]}))
        self.selected = node_id
        return node_id

    def delete_node(self, node_id: str) -> None:
        nodes = [n for n in self.flow.nodes if n.id != node_id]
        edges = [e for e in self.flow.edges if node_id not in (e.source_node, e.target_node)]
        dropped = len(self.flow.edges) - len(edges)
        self.edit(self.flow.model_copy(update={"nodes": nodes, "edges": edges}))
        if self.selected == node_id or (self.selected and not self._exists(self.selected)):
            self.selected = None
        self.note("info", f"deleted node '{node_id}'" + (f" and {dropped} edge(s)" if dropped else ""))

    def update_node(self, node_id: str, **changes: Any) -> None:
        nodes = [n.model_copy(update=changes) if n.id == node_id else n for n in self.flow.nodes]
        self.edit(self.flow.model_copy(update={"nodes": nodes}))

    def rename(self, node_id: str, name: str) -> str | None:
        """Set the node's label; returns an error message instead of raising."""
        name = name.strip()
        if len(name) > 200 or any(ord(c) < 32 for c in name):
            return "a name has at most 200 characters and no control characters"
        self.update_node(node_id, name=name)
        return None

    def change_id(self, old: str, new: str) -> str | None:
        """Give a node a new id, rewriting its edges; returns an error message or None."""
        new = new.strip()
        if new == old:
            return None
        if not _ID.match(new):
            return "an id starts with a letter or _ and has only letters, digits, _ and - (at most 64)"
        if self.flow.node(new) is not None:
            return f"the id '{new}' is already used by another node"

        def swap(ref: str) -> str:
            node, port = ref.split(".", 1)
            return f"{new}.{port}" if node == old else ref

        nodes = [n.model_copy(update={"id": new}) if n.id == old else n for n in self.flow.nodes]
        edges = [Edge.model_validate({"from": swap(e.source), "to": swap(e.target)}) for e in self.flow.edges]
        self.edit(self.flow.model_copy(update={"nodes": nodes, "edges": edges}))
        if self.selected == old:
            self.selected = new
        return None

    def set_config(self, node_id: str, config: dict[str, Any]) -> None:
        fnode = self.flow.node(node_id)
        if fnode is not None and fnode.config != config:
            self.update_node(node_id, config=config)

    def set_policy(self, node_id: str, values: dict[str, Any]) -> str | None:
        try:
            policy = NodePolicy.model_validate(values)
        except ValidationError as err:
            return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        fnode = self.flow.node(node_id)
        if fnode is not None and fnode.policy != policy:
            self.update_node(node_id, policy=policy)
        return None

    def set_flow_info(self, *, name: str | None = None, description: str | None = None,
                      flow_id: str | None = None) -> str | None:
        update: dict[str, Any] = {}
        if name is not None and name != self.flow.name:
            update["name"] = name
        if description is not None and description != self.flow.description:
            update["description"] = description
        if flow_id is not None and flow_id != self.flow.id:
            if not _ID.match(flow_id):
                return "a flow id starts with a letter or _ and has only letters, digits, _ and -"
            update["id"] = flow_id
        if not update:
            return None
        try:
            flow = Flow.model_validate({**self.flow.model_dump(by_alias=True), **update})
        except ValidationError as err:
            return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        self.edit(flow)
        if "id" in update:
            self.version, self.saved_text = None, None   # a new id is a new stored flow
        return None

    # ------------------------------------------------------------ edges
    def delete_edge(self, eid: str) -> None:
        edges = [e for e in self.flow.edges if canvas.edge_id(e) != eid]
        self.edit(self.flow.model_copy(update={"edges": edges}))
        if self.selected == eid:
            self.selected = None

    def _add_edge(self, source: str, out: str, target: str, inp: str) -> None:
        edge = Edge.model_validate({"from": f"{source}.{out}", "to": f"{target}.{inp}"})
        self.edit(self.flow.model_copy(update={"edges": [*self.flow.edges, edge]}))
        self.selected = canvas.edge_id(edge)

    def connect(self, source: str, target: str, registry: Registry) -> None:
        """The user drew an edge from `source` to `target`: wire it, ask, or refuse."""
        self.force_push = True   # the canvas shows a raw edge until we draw ours
        self.pending = None
        a, b = self.flow.node(source), self.flow.node(target)
        if a is None or b is None:
            return
        for fnode in (a, b):
            if fnode.type not in registry:
                self.note("error", f"'{fnode.id}' has the unknown type '{fnode.type}'; fix or delete it first")
                return
        _, outs = canvas.safe_ports(registry.get(a.type), a.config, a.version)
        ins, _ = canvas.safe_ports(registry.get(b.type), b.config, b.version)
        taken = {e.target_port for e in self.flow.edges if e.target_node == target}
        existing = {(e.source_port, e.target_port) for e in self.flow.edges
                    if e.source_node == source and e.target_node == target}
        result = infer(source, outs, target, ins, taken=taken, existing=existing)
        pairs = [result.pair] if isinstance(result, Unique) else list(getattr(result, "pairs", ()))
        static = bool(pairs) and all(p.source.static for p in pairs)  # static outputs order nothing
        if not isinstance(result, Incompatible) and not static and self._makes_cycle(source, target, registry):
            self.note("error", f"connecting '{source}' to '{target}' would make a cycle; flows are acyclic")
        elif isinstance(result, Unique):
            self._add_edge(source, result.pair.source.name, target, result.pair.target.name)
            self.note("success", f"connected {source}.{result.pair.source.name} → {target}.{result.pair.target.name}")
        elif isinstance(result, Ambiguous):
            self.pending = PendingConnect(source, target, tuple(_choice(p) for p in result.pairs))
        elif isinstance(result, Incompatible):
            self.note("error", result.message)

    def choose(self, index: int) -> None:
        """Wire the pending connection with its `index`-th port pair."""
        pending, self.pending = self.pending, None
        if pending is None or not 0 <= index < len(pending.pairs):
            return
        out, inp, _ = pending.pairs[index]
        self._add_edge(pending.source, out, pending.target, inp)
        self.note("success", f"connected {pending.source}.{out} → {pending.target}.{inp}")

    def _makes_cycle(self, source: str, target: str, registry: Registry) -> bool:
        graph = ordering_graph(self.flow, registry)
        return target in graph and source in graph and nx.has_path(graph, target, source)

    # ------------------------------------------------------------ canvas
    def check_shown(self, value: Any) -> None:
        """Push again when the canvas reports something other than our last push.

        The component lays nodes out asynchronously after each push; a layout started
        before a newer push can finish after it and put the older nodes back (e.g. a
        'running' status after 'done'). Its report shows that, so we redraw.
        """
        if self.pushed_view is not None and canvas.view_signature(value) != self.pushed_view:
            self.force_push = True

    def apply_event(self, event: CanvasEvent, registry: Registry) -> None:
        """Fold in what the user did on the canvas (only called for a new timestamp)."""
        self.last_event_ts = max(self.last_event_ts, event.timestamp)
        if event.moved:
            self.edit(canvas.apply_moves(self.flow, event.moved))
        for source, target in event.connects:
            self.connect(source, target, registry)
        if event.selected is not None and not event.connects:
            self.selected = event.selected
            self.pending = None

    def looks(self, registry: Registry) -> dict[str, NodeLook]:
        problems: dict[str, list[str]] = {}
        for issue in self.issues(registry):
            if issue.node:
                problems.setdefault(issue.node, []).append(str(issue))
        snap = self.run.snapshot() if self.run is not None else None
        out = {}
        for n in self.flow.nodes:
            trace = snap.nodes.get(n.id) if snap else None
            note = ""
            if trace is not None and trace.duration is not None:
                note = f"{trace.duration:.2f} s"
                if trace.usage and trace.usage.get("total_tokens"):
                    note += f" · {trace.usage['total_tokens']} tok"
            out[n.id] = NodeLook(status=trace.status if trace else None,
                                 problems=tuple(problems.get(n.id, ())), note=note,
                                 selected=n.id == self.selected)
        return out

    def canvas_state(self, registry: Registry) -> tuple[Any, bool]:
        """The state to hand the component and whether it is a push (the drawing changed).

        What the user changes on the canvas itself (positions, selection) is already
        on screen, so it is left out of the comparison; everything else (nodes, edges,
        names, config, statuses, problems) pushes. The component replaces its nodes with
        ours only when our timestamp is not older than the last one it produced. A push
        therefore carries a timestamp far ahead of any clock (no echo of the component
        and no clock skew can make it stale), and every other run carries 0, which the
        component ignores, so it keeps what the user sees.
        """
        looks = self.looks(registry)
        state = canvas.flow_to_canvas(self.flow, registry, looks=looks, selected=self.selected, timestamp=0)
        sig = self._signature(looks)
        if sig != self.drawn or self.force_push:
            self.push_ts = max(canvas.now_ms() + PUSH_AHEAD_MS, self.push_ts + 1)
            state.timestamp = self.push_ts
            self.drawn, self.force_push = sig, False
            self.pushed_view = canvas.view_signature(state)
            return state, True
        return state, False

    def _signature(self, looks: dict[str, NodeLook]) -> str:
        nodes = [(n.id, n.type, n.version, n.name, n.config, n.policy.model_dump(mode="json"),
                  dataclasses.astuple(looks[n.id])[:3]) for n in self.flow.nodes]
        body = json.dumps([nodes, [canvas.edge_id(e) for e in self.flow.edges]], sort_keys=True, default=str)
        return hashlib.sha1(body.encode(), usedforsecurity=False).hexdigest()


def _choice(pair: PortPair) -> tuple[str, str, str]:
    return (pair.source.name, pair.target.name, pair.describe())
