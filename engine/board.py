"""The board: which values have arrived on which edges, and which nodes are ready.

Pure bookkeeping, no asyncio: the scheduler tells the board when a node finished
(with the outputs it fired) or was skipped, and the board hands back the nodes whose
every incoming edge is now resolved, with their input values or a skip reason.
Edges from `static` output ports carry a value known from the config: it is on
the board from the start, and those edges never wait or get skipped.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from engine.plan import Plan, PlannedNode, Wire


class Board:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.arrived: dict[str, dict[str, list[tuple[int, Any]]]] = {nid: {} for nid in plan.nodes}
        self.skipped: dict[str, list[str]] = {nid: [] for nid in plan.nodes}
        self.wire_index = {id(w): i for i, w in enumerate(plan.wires)}
        self.static = {id(w) for w in plan.wires if plan.nodes[w.source].outputs[w.source_port].static}
        for w in plan.wires:
            if id(w) in self.static:
                value = plan.nodes[w.source].outputs[w.source_port].default
                self.arrived[w.target].setdefault(w.target_port, []).append((self.wire_index[id(w)], value))
        # per node, the edges out of it that carry run-time values, with their edge order
        self.sends: dict[str, list[tuple[Wire, int]]] = {
            nid: [(w, self.wire_index[id(w)]) for w in wires if id(w) not in self.static]
            for nid, wires in plan.outgoing.items()}
        self.waits = {nid: sum(id(w) not in self.static for w in wires) for nid, wires in plan.incoming.items()}
        self.pending = dict(self.waits)
        self.ready: deque[str] = deque(nid for nid, n in self.pending.items() if n == 0)

    def deliver(self, nid: str, outputs: dict[str, Any]) -> None:
        """`nid` finished: pass fired outputs along their edges, mark the others skipped."""
        for wire, index in self.sends[nid]:
            if wire.source_port in outputs:
                self.arrived[wire.target].setdefault(wire.target_port, []).append(
                    (index, outputs[wire.source_port]))
            else:
                self.skipped[wire.target].append(f"'{nid}' did not fire '{wire.source_port}'")
            self._resolve(wire.target)

    def skip(self, nid: str) -> None:
        """`nid` was skipped: every edge out of it is skipped too."""
        for wire, _ in self.sends[nid]:
            self.skipped[wire.target].append(f"'{nid}' was skipped")
            self._resolve(wire.target)

    def _resolve(self, target: str) -> None:
        self.pending[target] -= 1
        if self.pending[target] == 0:
            self.ready.append(target)

    def inputs(self, node: PlannedNode) -> tuple[dict[str, Any], str | None]:
        """The node's input values (in edge order), or the reason it must be skipped.

        A node is skipped when nothing arrived on any of its edges, or when a required
        input was skipped; an optional skipped input gets its default.
        """
        arrived, skipped = self.arrived[node.id], self.skipped[node.id]
        waited = self.waits[node.id]
        if waited and len(skipped) == waited:
            return {}, "nothing arrived: " + "; ".join(skipped)
        values: dict[str, Any] = {}
        for name, port in node.inputs.items():
            got = arrived.get(name)
            if got:
                if len(got) > 1:  # values arrive in finishing order; ports take them in edge order
                    got.sort(key=lambda pair: pair[0])
                values[name] = [v for _, v in got] if port.multiple else got[0][1]
            elif port.required and any(w.target_port == name for w in self.plan.incoming[node.id]):
                return {}, f"required input '{name}' was skipped: " + "; ".join(skipped)
            else:
                values[name] = [] if port.multiple and port.default is None else port.default
        return values, None
