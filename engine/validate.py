"""Validation: every problem of a flow at once, and the runnable Plan when none.

`check(flow, registry)` returns (plan or None, issues); `compile_flow` raises
ValidationFailed listing all errors. Each Issue names a code, a node, a port, what
is wrong and how to fix it; config, edge, port and type problems are all reported
together (a node with a bad config is still checked against the ports it would
have). Warnings (an unset secret variable) do not stop a run. Nothing is executed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from engine.context import SecretResolver, env_secret
from engine.errors import ValidationFailed
from engine.fields import config_problems, looks_like_key, where_kind
from engine.flow import Edge, Flow, FlowNode
from engine.issues import Issue, errors
from engine.node import NodeConfig, NodeSpec
from engine.plan import Plan, PlannedNode, Wire
from engine.ports import Port, fits
from engine.registry import Registry

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["Issue", "Plan", "PlannedNode", "Wire", "check", "compile_flow", "ordering_graph",
           "is_secret_field", "secret_fields", "static_outputs", "validate"]

MAX_CYCLES_REPORTED = 5


def _port_list(ports: dict[str, Port]) -> str:
    return ", ".join(p.label() for p in ports.values()) or "none"


@dataclass(frozen=True, slots=True)
class _Ports:
    """A node's ports by name, as far as they can be known (exact when its config is valid)."""

    inputs: dict[str, Port]
    outputs: dict[str, Port]
    # Ports computed from a config that failed are a guess: edges into ports that exist
    # are type-checked, but a port missing from the guess is not reported.
    guessed_inputs: bool = False
    guessed_outputs: bool = False


class _Checker:
    def __init__(self, flow: Flow, registry: Registry, secrets: SecretResolver | None) -> None:
        self.flow = flow
        self.registry = registry
        self.secrets = secrets
        self.issues: list[Issue] = []
        self.nodes: dict[str, PlannedNode] = {}
        self.ports: dict[str, _Ports] = {}  # every node whose ports are known, even with a bad config
        self.known_ids: set[str] = set()   # ids that exist even if their node has problems
        self.wires: list[Wire] = []

    def add(self, code: str, message: str, node: str | None = None, port: str | None = None,
            hint: str = "", field: str | None = None) -> None:
        self.issues.append(Issue(code, message, node, port, hint, field=field))

    def run(self) -> Plan | None:
        self.check_ids()
        for fnode in self.flow.nodes:
            self.check_node(fnode)
        self.check_edges()
        self.check_required_inputs()
        self.check_cycles()
        input_nodes, output_nodes = self.check_io()
        self.check_secrets()
        self.check_advice()
        if errors(self.issues):
            return None
        incoming: dict[str, list[Wire]] = {nid: [] for nid in self.nodes}
        outgoing: dict[str, list[Wire]] = {nid: [] for nid in self.nodes}
        for w in self.wires:
            incoming[w.target].append(w)
            outgoing[w.source].append(w)
        return Plan(self.flow, self.nodes, self.wires, incoming, outgoing, input_nodes, output_nodes)

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
        if fnode.policy.retries and spec.side_effects:
            self.add("unsafe_retry", f"'{spec.type}' has side effects and is never retried",
                     fnode.id, hint="set policy.retries to 0")
        config = self.check_config(fnode, spec)
        if config is not None:
            self.check_fields(fnode, spec, config)
        if config is None:  # still check its edges, against the ports it would have
            ports = spec.ports_for(fnode.config, fnode.version)
            if fnode.id not in self.ports:
                self.ports[fnode.id] = _Ports(_by_name(ports[0]), _by_name(ports[1]),
                                              callable(spec.inputs), callable(spec.outputs))
            return
        try:
            inputs, outputs = (_by_name(p) for p in spec.ports(config))
        except Exception as err:  # noqa: BLE001 - a port function that fails on this config
            self.add("bad_config", f"ports cannot be derived from the config: {err}", fnode.id)
            return
        if fnode.id in self.nodes:
            return  # duplicate id, already reported
        self.ports[fnode.id] = _Ports(inputs, outputs)
        self.nodes[fnode.id] = PlannedNode(fnode.id, spec, config, inputs, outputs, fnode.policy)

    def check_config(self, fnode: FlowNode, spec: NodeSpec) -> NodeConfig | None:
        """The node's config, migrated and validated; None (and an issue per problem) when bad."""
        try:
            return spec.parse_config(fnode.config, fnode.version)
        except ValidationError as err:
            for e in err.errors():
                self.config_issue(fnode.id, spec, e)
        except Exception as err:  # noqa: BLE001 - a broken migration is reported, not raised
            self.add("bad_config", f"config cannot be upgraded from version {fnode.version}: {err}",
                     fnode.id)
        return None

    def check_fields(self, fnode: FlowNode, spec: NodeSpec, config: NodeConfig) -> None:
        """Credentials inside URLs, keys pasted into secret-name fields, tweakable marks."""
        for name, message, hint in config_problems(config):
            self.add("bad_config", f"config field '{name}': {message}", fnode.id, hint=hint,
                     field=f"config.{name}")
        for name in fnode.tweakable:
            field = f"config.{name}"
            if name not in spec.config.model_fields:
                self.add("bad_tweakable", f"tweakable names '{name}', which is not a config field of "
                         f"'{spec.type}'", fnode.id, hint="fields are: " + ", ".join(spec.config.model_fields),
                         field=field)
            elif (kind := where_kind(spec.config, name)) is not None:
                self.add("bad_tweakable", f"config field '{name}' decides where data or credentials go "
                         f"({kind}), so it can never be tweakable", fnode.id,
                         hint=f"remove '{name}' from tweakable; change it in the saved flow instead",
                         field=field)

    def config_issue(self, node_id: str, spec: NodeSpec, err: Any) -> None:
        loc = ".".join(str(p) for p in err["loc"]) or "(config)"
        top = str(err["loc"][0]) if err["loc"] else ""
        hint = ""
        if is_secret_field(spec, top):
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
            port = self.ports[node_id].inputs[port_name]
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
        if not ok or edge.source_node not in self.ports or edge.target_node not in self.ports:
            return  # a node whose ports cannot be known: nothing to check against
        src, dst = self.ports[edge.source_node], self.ports[edge.target_node]
        src_id, dst_id = edge.source_node, edge.target_node
        out_port = src.outputs.get(edge.source_port)
        in_port = dst.inputs.get(edge.target_port)
        if out_port is None and not src.guessed_outputs:
            self.add("unknown_port", f"output port '{edge.source_port}' does not exist; "
                     f"outputs are: {_port_list(src.outputs)}", src_id, edge.source_port)
        if in_port is None and not dst.guessed_inputs:
            self.add("unknown_port", f"input port '{edge.target_port}' does not exist; "
                     f"inputs are: {_port_list(dst.inputs)}", dst_id, edge.target_port)
        if out_port is None or in_port is None:
            return
        if not fits(out_port.type, in_port.type):
            fitting = [p.name for p in dst.inputs.values() if fits(out_port.type, p.type)]
            hint = (f"ports of '{dst_id}' that take {out_port.type.value}: {', '.join(fitting)}"
                    if fitting else f"no input of '{dst_id}' takes {out_port.type.value}")
            self.add("type_mismatch", f"edge {edge} sends {out_port.type.value} into "
                     f"{in_port.type.value}", dst_id, in_port.name, hint=hint)
            return
        self.wires.append(Wire(src_id, out_port.name, dst_id, in_port.name))

    def check_required_inputs(self) -> None:
        connected = {(w.target, w.target_port) for w in self.wires}
        broken = {e.target_node for e in self.flow.edges} - {w.target for w in self.wires}
        for node_id, ports in self.ports.items():
            if ports.guessed_inputs:
                continue  # fix the config first: then its inputs are known
            for port in ports.inputs.values():
                if port.required and (node_id, port.name) not in connected:
                    if node_id in broken and any(e.target == f"{node_id}.{port.name}" for e in self.flow.edges):
                        continue  # its edge is already reported as broken
                    self.add("missing_input", f"required input ({port.type.value}) is not connected",
                             node_id, port.name,
                             hint=f"connect an output of type {port.type.value} to '{node_id}.{port.name}'")

    def check_cycles(self) -> None:
        """Report the flow's cycles (edges from static outputs order nothing). A topological
        pass says whether there is any; only then is networkx loaded to name them."""
        edges = [(w.source, w.target) for w in self.wires
                 if not self.ports[w.source].outputs[w.source_port].static]
        if not has_cycle(list(self.ports), edges):
            return
        import networkx as nx  # noqa: PLC0415 - only a flow with a cycle needs it

        graph: nx.DiGraph[str] = nx.DiGraph()
        graph.add_nodes_from(self.ports)
        graph.add_edges_from(edges)
        for n, cycle in enumerate(nx.simple_cycles(graph)):
            if n >= MAX_CYCLES_REPORTED:
                break
            start = cycle.index(min(cycle))
            cycle = cycle[start:] + cycle[:start]
            path = " -> ".join([*cycle, cycle[0]])
            self.add("cycle", f"cycle: {path}", cycle[0],
                     hint="flows are acyclic; for loops use an agent node")

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
        has_output = any(n.type in self.registry and self.registry.get(n.type).role == "output"
                         for n in self.flow.nodes)
        if not has_output and not any(i.code == "unknown_type" for i in self.issues):
            self.add("no_output", "the flow has no output node, so a run would return nothing",
                     hint="add an output.text (or another output.*) node")
        return found["input"], found["output"]


    def check_secrets(self) -> None:
        """A warning for each secret reference that names a variable not set here.

        A warning, not an error: the flow may run elsewhere (a server) where it is set.
        """
        if self.secrets is None:
            return
        for node in self.nodes.values():
            for name in secret_fields(node.spec):
                var = getattr(node.config, name, "")
                # A name that looks like a key is already an error, and is never quoted.
                if isinstance(var, str) and var and not looks_like_key(var) and self.secrets(var) is None:
                    self.issues.append(Issue(
                        "secret_not_set", f"config field '{name}' names the secret '{var}', which is not set",
                        node.id, hint=f"export {var}=... in the environment that runs this flow",
                        severity="warning", field=f"config.{name}"))


    def check_advice(self) -> None:
        """Each node type's design-time warnings (NodeSpec.advice), e.g. a chain that needs a real model.

        Only when validating for a person (`secrets` given); a run does not ask.
        """
        if self.secrets is None:
            return
        upstream: dict[str, dict[str, Any]] = {}
        for w in self.wires:
            if w.source in self.nodes:
                upstream.setdefault(w.target, {})[w.target_port] = self.nodes[w.source].config
        for nid, node in self.nodes.items():
            if node.spec.advice is not None:
                for issue in node.spec.advice(node.config, upstream.get(nid, {}), self.secrets):
                    self.issues.append(replace(issue, node=nid, severity="warning"))


def _by_name(ports: tuple[Port, ...]) -> dict[str, Port]:
    return {p.name: p for p in ports}


def secret_fields(spec: NodeSpec) -> list[str]:
    """The config fields of `spec` that hold the name of a secret (see `SecretRef`)."""
    return [name for name in spec.config.model_fields if is_secret_field(spec, name)]


def is_secret_field(spec: NodeSpec, name: str) -> bool:
    info = spec.config.model_fields.get(name)
    extra = info.json_schema_extra if info is not None else None
    return isinstance(extra, dict) and bool(extra.get("secret"))


def static_outputs(flow: Flow, registry: Registry) -> set[str]:
    """`node.port` of every static output in the flow (tolerates nodes with problems)."""
    found: set[str] = set()
    for fnode in flow.nodes:
        if fnode.type not in registry:
            continue
        ports = registry.get(fnode.type).ports_for(fnode.config, fnode.version)
        found.update(f"{fnode.id}.{p.name}" for p in ports[1] if p.static)
    return found


def has_cycle(nodes: list[str], edges: list[tuple[str, str]]) -> bool:
    """True when the edges close a loop (Kahn's topological sort leaves nodes behind)."""
    waiting = dict.fromkeys(nodes, 0)
    after: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        after.setdefault(a, []).append(b)
        waiting[b] = waiting.get(b, 0) + 1
        waiting.setdefault(a, 0)
    ready = [n for n, count in waiting.items() if count == 0]
    done = 0
    while ready:
        done += 1
        for b in after.get(ready.pop(), ()):
            waiting[b] -= 1
            if waiting[b] == 0:
                ready.append(b)
    return done < len(waiting)


def ordering_graph(flow: Flow, registry: Registry) -> nx.DiGraph[str]:
    """Nodes and the edges that order them: edges from static outputs order nothing."""
    import networkx as nx  # noqa: PLC0415 - the UI's layout needs it, running a flow does not

    static = static_outputs(flow, registry)
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(n.id for n in flow.nodes)
    graph.add_edges_from((e.source_node, e.target_node) for e in flow.edges if e.source not in static)
    return graph


def check(flow: Flow, registry: Registry, *, secrets: SecretResolver | None = env_secret
          ) -> tuple[Plan | None, list[Issue]]:
    """Validate `flow`; return the plan (None when there are errors) and every issue.

    `secrets` looks up the variables that secret fields name (None: don't look).
    """
    checker = _Checker(flow, registry, secrets)
    plan = checker.run()
    return plan, checker.issues


def validate(flow: Flow, registry: Registry, *, secrets: SecretResolver | None = env_secret) -> list[Issue]:
    return check(flow, registry, secrets=secrets)[1]


def saving_issues(flow: Flow, registry: Registry) -> list[Issue]:
    """The one gate before a flow is stored, whichever way (CLI `flows save`, API create, update
    and import, the builder's Save): every problem that refuses it (warnings do not). Empty: it
    may be stored."""
    return errors(check(flow, registry)[1])


def compile_flow(flow: Flow, registry: Registry) -> Plan:
    """The plan of `flow`; ValidationFailed listing every error when there are any."""
    plan, issues = check(flow, registry, secrets=None)
    if plan is None:
        raise ValidationFailed(errors(issues))
    return plan
