"""Port inference: which (output port, input port) pair a new canvas connection means.

The canvas has one handle per side and does not say which port the user meant, so
`infer` decides by type: one fitting pair is `Unique`, several are `Ambiguous`
(the UI asks), none is `Incompatible` with a message naming the types that would
fit. Exact type matches win over matches through `Any`. Pure: no Streamlit here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from engine.ports import Port, PortType, fits


@dataclass(frozen=True, slots=True)
class PortPair:
    """An output port of the source node and the input port of the target it feeds."""

    source: Port
    target: Port

    @property
    def label(self) -> str:
        return edge_label(self.source.name, self.target.name)

    @property
    def exact(self) -> bool:
        return self.source.type == self.target.type and self.source.type != PortType.ANY

    def describe(self) -> str:
        return f"{self.source.name} ({self.source.type.value}) → {self.target.name} ({self.target.type.value})"


@dataclass(frozen=True, slots=True)
class Unique:
    pair: PortPair


@dataclass(frozen=True, slots=True)
class Ambiguous:
    pairs: tuple[PortPair, ...]


@dataclass(frozen=True, slots=True)
class Incompatible:
    message: str


Inference = Unique | Ambiguous | Incompatible


def edge_label(source_port: str, target_port: str) -> str:
    """The text drawn on an edge; `canvas` parses it back, so keep the arrow."""
    return f"{source_port} → {target_port}"


def _types(ports: Iterable[Port]) -> str:
    names = sorted({p.type.value for p in ports})
    return " or ".join(names)


def _ports(ports: Iterable[Port]) -> str:
    return ", ".join(f"{p.name} ({p.type.value})" for p in ports)


def infer(source: str, outputs: Sequence[Port], target: str, inputs: Sequence[Port], *,
          taken: Iterable[str] = (), existing: Iterable[tuple[str, str]] = ()) -> Inference:
    """Decide the port pair for a connection from node `source` to node `target`.

    `taken` names inputs of `target` that already have an edge (a non-`multiple`
    input takes only one); `existing` holds (output, input) pairs already wired
    between these two nodes, which are never proposed again.
    """
    if source == target:
        return Incompatible(f"'{source}' cannot be connected to itself")
    if not outputs:
        return Incompatible(f"'{source}' has no outputs (it is a flow output); "
                            "connect from a node that produces a value")
    if not inputs:
        return Incompatible(f"'{target}' has no inputs (it is a flow input); connect into a node that takes a value")
    busy, wired = set(taken), set(existing)
    typed = [PortPair(o, i) for o in outputs for i in inputs if fits(o.type, i.type)]
    if not typed:
        return Incompatible(
            f"cannot connect '{source}' to '{target}': '{source}' outputs {_ports(outputs)}, but "
            f"'{target}' takes {_ports(inputs)}; connect an output of type {_types(inputs)} into "
            f"'{target}', or send '{source}' to a node that takes {_types(outputs)}")
    free = [p for p in typed if (p.source.name, p.target.name) not in wired
            and (p.target.multiple or p.target.name not in busy)]
    if not free:
        full = ", ".join(sorted({p.target.name for p in typed}))
        return Incompatible(
            f"every input of '{target}' that fits ({full}) is already connected; delete its edge "
            f"first, or put a merge node in between")
    exact = [p for p in free if p.exact]
    if len(exact) == 1:
        return Unique(exact[0])
    if not exact and len(free) == 1:
        return Unique(free[0])
    ordered = sorted(free, key=lambda p: (not p.exact, p.source.name, p.target.name))
    return Ambiguous(tuple(ordered))
