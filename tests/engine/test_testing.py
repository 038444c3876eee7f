"""check_spec: each part of the node contract it checks, on a spec broken in that one way."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from pydantic import Field

from engine.errors import InvalidSpec
from engine.node import FlowInputConfig, NodeConfig, NodeSpec
from engine.ports import Port, PortType
from engine.testing import check_spec, spec_problems


class Good(NodeConfig):
    size: int = Field(3, ge=1, description="How many.")
    names: list[str] = Field(default_factory=lambda: ["a"], description="One input per name.")


def run(cfg: Any, inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
    return {"text": ""}


GOOD = NodeSpec("demo.good", 2, "Good", "A node that keeps the contract.", Good, run,
                inputs=lambda c: [Port(n, PortType.TEXT) for n in c.names],
                outputs=[Port("text", PortType.TEXT)], migrations={1: lambda c: c})


def test_a_good_spec_passes() -> None:
    check_spec(GOOD)
    assert spec_problems(GOOD) == []


def test_every_problem_is_listed_in_one_error() -> None:
    bad = replace(GOOD, type="Demo", version=0)
    with pytest.raises(InvalidSpec) as info:
        check_spec(bad)
    assert str(info.value) == (
        "node type 'Demo' breaks the node contract:\n"
        "  - type id 'Demo' must be lower-case words joined by dots, family first (e.g. 'llm.chat'), "
        "at most 100 characters\n"
        "  - version 0 must be a whole number from 1 to 1000\n"
        "  - migration from version 1 never runs: steps go from 1 to -1 (version 0 is the current one) "
        "(see engine/node.py for what a node type is)")


def test_config_fields_need_descriptions_and_valid_defaults() -> None:
    class Bad(NodeConfig):
        size: int = Field(0, ge=1, description="How many.")
        colour: str = "red"

    assert spec_problems(replace(GOOD, config=Bad, inputs=())) == [
        "config field 'colour' has no description; the UI form and the docs show it",
        "config field 'size': its default is not valid: Input should be greater than or equal to 1",
    ]


def test_config_must_be_a_node_config() -> None:
    from pydantic import BaseModel

    class Loose(BaseModel):
        size: int = 1

    assert spec_problems(replace(GOOD, config=Loose, inputs=())) == [  # type: ignore[arg-type]
        f"config {Loose!r} must be a NodeConfig subclass (unknown fields refused)"]


def test_run_takes_config_inputs_and_context() -> None:
    assert spec_problems(replace(GOOD, run=lambda cfg, inputs: {})) == [  # type: ignore[arg-type,misc]
        "run must take three arguments: (config, inputs, ctx)"]


def test_port_declarations_and_types() -> None:
    ports = [Port("text", PortType.TEXT), Port("text", PortType.TEXT), Port("2x", "Text"),  # type: ignore[arg-type]
             Port("s", PortType.TEXT, static=True), Port("many", PortType.TEXT, multiple=True)]
    assert spec_problems(replace(GOOD, inputs=[Port("cfg", PortType.TEXT, static=True, default="x")],
                                 outputs=ports)) == [
        "inputs: input 'cfg' is static; only outputs can be",
        "outputs: port 'text' is declared twice",
        "outputs: port name '2x' must be letters, digits and '_', not starting with a digit",
        "outputs: port '2x' has type 'Text'; use a PortType",
        "outputs: static output 's' has no default, so it would send nothing",
        "outputs: output 'many' is multiple; only inputs gather many edges",
    ]


def test_computed_ports_are_checked_for_the_default_config() -> None:
    def broken(config: Good) -> list[Port]:
        raise KeyError("names")

    assert spec_problems(replace(GOOD, inputs=lambda c: [Port(n, PortType.TEXT) for n in ["a", "a"]])) == [
        "inputs (computed for the default config): port 'a' is declared twice"]
    assert spec_problems(replace(GOOD, outputs=broken)) == [
        "outputs cannot be computed for the default config: KeyError: 'names'"]


def test_roles_and_routers() -> None:
    assert spec_problems(replace(GOOD, role="input", inputs=())) == [
        "a flow input node needs a 'name' config field (use FlowInputConfig)"]
    assert spec_problems(replace(GOOD, config=FlowInputConfig, role="input", inputs=())) == []
    assert spec_problems(replace(GOOD, router=True)) == ["a router needs at least two outputs to choose between"]


def test_migrations_chain_from_one_to_the_current_version() -> None:
    assert spec_problems(replace(GOOD, version=3, migrations={1: lambda c: c, 3: lambda c: c, 2: "x"})) == [
        "migration from version 2 is not callable",
        "migration from version 3 never runs: steps go from 1 to 2 (version 3 is the current one)"]
