"""Tool nodes (`tool.*`): each makes a Tool (or a toolkit, a list of them) for agents.

One module per node, named after its type id: calculator, http, sql_database,
retriever, flow (a saved flow as a tool) and node (one node as a tool). The Tool
value and how calls are checked and answered live in nodes/support/tools.py.
"""

from engine.node import NodeSpec
from nodes.tool import calculator, flow, http, node, retriever, sql_database

SPECS: tuple[NodeSpec, ...] = (*calculator.SPECS, *http.SPECS, *sql_database.SPECS, *retriever.SPECS,
                               *flow.SPECS, *node.SPECS)

__all__ = ["SPECS"]
