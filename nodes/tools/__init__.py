"""Tool nodes: each makes a Tool (or a toolkit, a list of them) for agents.

`base.py` holds the Tool value and how calls are checked and answered; one module
per tool: calculator, HTTP request, SQL database toolkit, retriever, and flows or
single nodes exposed as tools.
"""

from engine.node import NodeSpec
from nodes.tools import calculator, flows, http, retriever, sql

SPECS: tuple[NodeSpec, ...] = (*calculator.SPECS, *http.SPECS, *sql.SPECS, *retriever.SPECS, *flows.SPECS)

__all__ = ["SPECS"]
