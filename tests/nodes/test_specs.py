"""Every node type in the default registry keeps the node contract (engine.testing.check_spec)."""

from __future__ import annotations

import pytest

from engine.node import NodeSpec
from engine.testing import check_spec
from nodes.registry import default_registry


@pytest.mark.parametrize("spec", list(default_registry()), ids=lambda s: s.type)
def test_every_registered_node_type_keeps_the_contract(spec: NodeSpec) -> None:
    check_spec(spec)
