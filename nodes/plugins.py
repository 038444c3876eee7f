"""Node plugins: node types from installed packages and from the CHAINLOOM_NODES variable.

A plugin is a `module:attr` whose value is a list of NodeSpec, named either by an
entry point in the group `chainloom.nodes` of an installed distribution or by
`CHAINLOOM_NODES=module:attr,...`. `load_plugins` imports each one, checks every
spec with engine.testing.check_spec and refuses type ids in a built-in family or
already taken by an earlier plugin; a plugin with any problem is skipped whole,
with a warning naming it and the fix, so a broken plugin never breaks the catalog.
Flows still name type ids only: nothing here reads a flow.
"""

from __future__ import annotations

import importlib
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from engine.node import NodeSpec
from engine.testing import spec_problems

GROUP = "chainloom.nodes"
ENV = "CHAINLOOM_NODES"


class PluginWarning(UserWarning):
    """A plugin was skipped; the message names the plugin, the problem and the fix."""


@dataclass(frozen=True)
class Source:
    """Where a node type comes from, as `chainloom nodes` shows it."""

    kind: str  # "built-in", "entry point" or "CHAINLOOM_NODES"
    module: str  # the module (built-in) or `module:attr` (plugin)
    distribution: str = ""  # the installed package, for an entry point
    version: str = ""

    def label(self) -> str:
        if self.kind == "built-in":
            return "built-in"
        if self.kind == "entry point":
            return f"{self.distribution} {self.version} ({self.module})".strip()
        return f"{ENV} ({self.module})"

    def to_dict(self) -> dict[str, str]:
        out = {"kind": self.kind, "module": self.module}
        if self.kind == "entry point":
            out |= {"distribution": self.distribution, "version": self.version}
        return out


@dataclass(frozen=True)
class Plugin:
    """One `module:attr` to load, and where it was named."""

    source: Source
    load: Callable[[], Any] = field(compare=False)

    @property
    def name(self) -> str:
        if self.source.kind == "entry point":
            return f"plugin '{self.source.distribution}' (entry point {self.source.module})"
        return f"plugin '{self.source.module}' (from {ENV})"


def discover(env: str | None = None) -> list[Plugin]:
    """Installed entry points (sorted by distribution), then CHAINLOOM_NODES in its order; nothing imported yet."""
    seen: set[str] = set()
    out: list[Plugin] = []
    for plugin in [*_entry_points(), *_from_env(os.environ.get(ENV, "") if env is None else env)]:
        if plugin.source.module not in seen:  # a package found twice on sys.path, or also named in the variable
            seen.add(plugin.source.module)
            out.append(plugin)
    return out


def _entry_points() -> list[Plugin]:
    found = []
    for ep in metadata.entry_points(group=GROUP):
        dist = ep.dist
        source = Source("entry point", ep.value, dist.name if dist else "?", dist.version if dist else "")
        found.append(Plugin(source, ep.load))
    return sorted(found, key=lambda p: (p.source.distribution, p.source.module))


def _from_env(value: str) -> list[Plugin]:
    return [Plugin(Source(ENV, item.strip()), _importer(item.strip())) for item in value.split(",") if item.strip()]


def _importer(target: str) -> Callable[[], Any]:
    def load() -> Any:
        module_name, colon, attr = target.partition(":")
        if not colon or not module_name or not attr:
            raise PluginError(f"'{target}' is not module:attr", f"write it as module:attr, e.g. mynodes:NODES in {ENV}")
        module = importlib.import_module(module_name)
        try:
            return getattr(module, attr)
        except AttributeError as err:
            raise PluginError(f"module '{module_name}' has no attribute '{attr}'",
                              f"define {attr} = [...your NodeSpecs...] in {module_name}, or fix the name") from err

    return load


class PluginError(Exception):
    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.problem, self.fix = problem, fix


def load_plugins(plugins: Iterable[Plugin], builtin_families: Sequence[str],
                 taken: dict[str, Source]) -> list[tuple[NodeSpec, Source]]:
    """Every spec of every plugin that loads cleanly, in order; `taken` gains their ids. Warns for the others."""
    out: list[tuple[NodeSpec, Source]] = []
    for plugin in plugins:
        try:
            specs = _specs_of(plugin)
            _check_ids(specs, plugin.source, builtin_families, taken)
        except PluginError as err:
            warnings.warn(f"{plugin.name} skipped: {err.problem}; fix: {err.fix}", PluginWarning, stacklevel=2)
            continue
        for spec in specs:
            taken[spec.type] = plugin.source
            out.append((spec, plugin.source))
    return out


def _specs_of(plugin: Plugin) -> list[NodeSpec]:
    try:
        value = plugin.load()
    except PluginError:
        raise
    except Exception as err:  # any failure while importing a third-party module skips it
        raise PluginError(f"importing it failed: {type(err).__name__}: {err}",
                          "install what it needs, or uninstall it / remove it from " + ENV) from err
    if not isinstance(value, list | tuple) or not all(isinstance(s, NodeSpec) for s in value):
        raise PluginError(f"{plugin.source.module} is {_kind(value)}, not a list of NodeSpec",
                          "point it at a list of specs made with engine.node.node, e.g. NODES = [reverse, count]")
    for spec in value:
        problems = spec_problems(spec)  # what engine.testing.check_spec raises for
        if problems:
            raise PluginError(f"node type '{spec.type}' breaks the node contract: {'; '.join(problems)}",
                              "fix the spec; engine.testing.check_spec(spec) in the plugin's tests shows it")
    return list(value)


def _kind(value: object) -> str:
    if isinstance(value, list | tuple):
        bad = next(v for v in value if not isinstance(v, NodeSpec))
        return f"a {type(value).__name__} holding a {type(bad).__name__}"
    return f"a {type(value).__name__}"


def _check_ids(specs: list[NodeSpec], source: Source, builtin_families: Sequence[str],
               taken: dict[str, Source]) -> None:
    seen: set[str] = set()
    for spec in specs:
        if spec.family in builtin_families:
            raise PluginError(f"node type '{spec.type}' is in the built-in family '{spec.family}' "
                              f"(nodes.{spec.family})",
                              f"give the plugin's types their own family, e.g. 'myorg.{spec.type.partition('.')[2]}'")
        if spec.type in taken:
            raise PluginError(f"node type '{spec.type}' is already defined by {taken[spec.type].label()}",
                              "rename one of the two types, or uninstall one of the plugins")
        if spec.type in seen:
            raise PluginError(f"node type '{spec.type}' is listed twice", "list each spec once")
        seen.add(spec.type)
