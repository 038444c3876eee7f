"""Per-run changes to a flow's node configs ("tweaks"): deny by default.

`apply_tweaks(flow, tweaks, registry)` is the one way every caller (the API's
`tweaks`, `chainloom run --tweak`, `chainloom.run(tweaks=...)`, flow-as-tool)
changes a flow for one run. A tweak is accepted only for a config field the flow's
author listed in the node's `tweakable`, and never for a field that decides where
data or credentials go (engine/fields.py), whatever the flow file says. It returns
the tweaked flow, or the untouched flow and every problem, each naming node and field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.fields import where_kind
from engine.flow import Flow, FlowNode
from engine.issues import Issue
from engine.registry import Registry
from engine.validate import check

Tweaks = Mapping[str, Mapping[str, Any]]
_MARK_HINT = ('the flow\'s author can allow it: add "tweakable": ["{name}"] to node \'{node}\' in '
              'the flow file (or tick "tweakable" in the builder)')


def _field_issues(fnode: FlowNode, fields: Mapping[str, Any], registry: Registry) -> list[Issue]:
    spec = registry.get(fnode.type)
    issues: list[Issue] = []
    for raw_name in fields:
        name = str(raw_name)[:100]
        field = f"config.{name}"
        if name not in spec.config.model_fields:
            issues.append(Issue("unknown_field", f"tweak names config field '{name}', which "
                                f"'{spec.type}' does not have", fnode.id,
                                hint="fields are: " + ", ".join(spec.config.model_fields), field=field))
        elif (kind := where_kind(spec.config, name)) is not None:
            issues.append(Issue("where_field", f"config field '{name}' decides where data or "
                                f"credentials go ({kind}), so no run may change it", fnode.id,
                                hint="change it in the saved flow (an operator's decision)", field=field))
        elif name not in fnode.tweakable:
            issues.append(Issue("not_tweakable", f"config field '{name}' is not tweakable in this flow",
                                fnode.id, hint=_MARK_HINT.format(name=name, node=fnode.id), field=field))
    return issues


def tweak_issues(flow: Flow, tweaks: Tweaks, registry: Registry) -> list[Issue]:
    """Every reason the tweaks cannot be applied to `flow` (before the values are checked)."""
    issues: list[Issue] = []
    node_ids = ", ".join(n.id for n in flow.nodes)
    for node_id, fields in tweaks.items():
        fnode = flow.node(str(node_id))
        if fnode is None:
            issues.append(Issue("unknown_node", f"tweaks name node '{str(node_id)[:64]}', which is not "
                                "in the flow", hint=f"nodes are: {node_ids}"))
        elif not isinstance(fields, Mapping):
            issues.append(Issue("bad_tweak", "a node's tweaks must be an object of field: value",
                                fnode.id, hint='e.g. {"temperature": 0.2}'))
        elif fnode.type not in registry:
            issues.append(Issue("unknown_type", f"unknown node type '{fnode.type}'", fnode.id,
                                hint=registry.suggest(fnode.type)))
        else:
            issues.extend(_field_issues(fnode, fields, registry))
    return issues


def apply_tweaks(flow: Flow, tweaks: Tweaks | None, registry: Registry) -> tuple[Flow, list[Issue]]:
    """`flow` with `tweaks` applied, and no issues; or `flow` unchanged and every issue."""
    if not tweaks:
        return flow, []
    issues = tweak_issues(flow, tweaks, registry)
    if issues:
        return flow, issues
    nodes = [n.model_copy(update={"config": {**n.config, **tweaks[n.id]}}) if n.id in tweaks else n
             for n in flow.nodes]
    tweaked = flow.model_copy(update={"nodes": nodes})
    _, problems = check(tweaked, registry)
    bad = [Issue("bad_tweak", p.message, p.node, p.port, p.hint, field=p.field) for p in problems
           if p.node in tweaks and p.code == "bad_config"]
    return (flow, bad) if bad else (tweaked, [])
