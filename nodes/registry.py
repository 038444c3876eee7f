"""The default catalog: every node family chainloom ships, listed explicitly, loaded when first needed.

A type id's family (`prompt` in `prompt.template`) names its code: the module or
package `nodes.<family>`, whose SPECS hold exactly that family's node types. Only
the families in FAMILIES are ever imported, and a family is imported the first
time one of its types is asked for, so `registry.get("prompt.template")` imports
nodes.prompt and nothing else. Nothing is imported by a name taken from a flow.
Add a family by creating `nodes/<family>.py` (or a package) and listing it below.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterable, Iterator
from functools import lru_cache

from engine.node import NodeSpec
from engine.registry import Registry

FAMILIES: tuple[str, ...] = (
    "agent", "chain", "combine", "embeddings", "flow", "input", "llm", "loader", "memory", "output",
    "parser", "prompt", "retriever", "router", "splitter", "tool", "transform", "vectorstore",
)


class Catalog(Registry):
    """A Registry over the shipped families that imports each family on first use."""

    def __init__(self, families: Iterable[str] = FAMILIES) -> None:
        super().__init__()
        self._pending = [f for f in families if f in FAMILIES]
        self._lock = threading.RLock()

    def load(self, family: str) -> None:
        """Register the node types of `family`, importing nodes.<family> once; unknown families are ignored."""
        if family not in self._pending:
            return
        with self._lock:
            if family not in self._pending:
                return
            module = importlib.import_module(f"nodes.{family}")
            specs: tuple[NodeSpec, ...] = module.SPECS
            for spec in specs:
                if spec.family != family:
                    raise ValueError(f"nodes.{family} defines '{spec.type}', which belongs in nodes.{spec.family}")
                self.register(spec)
            self._pending.remove(family)

    def load_all(self) -> None:
        for family in list(self._pending):
            self.load(family)

    def get(self, type_id: str) -> NodeSpec:
        self.load(type_id.partition(".")[0])
        if not super().__contains__(type_id):
            self.load_all()  # unknown: load everything so that the error can suggest close names
        return super().get(type_id)

    def suggest(self, type_id: str) -> str:
        self.load_all()
        return super().suggest(type_id)

    def __contains__(self, type_id: object) -> bool:
        if isinstance(type_id, str):
            self.load(type_id.partition(".")[0])
        return super().__contains__(type_id)

    def __iter__(self) -> Iterator[NodeSpec]:
        self.load_all()
        return super().__iter__()

    def __len__(self) -> int:
        self.load_all()
        return super().__len__()


@lru_cache(maxsize=1)
def default_registry() -> Catalog:
    return Catalog()
