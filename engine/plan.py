"""The Plan: a validated flow in the shape the scheduler runs.

`engine.validate.check` builds it (only when a flow has no errors); the scheduler,
the board and every front end read it. Each node has its spec, its checked config,
its ports for that config and its policy; each wire is an edge known to fit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.errors import FlowInputError
from engine.flow import Flow, NodePolicy
from engine.issues import Issue
from engine.node import NodeConfig, NodeSpec
from engine.ports import Port

if TYPE_CHECKING:
    import networkx as nx


@dataclass(frozen=True, slots=True)
class Wire:
    """A checked edge: source node/port to target node/port."""

    source: str
    source_port: str
    target: str
    target_port: str


@dataclass(frozen=True)
class PlannedNode:
    id: str
    spec: NodeSpec
    config: NodeConfig
    inputs: dict[str, Port]
    outputs: dict[str, Port]
    policy: NodePolicy
    # Runs on the event loop, start to end, with no task: no await, pool, time limit or retry.
    inline: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        spec, policy = self.spec, self.policy
        inline = not (spec.is_async or spec.blocking or policy.timeout or policy.retries
                      or policy.require_approval)  # waiting for a person needs a task
        object.__setattr__(self, "inline", inline)


@dataclass(frozen=True)
class Plan:
    """A validated flow, ready for the scheduler."""

    flow: Flow
    nodes: dict[str, PlannedNode]
    wires: list[Wire]
    incoming: dict[str, list[Wire]] = field(default_factory=dict)
    outgoing: dict[str, list[Wire]] = field(default_factory=dict)
    input_nodes: dict[str, str] = field(default_factory=dict)   # flow input name -> node id
    output_nodes: dict[str, str] = field(default_factory=dict)  # flow output name -> node id

    @property
    def graph(self) -> nx.DiGraph[str]:
        """The nodes and the edges that order them, as a networkx graph (made when asked for:
        running a flow never needs networkx)."""
        import networkx as nx  # noqa: PLC0415

        graph: nx.DiGraph[str] = nx.DiGraph()
        graph.add_nodes_from(self.nodes)
        graph.add_edges_from((w.source, w.target) for w in self.wires
                             if not self.nodes[w.source].outputs[w.source_port].static)
        return graph

    def input_issues(self, inputs: Mapping[str, Any], *, how: str = "--input {name}=...") -> list[Issue]:
        """Every unknown flow input and every missing required one, at once.

        A required input is one whose node says `required` and has no `default`.
        `how` shows the caller how to pass a value (`{name}` is filled in), e.g. the
        CLI's `--input {name}=...` or the API's `"inputs": {{"{name}": ...}}`.
        """
        names = self.input_nodes
        takes = ", ".join(names) or "no inputs"
        issues = [Issue("unknown_input", f"unknown flow input '{k[:100]}'; this flow takes: {takes}",
                        hint="check the input's name", field=f"inputs.{k[:100]}")
                  for k in inputs if k not in names]
        for name, nid in names.items():
            if name not in inputs and needs_value(self.nodes[nid].config):
                issues.append(Issue("missing_input", f"flow input '{name}' is required", nid,
                                    hint="pass it with " + how.format(name=name), field=f"inputs.{name}"))
        return issues

    def check_inputs(self, inputs: Mapping[str, Any]) -> None:
        """Raise FlowInputError for the first problem `input_issues` finds."""
        issues = self.input_issues(inputs)
        if not issues:
            return
        first = issues[0]
        if first.code == "missing_input":
            name = (first.field or "").removeprefix("inputs.")
            raise FlowInputError(f"flow input '{name}' (node '{first.node}') is required",
                                 hint=first.hint)
        raise FlowInputError(first.message, hint=first.hint)


def needs_value(config: NodeConfig | Mapping[str, Any]) -> bool:
    """True when a flow input node must be given a value: it is `required` and has no `default`.

    `config` is the node's checked config, or its config dict as written in the flow
    (where a missing `required` means True, FlowInputConfig's default).
    """
    if isinstance(config, Mapping):
        return bool(config.get("required", True)) and config.get("default") is None
    return bool(getattr(config, "required", False)) and getattr(config, "default", None) is None
