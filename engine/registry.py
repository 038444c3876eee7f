"""The explicit registry of node types.

A flow names node types by stable id (`family.name`); the registry is the only
place those ids resolve to code. Nothing is imported by name from a flow file.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator

from engine.errors import UnknownNodeType
from engine.node import NodeSpec


class Registry:
    """A mapping from type id to NodeSpec, filled by explicit `register` calls."""

    def __init__(self, specs: Iterable[NodeSpec] = ()) -> None:
        self._specs: dict[str, NodeSpec] = {}
        for spec in specs:
            self.register(spec)

    def register(self, spec: NodeSpec) -> NodeSpec:
        if spec.type in self._specs:
            raise ValueError(f"node type '{spec.type}' is registered twice")
        if spec.role == "input" and "name" not in spec.config.model_fields:
            raise ValueError(f"input node '{spec.type}' needs a FlowInputConfig-based config")
        self._specs[spec.type] = spec
        return spec

    def get(self, type_id: str) -> NodeSpec:
        try:
            return self._specs[type_id]
        except KeyError:
            raise UnknownNodeType(f"unknown node type '{type_id}'",
                                  hint=self.suggest(type_id)) from None

    def suggest(self, type_id: str) -> str:
        close = difflib.get_close_matches(type_id, self._specs, n=3, cutoff=0.75)
        if close:
            return "did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
        return "run `chainloom nodes` to list the available types"

    def __contains__(self, type_id: object) -> bool:
        return type_id in self._specs

    def __iter__(self) -> Iterator[NodeSpec]:
        return iter(sorted(self._specs.values(), key=lambda s: s.type))

    def __len__(self) -> int:
        return len(self._specs)

    def families(self) -> dict[str, list[NodeSpec]]:
        out: dict[str, list[NodeSpec]] = {}
        for spec in self:
            out.setdefault(spec.family, []).append(spec)
        return out
