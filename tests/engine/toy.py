"""A tiny registry of toy node types for engine tests (the engine never sees nodes/).

Every toy node appends its id to `calls` when it runs, so a test can assert which
nodes ran, in what order, and how often.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pydantic import Field

from engine.node import FlowInputConfig, FlowOutputConfig, NodeConfig, NodeSpec
from engine.ports import Port
from engine.ports import PortType as T
from engine.registry import Registry


class StepConfig(NodeConfig):
    suffix: str = ""
    delay: float = Field(0.0, ge=0)
    fail: bool = False
    fail_times: int = 0
    tokens: list[str] = Field(default_factory=list)


class RouteConfig(NodeConfig):
    fire: list[str] = Field(default_factory=list)


class MergeConfig(NodeConfig):
    pass


class Toys:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.attempts: dict[str, int] = {}
        self.registry = Registry(self.specs())

    def _record(self, ctx: Any, cfg: StepConfig) -> None:
        self.calls.append(ctx.node_id)
        n = self.attempts[ctx.node_id] = self.attempts.get(ctx.node_id, 0) + 1
        if cfg.fail or n <= cfg.fail_times:
            raise RuntimeError(f"boom #{n}")

    def specs(self) -> list[NodeSpec]:
        async def step(cfg: StepConfig, inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
            if cfg.delay:
                await asyncio.sleep(cfg.delay)
            for tok in cfg.tokens:
                ctx.token(tok)
            self._record(ctx, cfg)
            return {"text": inputs["text"] + cfg.suffix}

        def block(cfg: StepConfig, inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
            if cfg.delay:
                time.sleep(cfg.delay)
            for tok in cfg.tokens:
                ctx.token(tok)
            self._record(ctx, cfg)
            return {"text": inputs["text"] + cfg.suffix}

        def inline(cfg: StepConfig, inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
            self._record(ctx, cfg)
            return {"text": inputs["text"] + cfg.suffix}

        def join(cfg: StepConfig, inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
            self._record(ctx, cfg)
            return {"text": f"{inputs['a']}+{inputs['b']}"}

        def route(cfg: RouteConfig, inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
            self.calls.append(ctx.node_id)
            return dict.fromkeys(cfg.fire, inputs["text"])

        def merge(cfg: MergeConfig, inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
            self.calls.append(ctx.node_id)
            return {"text": inputs["values"][0] if inputs["values"] else ""}

        def text_in(cfg: FlowInputConfig, inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
            return {"text": ctx.flow_inputs.get(cfg.name, cfg.default)}

        def text_out(cfg: FlowOutputConfig, inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
            return {"value": inputs["value"]}

        text = [Port("text", T.TEXT)]
        return [
            NodeSpec("input.text", 1, "In", "", FlowInputConfig, text_in, outputs=text,
                     role="input", blocking=False, cacheable=False),
            NodeSpec("output.text", 1, "Out", "", FlowOutputConfig, text_out,
                     inputs=[Port("value", T.TEXT)], role="output", blocking=False),
            NodeSpec("toy.step", 1, "Async step", "", StepConfig, step, inputs=text, outputs=text),
            NodeSpec("toy.block", 1, "Blocking step", "", StepConfig, block, inputs=text, outputs=text),
            NodeSpec("toy.inline", 1, "Inline step", "", StepConfig, inline, inputs=text, outputs=text,
                     blocking=False),
            NodeSpec("toy.join", 1, "Join", "", StepConfig, join,
                     inputs=[Port("a", T.TEXT), Port("b", T.TEXT)], outputs=text, blocking=False),
            NodeSpec("toy.route", 1, "Route", "", RouteConfig, route, inputs=text,
                     outputs=[Port("left", T.TEXT), Port("right", T.TEXT)], router=True, blocking=False),
            NodeSpec("toy.merge", 1, "Merge", "", MergeConfig, merge,
                     inputs=[Port("values", T.TEXT, required=False, multiple=True)], outputs=text,
                     blocking=False),
            NodeSpec("toy.count", 1, "Number source", "", StepConfig,
                     lambda c, i, x: {"n": 1}, outputs=[Port("n", T.NUMBER)], blocking=False),
            NodeSpec("toy.effect", 1, "Side effect", "", StepConfig, inline, inputs=text, outputs=text,
                     blocking=False, side_effects=True),
        ]


def flow(nodes: list[tuple[str, str, dict[str, Any]]], edges: list[tuple[str, str]],
         flow_id: str = "t") -> dict[str, Any]:
    """Build a flow dict from (id, type, config) triples and ("a.p", "b.q") edges."""
    return {
        "schema_version": 1,
        "id": flow_id,
        "nodes": [{"id": i, "type": t, "config": c} for i, t, c in nodes],
        "edges": [{"from": a, "to": b} for a, b in edges],
    }
