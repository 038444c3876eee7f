"""The classic chains as nodes: SQL database QA, API calls, conversational retrieval QA,
self-critique (constitutional) and entity extraction. One module each."""

from engine.node import NodeSpec
from nodes.chain import api, conversational_retrieval, critique, extract, sql

SPECS: tuple[NodeSpec, ...] = (*sql.SPECS, *api.SPECS, *conversational_retrieval.SPECS, *critique.SPECS, *extract.SPECS)

__all__ = ["SPECS"]
