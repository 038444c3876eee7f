"""The default catalog: every node family chainloom ships, registered explicitly.

A flow's node types resolve only through this list; nothing is imported by a name
taken from a flow file. Add a family by importing its module and listing it below.
"""

from __future__ import annotations

from functools import lru_cache
from types import ModuleType

from engine.registry import Registry


def _families() -> list[ModuleType]:
    # Imported here, not at module top, so that `import nodes.registry` stays cheap.
    from nodes import io  # noqa: PLC0415
    from nodes import llms  # noqa: PLC0415
    from nodes import logic  # noqa: PLC0415
    from nodes import prompts  # noqa: PLC0415
    from nodes import transforms  # noqa: PLC0415
    from nodes import embeddings  # noqa: PLC0415
    from nodes import loaders  # noqa: PLC0415
    from nodes import retrieval  # noqa: PLC0415
    from nodes import splitters  # noqa: PLC0415
    from nodes import vectorstores  # noqa: PLC0415
    from nodes import tools  # noqa: PLC0415
    from nodes import memory  # noqa: PLC0415
    from nodes import chat_io  # noqa: PLC0415
    from nodes import routers  # noqa: PLC0415
    from nodes import agents  # noqa: PLC0415
    from nodes import chains  # noqa: PLC0415
    from nodes import parsers  # noqa: PLC0415

    return [
        io,
        llms,
        logic,
        prompts,
        transforms,
        embeddings,
        loaders,
        retrieval,
        splitters,
        vectorstores,
        tools,
        memory,
        chat_io,
        routers,
        agents,
        chains,
        parsers,
    ]


@lru_cache(maxsize=1)
def default_registry() -> Registry:
    registry = Registry()
    for module in _families():
        for spec in module.SPECS:
            registry.register(spec)
    return registry
