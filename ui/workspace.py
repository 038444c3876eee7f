"""The editing model behind the builder page: one flow being edited, without Streamlit.

A Workspace holds the working copy of a flow, the stored version it is based on,
the selection, notices, the live run, and the canvas bookkeeping of the protocol
in ui/canvas_component/PROTOCOL.md: `ack` (the last component batch applied) and
`revision` (bumped whenever the graph Python would draw changes, so the component
takes it). Every edit goes through a method here, so the page code only renders
and dispatches, and every rule is unit-tested.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from engine.flow import ID_PATTERN, Edge, Flow, NodePolicy, dumps_flow
from engine.registry import Registry
from engine.validate import Issue, check
from ui.canvas_component.graph import graph_args
from ui.live import LiveRun
from ui.ops import Applied, OpRefused, apply_ops, initial_config

NOTICE_SECONDS = 12.0
MAX_NOTICES = 3
_ID = re.compile(ID_PATTERN)

__all__ = ["Applied", "Notice", "Workspace", "blank_flow", "edge_id", "flow_slug", "initial_config",
           "unique_flow_id"]


@dataclass(frozen=True)
class Notice:
    level: str   # info | success | warning | error
    text: str
    at: float = 0.0
    id: int = 0


def edge_id(edge: Edge) -> str:
    return f"{edge.source}->{edge.target}"


def flow_slug(name: str, fallback: str = "flow") -> str:
    """A flow id from its name: `My flow!` -> `my-flow` (valid under ID_PATTERN)."""
    out = re.sub(r"[^a-z0-9]+", "-", name.strip().lower()).strip("-")[:56].strip("-")
    if not out or not out[0].isalpha():
        out = f"{fallback}-{out}".strip("-")
    return out


def unique_flow_id(name: str, taken: set[str]) -> str:
    """`my-flow`, else `my-flow-2`, `my-flow-3`, ... whichever `taken` lacks."""
    base = flow_slug(name)
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def blank_flow(flow_id: str = "untitled-flow", name: str = "Untitled flow") -> Flow:
    return Flow(id=flow_id, name=name)


@dataclass
class Workspace:
    flow: Flow = field(default_factory=blank_flow)
    version: int | None = None        # the stored version this copy is based on
    saved_text: str | None = None     # canonical text of that version (dirty check)
    source: str = "new"               # new | saved | example | template | import | draft
    id_from_name: bool = True         # a never-saved flow's id follows its name
    selected: str | None = None
    notices: list[Notice] = field(default_factory=list)
    revision: int = 1                 # the graph revision the component should show
    ack: int = 0                      # seq of the last component batch applied
    drawn: str | None = None          # signature of the graph at `revision`
    form_gen: int = 0                 # bumped when config changes behind the forms
    run: LiveRun | None = None
    toast: dict[str, Any] | None = None   # the component's `notice` arg (a refused batch)
    _notice_seq: int = 0
    _issues: tuple[Flow, list[Issue]] | None = None
    _text: tuple[Flow, str] | None = None             # the canonical text, per flow object
    _graph: tuple[Flow, dict[str, Any]] | None = None  # the canvas graph arg, per flow object

    # ------------------------------------------------------------ state
    @property
    def dirty(self) -> bool:
        """Unsaved changes: the copy differs from its stored version (never saved: has nodes)."""
        if self.saved_text is None:
            return bool(self.flow.nodes or self.flow.edges)
        return self.canonical() != self.saved_text

    def canonical(self) -> str:
        """`dumps_flow(self.flow)`, made once per flow object: every edit swaps the flow
        (it is never changed in place), and a rerun asks several times (~40 ms at 100 nodes)."""
        if self._text is None or self._text[0] is not self.flow:
            self._text = (self.flow, dumps_flow(self.flow))
        return self._text[1]

    def note(self, level: str, text: str) -> None:
        self._notice_seq += 1
        self.notices = [*self.notices, Notice(level, text, time.monotonic(), self._notice_seq)][-MAX_NOTICES:]

    def current_notices(self) -> list[Notice]:
        now = time.monotonic()
        self.notices = [n for n in self.notices if now - n.at < NOTICE_SECONDS]
        return list(self.notices)

    def load(self, flow: Flow, *, version: int | None, source: str, saved_text: str | None = None) -> None:
        """Replace the working copy; `saved_text` is the stored version's text when it differs."""
        self.flow, self.version, self.source = flow, version, source
        self.saved_text = saved_text if saved_text is not None else (dumps_flow(flow) if version is not None else None)
        self.id_from_name = version is None and source == "new"
        self.selected, self.run, self.toast = None, None, None
        self.form_gen += 1
        self.revision += 1
        self.drawn = None

    def mark_saved(self, version: int) -> None:
        self.version, self.saved_text, self.source, self.id_from_name = version, self.canonical(), "saved", False

    def issues(self, registry: Registry) -> list[Issue]:
        if self._issues is None or self._issues[0] is not self.flow:   # once per flow object
            self._issues = (self.flow, check(self.flow, registry)[1])
        return self._issues[1]

    def problems_by_node(self, registry: Registry) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for issue in self.issues(registry):
            if issue.node:
                out.setdefault(issue.node, []).append(issue.message + (f" — {issue.hint}" if issue.hint else ""))
        return out

    # ------------------------------------------------------------ the component's batches
    def apply_batch(self, seq: int, ops: Sequence[Mapping[str, Any]], registry: Registry) -> Applied | None:
        """Apply one batch of the component's ops (all or nothing); None when refused.

        The batch is acknowledged either way; a refused one is answered with a new
        revision (the component goes back to Python's graph) and a notice saying why.
        """
        if seq <= self.ack:
            return None
        self.ack = seq
        try:
            applied = apply_ops(self.flow, ops, registry)
        except OpRefused as err:
            self.refuse(str(err))
            return None
        if applied.layout_only and not self.dirty:
            self.saved_text = dumps_flow(applied.flow) if self.saved_text is not None else None
        self.flow = applied.flow
        if applied.selection_changed:
            self.selected = applied.selected
        if applied.config_changed:
            self.form_gen += 1
        if self.selected and not self._exists(self.selected):
            self.selected = None
        return applied

    def refuse(self, message: str) -> None:
        self.note("error", message)
        self._notice_seq += 1
        self.toast = {"id": self._notice_seq, "level": "error", "text": message}
        self.revision += 1

    def canvas_graph(self, registry: Registry) -> tuple[dict[str, Any], int]:
        """The canvas component's `graph` arg and its revision, built once per flow object
        (a select or a run poll reruns the editor without changing the flow)."""
        if self._graph is None or self._graph[0] is not self.flow or self.drawn is None:
            graph = graph_args(self.flow, registry, self.issues(registry))
            self._graph = (self.flow, graph)
            self.sync_revision(graph)
        return self._graph[1], self.revision

    def sync_revision(self, graph: Mapping[str, Any]) -> int:
        """Bump `revision` when the graph Python would draw differs from the last one drawn."""
        sig = hashlib.sha1(json.dumps(graph, sort_keys=True, default=str).encode(), usedforsecurity=False).hexdigest()
        if sig != self.drawn:
            if self.drawn is not None:
                self.revision += 1
            self.drawn = sig
        return self.revision

    def _exists(self, item: str) -> bool:
        return self.flow.node(item) is not None or any(edge_id(e) == item for e in self.flow.edges)

    # ------------------------------------------------------------ edits from the panels
    def _edit(self, flow: Flow) -> None:
        self.flow = flow

    def delete_node(self, node_id: str) -> None:
        nodes = [n for n in self.flow.nodes if n.id != node_id]
        edges = [e for e in self.flow.edges if node_id not in (e.source_node, e.target_node)]
        dropped = len(self.flow.edges) - len(edges)
        self._edit(self.flow.model_copy(update={"nodes": nodes, "edges": edges}))
        if self.selected and not self._exists(self.selected):
            self.selected = None
        self.note("info", f"deleted node '{node_id}'" + (f" and {dropped} edge(s)" if dropped else ""))

    def delete_edge(self, eid: str) -> None:
        self._edit(self.flow.model_copy(update={"edges": [e for e in self.flow.edges if edge_id(e) != eid]}))
        if self.selected == eid:
            self.selected = None

    def update_node(self, node_id: str, **changes: Any) -> None:
        nodes = [n.model_copy(update=changes) if n.id == node_id else n for n in self.flow.nodes]
        self._edit(self.flow.model_copy(update={"nodes": nodes}))

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
        self._edit(self.flow.model_copy(update={"nodes": nodes, "edges": edges}))
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
                      flow_id: str | None = None, taken: Callable[[], set[str]] | None = None) -> str | None:
        """Change the flow's name, description or id; a never-saved flow's id follows its name."""
        update: dict[str, Any] = {}
        if name is not None and name != self.flow.name:
            update["name"] = name
            if self.id_from_name and self.version is None and flow_id is None:
                update["id"] = unique_flow_id(name or "flow", taken() if taken else set())
        if description is not None and description != self.flow.description:
            update["description"] = description
        if flow_id is not None and flow_id != self.flow.id:
            if not _ID.match(flow_id):
                return "a flow id starts with a letter or _ and has only letters, digits, _ and -"
            update["id"] = flow_id
            self.id_from_name = False
        update = {k: v for k, v in update.items() if getattr(self.flow, k) != v}
        if not update:
            return None
        try:
            flow = Flow.model_validate({**self.flow.model_dump(by_alias=True), **update})
        except ValidationError as err:
            return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        self._edit(flow)
        if "id" in update and self.version is not None:
            self.version, self.saved_text = None, None   # a new id is a new stored flow
        return None
