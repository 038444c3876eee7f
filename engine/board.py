"""The board: which values have arrived on which edges, and which nodes are ready.

Pure bookkeeping, no asyncio: the scheduler tells the board when a node finished
(with the outputs it fired) or was skipped, and the board hands back the nodes whose
every incoming edge is now resolved, with their input values or a skip reason.
Edges from `static` output ports carry a value known from the config: it is on
the board from the start, and those edges never wait or get skipped.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from engine.plan import Plan, PlannedNode, Wire

_NOTHING: dict[str, list[tuple[int, Any]]] = {}


@dataclass(frozen=True, slots=True)
class Wiring:
    """How values move through one plan: worked out once per plan, shared by all its runs."""

    static: dict[str, dict[str, list[tuple[int, Any]]]]  # node -> port -> (edge order, value)
    sends: dict[str, list[tuple[Wire, int]]]  # node -> its edges carrying run-time values
    waits: dict[str, int]  # node -> how many of its edges carry run-time values
    first: list[str]  # nodes that wait for nothing


def wiring(plan: Plan) -> Wiring:
    """The plan's Wiring (computed on first use, then kept on the plan)."""
    known: Wiring | None = plan.__dict__.get("_wiring")
    if known is None:
        known = plan.__dict__["_wiring"] = _wire(plan)  # a cache, not state: the Plan stays frozen
    return known


def _wire(plan: Plan) -> Wiring:
    order = {id(w): i for i, w in enumerate(plan.wires)}
    is_static = {id(w) for w in plan.wires if plan.nodes[w.source].outputs[w.source_port].static}
    static: dict[str, dict[str, list[tuple[int, Any]]]] = {}
    for w in plan.wires:
        if id(w) in is_static:
            value = plan.nodes[w.source].outputs[w.source_port].default
            static.setdefault(w.target, {}).setdefault(w.target_port, []).append((order[id(w)], value))
    sends = {nid: [(w, order[id(w)]) for w in wires if id(w) not in is_static]
             for nid, wires in plan.outgoing.items()}
    waits = {nid: sum(id(w) not in is_static for w in wires) for nid, wires in plan.incoming.items()}
    return Wiring(static, sends, waits, [nid for nid, n in waits.items() if n == 0])


class Board:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        wired = wiring(plan)
        # values on each node's ports: only nodes fed by static edges start with some
        self.arrived: dict[str, dict[str, list[tuple[int, Any]]]] = {
            nid: {port: list(values) for port, values in ports.items()} for nid, ports in wired.static.items()}
        self.skipped: dict[str, list[str]] = {}
        self.sends = wired.sends
        self.waits = wired.waits
        self.pending = dict(wired.waits)
        self.ready: deque[str] = deque(wired.first)

    def deliver(self, nid: str, outputs: dict[str, Any]) -> None:
        """`nid` finished: pass fired outputs along their edges, mark the others skipped."""
        arrived = self.arrived
        for wire, index in self.sends[nid]:
            target = wire.target
            if wire.source_port in outputs:
                ports = arrived.get(target)
                if ports is None:
                    ports = arrived[target] = {}
                got = ports.get(wire.target_port)
                if got is None:
                    ports[wire.target_port] = [(index, outputs[wire.source_port])]
                else:
                    got.append((index, outputs[wire.source_port]))
            else:
                self.skipped.setdefault(target, []).append(f"'{nid}' did not fire '{wire.source_port}'")
            self._resolve(target)

    def skip(self, nid: str) -> None:
        """`nid` was skipped: every edge out of it is skipped too."""
        for wire, _ in self.sends[nid]:
            self.skipped.setdefault(wire.target, []).append(f"'{nid}' was skipped")
            self._resolve(wire.target)

    def _resolve(self, target: str) -> None:
        left = self.pending[target] - 1
        self.pending[target] = left
        if left == 0:
            self.ready.append(target)

    def inputs(self, node: PlannedNode) -> tuple[dict[str, Any], str | None]:
        """The node's input values (in edge order), or the reason it must be skipped.

        A node is skipped when nothing arrived on any of its edges, or when a required
        input was skipped; an optional skipped input gets its default.
        """
        arrived = self.arrived.get(node.id, _NOTHING)
        skipped = self.skipped.get(node.id)
        if skipped and len(skipped) == self.waits[node.id]:
            return {}, "nothing arrived: " + "; ".join(skipped)
        values: dict[str, Any] = {}
        for name, port in node.inputs.items():
            got = arrived.get(name)
            if got:
                if len(got) > 1:  # values arrive in finishing order; ports take them in edge order
                    got.sort(key=lambda pair: pair[0])
                values[name] = [v for _, v in got] if port.multiple else got[0][1]
            elif port.required and any(w.target_port == name for w in self.plan.incoming[node.id]):
                return {}, f"required input '{name}' was skipped: " + "; ".join(skipped or ())
            else:
                values[name] = [] if port.multiple and port.default is None else port.default
        return values, None
