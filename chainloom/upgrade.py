"""Bringing an old flow's nodes up to the registry's node versions.

`upgrade_flow(flow, registry)` runs each node's migrations (`NodeSpec.migrate`),
checks the result against the node's config model, and returns the new flow with
a line per change and a line per problem. It executes nothing from the flow and
changes nothing when there is any problem; `chainloom upgrade` writes the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from engine.flow import Flow, FlowNode
from engine.registry import Registry


@dataclass
class Upgrade:
    flow: Flow
    changes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def config_diff(old: dict[str, Any], new: dict[str, Any]) -> str:
    """`+added, -removed, ~changed` config keys, or '' when nothing changed."""
    added = [f"+{k}" for k in new if k not in old]
    removed = [f"-{k}" for k in old if k not in new]
    changed = [f"~{k}" for k in new if k in old and new[k] != old[k]]
    return ", ".join(added + removed + changed)


def upgrade_node(node: FlowNode, registry: Registry, result: Upgrade) -> FlowNode:
    if node.type not in registry:
        result.problems.append(f"node '{node.id}': unknown node type '{node.type}' "
                               f"({registry.suggest(node.type)})")
        return node
    spec = registry.get(node.type)
    if node.version > spec.version:
        result.problems.append(f"node '{node.id}' ({node.type}) was written for version {node.version}, "
                               f"newer than this chainloom's {spec.version}")
        return node
    if node.version == spec.version:
        return node
    try:
        config = spec.migrate(node.version, dict(node.config))
        spec.config.model_validate(config)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(config)"
        result.problems.append(f"node '{node.id}' ({node.type}): after migrating to version "
                               f"{spec.version}, config field '{where}': {first['msg']}")
        return node
    except Exception as err:  # noqa: BLE001 - a broken migration is reported with its node
        result.problems.append(f"node '{node.id}' ({node.type}): migration from version "
                               f"{node.version} failed: {type(err).__name__}: {err}")
        return node
    diff = config_diff(node.config, config)
    result.changes.append(f"node '{node.id}' ({node.type}): version {node.version} -> {spec.version}"
                          + (f"; config {diff}" if diff else ""))
    return node.model_copy(update={"version": spec.version, "config": config})


def upgrade_flow(flow: Flow, registry: Registry) -> Upgrade:
    result = Upgrade(flow)
    nodes = [upgrade_node(n, registry, result) for n in flow.nodes]
    if result.changes and not result.problems:
        result.flow = flow.model_copy(update={"nodes": nodes})
    return result
