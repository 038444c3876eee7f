"""The canvas component's edit ops, applied to a Flow (pure: no Streamlit, no state).

`apply_ops(flow, ops, registry)` applies one batch (see ui/canvas_component/
PROTOCOL.md) in order, all or nothing: it returns the edited flow plus what the
page must do beyond the graph (selection, panel, actions), or raises OpRefused
naming the op and the fix. Python re-checks every connection the client already
checked (node and port exist, types fit, a single input is free, no cycle), so a
stale or forged message can never put a bad edge into the flow.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
from pydantic import ValidationError

from engine.flow import ID_PATTERN, Edge, Flow, FlowNode
from engine.node import NodeSpec
from engine.ports import Port, fits
from engine.registry import Registry
from engine.validate import ordering_graph

_ID = re.compile(ID_PATTERN)
_UNSET = object()


class OpRefused(ValueError):
    """An op that cannot be applied; the message says which and how to fix it."""


@dataclass
class Applied:
    """The outcome of a batch: the new flow and what the page should do next."""

    flow: Flow
    selected: Any = _UNSET          # a node/edge id, None (cleared) or _UNSET (unchanged)
    panel: str | None = None        # "properties" | "outputs" when a select asked for it
    actions: list[tuple[str, Any]] = field(default_factory=list)
    config_changed: bool = False    # some node's config changed (forms must redraw)
    layout_only: bool = False       # only positions changed (e.g. an elk layout)

    @property
    def selection_changed(self) -> bool:
        return self.selected is not _UNSET


def initial_config(spec: NodeSpec, node_id: str) -> dict[str, Any]:
    """The config a fresh node starts with: a flow input/output is named after its id."""
    if spec.role and "name" in spec.config.model_fields:
        return {"name": node_id}
    return {}


def node_ports(spec: NodeSpec | None, config: Mapping[str, Any], version: int = 0
               ) -> tuple[tuple[Port, ...], tuple[Port, ...]]:
    """The node's (inputs, outputs) for its current config; fixed ports when the config is invalid."""
    if spec is None:
        return (), ()
    try:
        cfg = spec.config.model_validate(spec.migrate(version or spec.version, dict(config)))
        return spec.input_ports(cfg), spec.output_ports(cfg)
    except Exception:  # noqa: BLE001 - a half-edited config still gets its fixed ports drawn
        return (() if callable(spec.inputs) else tuple(spec.inputs),
                () if callable(spec.outputs) else tuple(spec.outputs))


def apply_ops(flow: Flow, ops: Sequence[Mapping[str, Any]], registry: Registry) -> Applied:
    """Apply one batch of ops in order; OpRefused leaves the caller's flow untouched."""
    result = Applied(flow)
    kinds = set()
    for n, op in enumerate(ops, 1):
        kind = str(op.get("op"))
        kinds.add(kind)
        handler = _HANDLERS.get(kind)
        if handler is None:
            raise OpRefused(f"op #{n}: unknown op '{kind}'; expected one of {', '.join(_HANDLERS)}")
        try:
            handler(result, op, registry)
        except (KeyError, TypeError, ValueError, ValidationError) as err:
            if isinstance(err, OpRefused):
                raise
            raise OpRefused(f"op #{n} ({kind}): malformed: {err}") from err
    result.layout_only = kinds == {"move"}
    return result


# ---------------------------------------------------------------- nodes
def _add_node(result: Applied, op: Mapping[str, Any], registry: Registry) -> None:
    node_id, type_id = str(op["id"]), str(op["type"])
    spec = _spec(registry, type_id)
    _new_id(result.flow, node_id)
    fnode = FlowNode(id=node_id, type=type_id, version=spec.version, config=initial_config(spec, node_id),
                     position=_position(op.get("position")))
    result.flow = result.flow.model_copy(update={"nodes": [*result.flow.nodes, fnode]})
    result.selected = node_id


def _paste(result: Applied, op: Mapping[str, Any], registry: Registry) -> None:
    nodes = list(result.flow.nodes)
    for raw in op.get("nodes") or []:
        node_id, type_id = str(raw["id"]), str(raw["type"])
        spec = _spec(registry, type_id)
        _new_id(result.flow.model_copy(update={"nodes": nodes}), node_id)
        config = dict(raw["config"]) if isinstance(raw.get("config"), dict) else initial_config(spec, node_id)
        nodes.append(FlowNode(id=node_id, type=type_id, version=spec.version, name=str(raw.get("name") or ""),
                              config=config, position=_position(raw.get("position"))))
    result.flow = result.flow.model_copy(update={"nodes": nodes})
    for edge in op.get("edges") or []:
        _connect(result, edge, registry)
    result.config_changed = True


def _remove(result: Applied, op: Mapping[str, Any], registry: Registry) -> None:
    gone = {str(n) for n in op.get("nodes") or []}
    cut = {(str(e["from"]), str(e["to"])) for e in op.get("edges") or []}
    flow = result.flow
    nodes = [n for n in flow.nodes if n.id not in gone]
    edges = [e for e in flow.edges
             if (e.source, e.target) not in cut and e.source_node not in gone and e.target_node not in gone]
    result.flow = flow.model_copy(update={"nodes": nodes, "edges": edges})
    selected = result.selected if result.selection_changed else None
    if selected in gone or (isinstance(selected, str) and "->" in selected and tuple(selected.split("->")) in cut):
        result.selected = None


def _move(result: Applied, op: Mapping[str, Any], registry: Registry) -> None:
    positions = {str(k): _position(v) for k, v in (op.get("positions") or {}).items()}
    nodes = [n.model_copy(update={"position": positions[n.id]}) if n.id in positions else n
             for n in result.flow.nodes]
    result.flow = result.flow.model_copy(update={"nodes": nodes})


def _select(result: Applied, op: Mapping[str, Any], registry: Registry) -> None:
    target = op.get("id")
    result.selected = str(target) if target else None
    result.panel = str(op["panel"]) if op.get("panel") else None


def _set_config(result: Applied, op: Mapping[str, Any], registry: Registry) -> None:
    node_id = str(op["id"])
    if result.flow.node(node_id) is None:
        raise OpRefused(f"set_config: no node '{node_id}' in the flow; reload the page")
    update: dict[str, Any] = {"config": dict(op.get("config") or {})}
    if isinstance(op.get("name"), str):
        update["name"] = op["name"]
    nodes = [n.model_copy(update=update) if n.id == node_id else n for n in result.flow.nodes]
    result.flow = result.flow.model_copy(update={"nodes": nodes})
    result.config_changed = True


def _action(result: Applied, op: Mapping[str, Any], registry: Registry) -> None:
    result.actions.append((str(op["name"]), op.get("arg")))


# ---------------------------------------------------------------- edges
def _connect(result: Applied, op: Mapping[str, Any], registry: Registry) -> None:
    flow = result.flow
    source, target = str(op["from"]), str(op["to"])
    edge = Edge.model_validate({"from": source, "to": target})
    out_port = _port(flow, registry, edge.source_node, edge.source_port, "output")
    in_port = _port(flow, registry, edge.target_node, edge.target_port, "input")
    where = f"cannot connect {source} → {target}"
    if not fits(out_port.type, in_port.type):
        raise OpRefused(f"{where}: input '{edge.target_port}' expects {in_port.type.value}, "
                        f"got {out_port.type.value}; connect an output of type {in_port.type.value}")
    if any(e.source == source and e.target == target for e in flow.edges):
        raise OpRefused(f"{where}: that edge already exists")
    if not in_port.multiple and any(e.target == target for e in flow.edges):
        raise OpRefused(f"{where}: input '{edge.target_port}' of '{edge.target_node}' already has an edge; "
                        "delete that edge first")
    if not out_port.static and _makes_cycle(flow, registry, edge.source_node, edge.target_node):
        raise OpRefused(f"{where}: it would make a cycle ({edge.target_node} already leads to "
                        f"{edge.source_node}); flows are acyclic")
    result.flow = flow.model_copy(update={"edges": [*flow.edges, edge]})


def _port(flow: Flow, registry: Registry, node_id: str, port: str, side: str) -> Port:
    fnode = flow.node(node_id)
    if fnode is None:
        raise OpRefused(f"connect: no node '{node_id}' in the flow; reload the page")
    spec = registry.get(fnode.type) if fnode.type in registry else None
    if spec is None:
        raise OpRefused(f"node '{node_id}' has the unknown type '{fnode.type}'; fix or delete it first")
    ins, outs = node_ports(spec, fnode.config, fnode.version)
    ports = outs if side == "output" else ins
    found = next((p for p in ports if p.name == port), None)
    if found is None:
        names = ", ".join(f"{p.name} ({p.type.value})" for p in ports) or "none"
        raise OpRefused(f"node '{node_id}': {side} '{port}' does not exist; {side}s are: {names}")
    return found


def _makes_cycle(flow: Flow, registry: Registry, source: str, target: str) -> bool:
    if source == target:
        return True
    graph = ordering_graph(flow, registry)
    return target in graph and source in graph and nx.has_path(graph, target, source)


# ---------------------------------------------------------------- helpers
def _spec(registry: Registry, type_id: str) -> NodeSpec:
    if type_id not in registry:
        raise OpRefused(f"unknown node type '{type_id}'; pick one from the palette")
    return registry.get(type_id)


def _new_id(flow: Flow, node_id: str) -> None:
    if not _ID.match(node_id):
        raise OpRefused(f"'{node_id}' is not a valid node id: it starts with a letter or _ and has only "
                        "letters, digits, _ and - (at most 64)")
    if flow.node(node_id) is not None:
        raise OpRefused(f"a node with the id '{node_id}' already exists; reload the page")


def _position(raw: Any) -> tuple[float, float] | None:
    if raw is None:
        return None
    x, y = raw
    return (round(float(x), 1), round(float(y), 1))


_HANDLERS = {"add_node": _add_node, "remove": _remove, "connect": _connect, "move": _move, "select": _select,
             "set_config": _set_config, "paste": _paste, "action": _action}
