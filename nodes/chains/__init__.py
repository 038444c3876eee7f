"""The classic chains as nodes: SQL database QA, API calls, conversational retrieval QA,
self-critique (constitutional) and entity extraction. One module each."""

from engine.node import NodeSpec
from nodes.chains import api, conversational, critique, extraction, sql

SPECS: tuple[NodeSpec, ...] = (*sql.SPECS, *api.SPECS, *conversational.SPECS, *critique.SPECS, *extraction.SPECS)

__all__ = ["SPECS"]
