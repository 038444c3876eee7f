"""The default catalog: every node family chainloom ships, listed explicitly, loaded when first needed.

A type id's family (`prompt` in `prompt.template`) names its code: the module or
package `nodes.<family>`, whose SPECS hold exactly that family's node types. Only
the families in FAMILIES are ever imported, and a family is imported the first
time one of its types is asked for, so `registry.get("prompt.template")` imports
nodes.prompt and nothing else. Nothing is imported by a name taken from a flow.
Add a family by creating `nodes/<family>.py` (or a package) and listing it below.
Plugins (nodes/plugins.py) add types in families of their own; they are imported
the first time a type outside the built-in families is asked for, or the whole
catalog is listed, and never by a name taken from a flow.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterable, Iterator
from functools import lru_cache

from engine.node import NodeSpec
from engine.registry import Registry
from nodes.plugins import Plugin, Source, discover, load_plugins

FAMILIES: tuple[str, ...] = (
    "agent", "chain", "code", "combine", "embeddings", "flow", "input", "llm", "loader", "memory", "output",
    "parser", "prompt", "retriever", "router", "splitter", "tool", "transform", "vectorstore",
)


class Catalog(Registry):
    """A Registry over the shipped families that imports each family on first use."""

    def __init__(self, families: Iterable[str] = FAMILIES, plugins: Iterable[Plugin] = ()) -> None:
        super().__init__()
        self._pending = [f for f in families if f in FAMILIES]
        self._plugins: list[Plugin] | None = list(plugins)
        self._sources: dict[str, Source] = {}
        self._lock = threading.RLock()

    def source(self, type_id: str) -> Source:
        """Where a registered type comes from: built-in, or which plugin."""
        self.get(type_id)
        return self._sources[type_id]

    def load(self, family: str) -> None:
        """Register the node types of `family`, importing nodes.<family> once; unknown families are ignored."""
        if family not in FAMILIES:
            self.load_plugins()
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
                self._sources[spec.type] = Source("built-in", f"nodes.{family}")
            self._pending.remove(family)

    def load_plugins(self) -> None:
        """Import every plugin once; one that is broken or clashes is skipped with a PluginWarning."""
        if self._plugins is None:
            return
        with self._lock:
            if self._plugins is None:
                return
            plugins, self._plugins = self._plugins, None
            for spec, source in load_plugins(plugins, FAMILIES, dict(self._sources)):
                self.register(spec)
                self._sources[spec.type] = source

    def load_all(self) -> None:
        for family in list(self._pending):
            self.load(family)
        self.load_plugins()

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
    """The built-in families and every plugin installed or named in CHAINLOOM_NODES (read once)."""
    return Catalog(plugins=discover())
