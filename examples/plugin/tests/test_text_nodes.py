"""The plugin's own tests: each spec keeps the node contract, and a flow runs with them."""

from __future__ import annotations

from pathlib import Path

import pytest
from chainloom_text import NODES, count, reverse

import chainloom
from engine.node import NodeSpec
from engine.testing import check_spec
from nodes.registry import Catalog

FLOW = Path(__file__).resolve().parents[1] / "flows" / "reverse.json"


@pytest.mark.parametrize("spec", NODES, ids=lambda s: s.type)
def test_spec_keeps_the_node_contract(spec: NodeSpec) -> None:
    check_spec(spec)


def test_reverse_and_count() -> None:
    assert reverse.run(reverse.parse_config({}), {"text": "abc"}, None) == {"text": "cba"}
    assert reverse.run(reverse.parse_config({"by": "words"}), {"text": "a  b c"}, None) == {"text": "c b a"}
    assert count.run(count.parse_config({"what": "lines"}), {"text": "a\nb\n"}, None) == {"count": 2}
    assert count.run(count.parse_config({}), {"text": " a b  c "}, None) == {"count": 3}


def test_a_flow_runs_with_the_plugin_nodes(tmp_path: Path) -> None:
    registry = Catalog()  # the built-in families, plus this plugin's specs registered by hand
    for spec in NODES:
        registry.register(spec)
    runner = chainloom.runner(home=tmp_path, registry=registry, store=False, trace=False)
    result = runner.run(chainloom.load(FLOW), {"text": "to be or not"})
    assert result.ok, result.error
    assert result.outputs == {"reversed": "not or be to", "words": 4}
