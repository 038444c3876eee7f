"""The canvas component's args, built from a Flow and the registry (pure: no Streamlit).

`graph_args` draws a flow as PROTOCOL.md's `graph` (each node with the ports of its
current config, a one-line config summary and its problems; each edge with the
type of its source port), `catalog_args` lists every node type for the palette, and
`compat_args` is `engine.ports.fits` as a table so the browser decides exactly as
the engine does which ports may be connected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from engine.flow import Edge, Flow, FlowNode
from engine.issues import Issue
from engine.node import NodeConfig, NodeSpec
from engine.ports import Port, PortType, fits
from engine.registry import Registry

SUMMARY_CHARS = 60
VALUE_CHARS = 24
SECRET_WORDS = ("key", "token", "secret", "password")   # never shown on the canvas


def edge_id(edge: Edge) -> str:
    """The edge's id on the canvas: `a.out->b.in`."""
    return f"{edge.source}->{edge.target}"


def compat_args() -> dict[str, list[str]]:
    """{output type: [input types it may feed]}, from the engine's own rule."""
    return {src.value: sorted(dst.value for dst in PortType if fits(src, dst)) for src in PortType}


def port_args(port: Port, *, output: bool = False) -> dict[str, Any]:
    """One port as the component draws it."""
    out: dict[str, Any] = {"name": port.name, "type": port.type.value, "description": port.description}
    if output:
        if port.static:
            out["static"] = True
        return out
    out.update(required=port.required, multiple=port.multiple)
    return out


def safe_ports(spec: NodeSpec | None, config: Mapping[str, Any], version: int = 0
               ) -> tuple[tuple[Port, ...], tuple[Port, ...]]:
    """The node's (inputs, outputs) for its current config, even a half-edited one
    (the engine's rule, `NodeSpec.ports_for`); none for an unknown type."""
    return ((), ()) if spec is None else spec.ports_for(config, version or None)


def catalog_args(registry: Registry) -> list[dict[str, Any]]:
    """Every node type with its ports for the default config, for the palette."""
    out = []
    for spec in registry:
        ins, outs = safe_ports(spec, {})
        out.append({"type": spec.type, "family": spec.family, "title": spec.title,
                    "description": spec.description, "role": spec.role,
                    "inputs": [port_args(p) for p in ins],
                    "outputs": [port_args(p, output=True) for p in outs]})
    return out


def _short(value: Any) -> str:
    if isinstance(value, str):
        text = " ".join(value.split())
    elif isinstance(value, list | tuple):
        text = f"{len(value)} item{'s' if len(value) != 1 else ''}"
    elif isinstance(value, dict):
        text = f"{len(value)} field{'s' if len(value) != 1 else ''}"
    else:
        text = str(value)
    return text if len(text) <= VALUE_CHARS else text[:VALUE_CHARS - 1] + "…"


_REQUIRED = object()
_DEFAULTS: dict[type, dict[str, Any]] = {}


def _defaults(config: type[NodeConfig]) -> dict[str, Any]:
    """Each config field's default (`_REQUIRED` when it has none), computed once per
    config class: pydantic's `get_default` inspects the factory's signature each call."""
    if config not in _DEFAULTS:
        _DEFAULTS[config] = {name: _REQUIRED if f.is_required() else f.get_default(call_default_factory=True)
                             for name, f in config.model_fields.items()}
    return _DEFAULTS[config]


def summary(fnode: FlowNode, spec: NodeSpec | None) -> str:
    """The node's config in one line: the fields that differ from their defaults."""
    if spec is None:
        return f"unknown type '{fnode.type}'"
    parts = []
    for name, default in _defaults(spec.config).items():
        if name not in fnode.config or any(w in name.lower() for w in SECRET_WORDS):
            continue
        value = fnode.config[name]
        if default is not _REQUIRED and value == default:
            continue
        if value in ("", None, [], {}):
            continue
        parts.append(f"{name}: {_short(value)}")
    text = " · ".join(parts)
    return text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS - 1] + "…"


def _node_problems(issues: Iterable[Issue]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for issue in issues:
        if issue.node is None:
            continue
        text = (f"port '{issue.port}': " if issue.port else "") + issue.message
        out.setdefault(issue.node, []).append(text + (f" ({issue.hint})" if issue.hint else ""))
    return out


def node_args(fnode: FlowNode, spec: NodeSpec | None, problems: list[str]) -> dict[str, Any]:
    """One flow node as the component draws it."""
    ins, outs = safe_ports(spec, fnode.config, fnode.version)
    return _node_args(fnode, spec, problems, ins, outs)


def _node_args(fnode: FlowNode, spec: NodeSpec | None, problems: list[str],
               ins: tuple[Port, ...], outs: tuple[Port, ...]) -> dict[str, Any]:
    return {"id": fnode.id, "type": fnode.type, "name": fnode.name,
            "title": fnode.name or (spec.title if spec else fnode.type),
            "position": [round(fnode.position[0], 1), round(fnode.position[1], 1)] if fnode.position else None,
            "config": fnode.config, "summary": summary(fnode, spec),
            "role": spec.role if spec else None,
            "inputs": [port_args(p) for p in ins], "outputs": [port_args(p, output=True) for p in outs],
            "problems": problems}


def edge_args(edge: Edge, outputs: Mapping[str, Mapping[str, Port]],
              inputs: Mapping[str, Mapping[str, Port]]) -> dict[str, Any]:
    """One edge with its source port's type, and what is wrong with it (or None)."""
    src = outputs.get(edge.source_node, {}).get(edge.source_port)
    dst = inputs.get(edge.target_node, {}).get(edge.target_port)
    problem = None
    if src is None:
        problem = f"'{edge.source_node}' has no output '{edge.source_port}'"
    elif dst is None:
        problem = f"'{edge.target_node}' has no input '{edge.target_port}'"
    elif not fits(src.type, dst.type):
        problem = f"expected {dst.type.value}, got {src.type.value}"
    return {"from": edge.source, "to": edge.target,
            "type": src.type.value if src else PortType.ANY.value, "problem": problem}


def graph_args(flow: Flow, registry: Registry, problems: Iterable[Issue] = ()) -> dict[str, Any]:
    """PROTOCOL.md's `graph` for `flow`; `problems` are its validation issues."""
    by_node = _node_problems(problems)
    nodes = []
    outputs: dict[str, dict[str, Port]] = {}
    inputs: dict[str, dict[str, Port]] = {}
    for fnode in flow.nodes:
        spec = registry.get(fnode.type) if fnode.type in registry else None
        ins, outs = safe_ports(spec, fnode.config, fnode.version)
        inputs[fnode.id] = {p.name: p for p in ins}
        outputs[fnode.id] = {p.name: p for p in outs}
        nodes.append(_node_args(fnode, spec, by_node.get(fnode.id, []), ins, outs))
    return {"id": flow.id, "nodes": nodes, "edges": [edge_args(e, outputs, inputs) for e in flow.edges]}
