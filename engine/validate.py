"""Validation: every problem of a flow at once, and the runnable Plan when none.

`check(flow, registry)` returns (plan or None, issues); `compile_flow` raises
ValidationFailed listing all issues. Each Issue names a code, a node, a port, what
is wrong and how to fix it. Nothing a flow contains is executed here.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import networkx as nx
from pydantic import ValidationError

from engine.errors import ValidationFailed
from engine.flow import Edge, Flow, FlowNode
from engine.issues import Issue
from engine.node import NodeSpec
from engine.plan import Plan, PlannedNode, Wire
from engine.ports import Port, fits
from engine.registry import Registry

__all__ = ["Issue", "Plan", "PlannedNode", "Wire", "check", "compile_flow", "ordering_graph",
           "static_outputs", "validate"]

MAX_CYCLES_REPORTED = 5


def _port_list(ports: dict[str, Port]) -> str:
    return ", ".join(p.label() for p in ports.values()) or "none"


class _Checker:
    def __init__(self, flow: Flow, registry: Registry) -> None:
        self.flow = flow
        self.registry = registry
        self.issues: list[Issue] = []
        self.nodes: dict[str, PlannedNode] = {}
        self.known_ids: set[str] = set()   # ids that exist even if their node has problems
        self.wires: list[Wire] = []

    def add(self, code: str, message: str, node: str | None = None, port: str | None = None,
            hint: str = "") -> None:
        self.issues.append(Issue(code, message, node, port, hint))

    def run(self) -> Plan | None:
        self.check_ids()
        for fnode in self.flow.nodes:
            self.check_node(fnode)
        self.check_edges()
        self.check_required_inputs()
        graph = self.check_cycles()
        input_nodes, output_nodes = self.check_io()
        if self.issues:
            return None
        incoming: dict[str, list[Wire]] = {nid: [] for nid in self.nodes}
        outgoing: dict[str, list[Wire]] = {nid: [] for nid in self.nodes}
        for w in self.wires:
            incoming[w.target].append(w)
            outgoing[w.source].append(w)
        return Plan(self.flow, self.nodes, self.wires, graph, incoming, outgoing,
                    input_nodes, output_nodes)

    def check_ids(self) -> None:
        counts = Counter(n.id for n in self.flow.nodes)
        for node_id, n in counts.items():
            if n > 1:
                self.add("duplicate_id", f"the id is used by {n} nodes", node_id,
                         hint="give every node its own id")
        self.known_ids = set(counts)

    def check_node(self, fnode: FlowNode) -> None:
        if fnode.type not in self.registry:
            self.add("unknown_type", f"unknown node type '{fnode.type}'", fnode.id,
                     hint=self.registry.suggest(fnode.type))
            return
        spec = self.registry.get(fnode.type)
        if fnode.version > spec.version:
            self.add("version_too_new",
                     f"node type '{spec.type}' is at version {spec.version} here, but the flow "
                     f"was written for version {fnode.version}", fnode.id,
                     hint="upgrade chainloom to run this flow")
            return
        try:
            raw = spec.migrate(fnode.version, fnode.config)
            config = spec.config.model_validate(raw)
        except ValidationError as err:
            for e in err.errors():
                self.config_issue(fnode.id, spec, e)
            return
        except Exception as err:  # noqa: BLE001 - a broken migration is reported, not raised
            self.add("bad_config", f"config cannot be upgraded from version {fnode.version}: {err}",
                     fnode.id)
            return
        if fnode.policy.retries and spec.side_effects:
            self.add("unsafe_retry", f"'{spec.type}' has side effects and is never retried",
                     fnode.id, hint="set policy.retries to 0")
        try:
            inputs = {p.name: p for p in spec.input_ports(config)}
            outputs = {p.name: p for p in spec.output_ports(config)}
        except Exception as err:  # noqa: BLE001
            self.add("bad_config", f"ports cannot be derived from the config: {err}", fnode.id)
            return
        if fnode.id in self.nodes:
            return  # duplicate id, already reported
        self.nodes[fnode.id] = PlannedNode(fnode.id, spec, config, inputs, outputs, fnode.policy)

    def config_issue(self, node_id: str, spec: NodeSpec, err: Any) -> None:
        loc = ".".join(str(p) for p in err["loc"]) or "(config)"
        top = str(err["loc"][0]) if err["loc"] else ""
        field_info = spec.config.model_fields.get(top)
        extra = field_info.json_schema_extra if field_info else None
        hint = ""
        if isinstance(extra, dict) and extra.get("secret"):
            hint = "secret fields hold the NAME of an environment variable (e.g. OPENAI_API_KEY), never the key"
        elif err["type"] == "extra_forbidden":
            hint = "valid fields are: " + ", ".join(spec.config.model_fields)
        self.issues.append(Issue("bad_config", f"config field '{loc}': {err['msg']}", node_id, hint=hint,
                                 field=f"config.{loc}" if err["loc"] else None))

    def check_edges(self) -> None:
        seen: set[tuple[str, str]] = set()
        for edge in self.flow.edges:
            if (edge.source, edge.target) in seen:
                self.add("duplicate_edge", f"edge {edge} appears more than once", edge.target_node,
                         edge.target_port, hint="remove the copy")
                continue
            seen.add((edge.source, edge.target))
            self.check_edge(edge)
        per_port = Counter((w.target, w.target_port) for w in self.wires)
        for (node_id, port_name), n in per_port.items():
            port = self.nodes[node_id].inputs[port_name]
            if n > 1 and not port.multiple:
                self.add("too_many_edges", f"{n} edges go into this port, which takes one",
                         node_id, port_name, hint="add a merge node to combine them")

    def check_edge(self, edge: Edge) -> None:
        ok = True
        for end, node_id in (("comes from", edge.source_node), ("goes to", edge.target_node)):
            if node_id not in self.known_ids:
                self.add("dangling_edge", f"edge {edge} {end} node '{node_id}', which does not exist",
                         node_id, hint="remove the edge or add the node")
                ok = False
        if not ok or edge.source_node not in self.nodes or edge.target_node not in self.nodes:
            return
        src, dst = self.nodes[edge.source_node], self.nodes[edge.target_node]
        out_port = src.outputs.get(edge.source_port)
        in_port = dst.inputs.get(edge.target_port)
        if out_port is None:
            self.add("unknown_port", f"output port '{edge.source_port}' does not exist; "
                     f"outputs are: {_port_list(src.outputs)}", src.id, edge.source_port)
        if in_port is None:
            self.add("unknown_port", f"input port '{edge.target_port}' does not exist; "
                     f"inputs are: {_port_list(dst.inputs)}", dst.id, edge.target_port)
        if out_port is None or in_port is None:
            return
        if not fits(out_port.type, in_port.type):
            fitting = [p.name for p in dst.inputs.values() if fits(out_port.type, p.type)]
            hint = (f"ports of '{dst.id}' that take {out_port.type.value}: {', '.join(fitting)}"
                    if fitting else f"no input of '{dst.id}' takes {out_port.type.value}")
            self.add("type_mismatch", f"edge {edge} sends {out_port.type.value} into "
                     f"{in_port.type.value}", dst.id, in_port.name, hint=hint)
            return
        self.wires.append(Wire(src.id, out_port.name, dst.id, in_port.name))

    def check_required_inputs(self) -> None:
        connected = {(w.target, w.target_port) for w in self.wires}
        broken = {e.target_node for e in self.flow.edges} - {w.target for w in self.wires}
        for node in self.nodes.values():
            for port in node.inputs.values():
                if port.required and (node.id, port.name) not in connected:
                    if node.id in broken and any(e.target == f"{node.id}.{port.name}" for e in self.flow.edges):
                        continue  # its edge is already reported as broken
                    self.add("missing_input", f"required input ({port.type.value}) is not connected",
                             node.id, port.name,
                             hint=f"connect an output of type {port.type.value} to '{node.id}.{port.name}'")

    def check_cycles(self) -> "nx.DiGraph[str]":
        graph: nx.DiGraph[str] = nx.DiGraph()
        graph.add_nodes_from(self.nodes)
        graph.add_edges_from((w.source, w.target) for w in self.wires
                             if not self.nodes[w.source].outputs[w.source_port].static)
        for n, cycle in enumerate(nx.simple_cycles(graph)):
            if n >= MAX_CYCLES_REPORTED:
                break
            start = cycle.index(min(cycle))
            cycle = cycle[start:] + cycle[:start]
            path = " -> ".join([*cycle, cycle[0]])
            self.add("cycle", f"cycle: {path}", cycle[0],
                     hint="flows are acyclic; for loops use an agent node")
        return graph

    def check_io(self) -> tuple[dict[str, str], dict[str, str]]:
        found: dict[str, dict[str, str]] = {"input": {}, "output": {}}
        for node in self.nodes.values():
            role = node.spec.role
            if role is None:
                continue
            name = getattr(node.config, "name", node.id)
            if name in found[role]:
                self.add(f"duplicate_{role}", f"flow {role} name '{name}' is also used by node "
                         f"'{found[role][name]}'", node.id, hint=f"give each {role} node its own name")
            found[role][name] = node.id
        if not found["output"] and not any(i.code == "unknown_type" for i in self.issues):
            self.add("no_output", "the flow has no output node, so a run would return nothing",
                     hint="add an output.text (or another output.*) node")
        return found["input"], found["output"]


def static_outputs(flow: Flow, registry: Registry) -> set[str]:
    """`node.port` of every static output in the flow (tolerates nodes with problems)."""
    found: set[str] = set()
    for fnode in flow.nodes:
        if fnode.type not in registry:
            continue
        spec = registry.get(fnode.type)
        try:
            ports = spec.output_ports(spec.config.model_validate(spec.migrate(fnode.version, fnode.config)))
        except Exception:  # noqa: BLE001 - a bad config: fall back to the spec's fixed ports
            ports = () if callable(spec.outputs) else tuple(spec.outputs)
        found.update(f"{fnode.id}.{p.name}" for p in ports if p.static)
    return found


def ordering_graph(flow: Flow, registry: Registry) -> "nx.DiGraph[str]":
    """Nodes and the edges that order them: edges from static outputs order nothing."""
    static = static_outputs(flow, registry)
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(n.id for n in flow.nodes)
    graph.add_edges_from((e.source_node, e.target_node) for e in flow.edges if e.source not in static)
    return graph


def check(flow: Flow, registry: Registry) -> tuple[Plan | None, list[Issue]]:
    """Validate `flow`; return the plan (None when there are issues) and every issue."""
    checker = _Checker(flow, registry)
    plan = checker.run()
    return plan, checker.issues


def validate(flow: Flow, registry: Registry) -> list[Issue]:
    return check(flow, registry)[1]


def compile_flow(flow: Flow, registry: Registry) -> Plan:
    plan, issues = check(flow, registry)
    if plan is None:
        raise ValidationFailed(issues)
    return plan
