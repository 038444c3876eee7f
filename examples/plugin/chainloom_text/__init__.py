"""An example chainloom node plugin: two small text nodes in the `text` family.

NODES is what the `chainloom.nodes` entry point in pyproject.toml names; chainloom
checks each spec with engine.testing.check_spec when it loads the plugin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from engine.node import NodeConfig, NodeSpec, node
from engine.ports import Port, PortType

if TYPE_CHECKING:
    from engine.context import RunContext


class ReverseConfig(NodeConfig):
    by: Literal["characters", "words"] = Field(
        "characters", description="Reverse the order of the characters, or of the words (spacing is normalised).")


@node("text.reverse", title="Reverse text", config=ReverseConfig,
      description="Reverses a text, character by character or word by word.",
      inputs=[Port("text", PortType.TEXT, "Text to reverse.")],
      outputs=[Port("text", PortType.TEXT, "The reversed text.")],
      blocking=False)  # cheap and pure: runs inline on the event loop
def reverse(config: ReverseConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    text = str(inputs["text"])
    if config.by == "words":
        return {"text": " ".join(reversed(text.split()))}
    return {"text": text[::-1]}


class CountConfig(NodeConfig):
    what: Literal["words", "characters", "lines"] = Field("words", description="What to count in the text.")


@node("text.count", title="Count text", config=CountConfig,
      description="Counts the words, characters or lines of a text.",
      inputs=[Port("text", PortType.TEXT, "Text to count in.")],
      outputs=[Port("count", PortType.NUMBER, "How many there are.")],
      blocking=False)
def count(config: CountConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    text = str(inputs["text"])
    counts = {"words": len(text.split()), "characters": len(text), "lines": len(text.splitlines())}
    return {"count": counts[config.what]}


NODES: list[NodeSpec] = [reverse, count]
