"""Chat memory persisted per session: kinds (kinds.py), storage (store.py), extraction, and the nodes."""

from nodes.memory.nodes import SPECS

__all__ = ["SPECS"]
