"""A small node catalog for UI tests: every config widget kind and port shape once.

The UI must work with any registry, so its tests do not depend on nodes/.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Literal

from pydantic import Field

from engine.errors import PermanentError
from engine.flow import Flow, parse_flow
from engine.node import FlowInputConfig, FlowOutputConfig, NodeConfig, NodeSpec, SecretRef
from engine.ports import Port
from engine.ports import PortType as T
from engine.registry import Registry


class PromptConfig(NodeConfig):
    template: str = Field("Answer: {question}", description="The prompt text.",
                          json_schema_extra={"widget": "prompt"})


class LLMConfig(NodeConfig):
    model: Literal["echo", "shout"] = Field("echo", description="Which offline model to use.")
    temperature: float = Field(0.0, ge=0, le=2, description="Randomness.")
    max_tokens: int | None = Field(None, ge=1, le=4096, description="Upper bound on output length.")
    stop: list[str] = Field(default_factory=list, description="Stop sequences.")
    api_key_env: str = SecretRef("", description="Environment variable holding the API key.")
    json_mode: bool = Field(False, description="Ask for JSON output.")
    extra: dict[str, Any] = Field(default_factory=dict, description="Extra provider options.")
    delay: float = Field(0.0, ge=0, le=5, description="Seconds to wait per token (tests).")
    fail: bool = Field(False, description="Fail on purpose (tests).")


class LoaderConfig(NodeConfig):
    paths: list[str] = Field(default_factory=lambda: ["notes/*.md"], description="Glob patterns.")


class NoConfig(NodeConfig):
    pass


def _text_in(cfg: FlowInputConfig, inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
    return {"text": ctx.flow_inputs.get(cfg.name, cfg.default)}


def _text_out(cfg: FlowOutputConfig, inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
    return {"value": inputs["value"]}


def _prompt(cfg: PromptConfig, inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
    return {"prompt": cfg.template.replace("{question}", str(inputs.get("question") or ""))}


def _llm(cfg: LLMConfig, inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
    if cfg.fail:
        raise PermanentError("the model refused on purpose", hint="untick 'Fail' in the node's properties")
    text = str(inputs["prompt"])
    text = text.upper() if cfg.model == "shout" else text
    for word in text.split(" "):
        if cfg.delay:
            time.sleep(cfg.delay)
        ctx.token(word + " ")
    ctx.usage(prompt_tokens=len(text.split()), completion_tokens=len(text.split()), model=cfg.model)
    return {"text": text, "usage": {"words": len(text.split())}}


def _loader(cfg: LoaderConfig, inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
    return {"documents": [{"text": p} for p in cfg.paths]}


def _pass(cfg: NoConfig, inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
    return {"value": inputs.get("value")}


def _join(cfg: NoConfig, inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
    return {"text": " | ".join(str(v) for v in inputs["values"])}


TEXT = [Port("text", T.TEXT)]
SPECS: tuple[NodeSpec, ...] = (
    NodeSpec("input.text", 1, "Text input", "A text value given when the flow runs.",
             FlowInputConfig, _text_in, outputs=TEXT, role="input", blocking=False, cacheable=False),
    NodeSpec("output.text", 1, "Text output", "Returns a text value from the flow.",
             FlowOutputConfig, _text_out, inputs=[Port("value", T.TEXT)], role="output", blocking=False),
    NodeSpec("demo.prompt", 1, "Prompt", "Fills a template with the question.", PromptConfig, _prompt,
             inputs=[Port("question", T.TEXT), Port("context", T.TEXT, required=False)],
             outputs=[Port("prompt", T.TEXT)], blocking=False),
    NodeSpec("demo.llm", 1, "Offline model", "Echoes the prompt, streaming word by word.", LLMConfig, _llm,
             inputs=[Port("prompt", T.TEXT), Port("model", T.LANGUAGE_MODEL, required=False)],
             outputs=[Port("text", T.TEXT), Port("usage", T.JSON)]),
    NodeSpec("demo.loader", 1, "File loader", "Loads documents from files.", LoaderConfig, _loader,
             outputs=[Port("documents", T.DOCUMENTS)], blocking=False),
    NodeSpec("demo.any", 1, "Pass through", "Passes any value on.", NoConfig, _pass,
             inputs=[Port("value", T.ANY)], outputs=[Port("value", T.ANY)], blocking=False),
    NodeSpec("demo.join", 1, "Join texts", "Joins every text that arrives.", NoConfig, _join,
             inputs=[Port("values", T.TEXT, multiple=True)], outputs=TEXT, blocking=False),
)


def registry() -> Registry:
    return Registry(SPECS)


def qa_flow(**llm: Any) -> Flow:
    """question -> prompt -> llm -> answer, with positions and a renamed node."""
    return parse_flow({
        "schema_version": 1, "id": "qa", "name": "Q&A", "description": "Answers a question.",
        "nodes": [
            {"id": "question", "type": "input.text", "config": {"name": "question"}, "position": [0, 0]},
            {"id": "prompt", "type": "demo.prompt", "name": "Build prompt",
             "config": {"template": "Q: {question}"}, "position": [270, 0]},
            {"id": "llm", "type": "demo.llm", "config": {"model": "shout", **llm}, "position": [540, 0],
             "policy": {"retries": 1, "timeout": 30}},
            {"id": "answer", "type": "output.text", "config": {"name": "answer"}, "position": [810, 0]},
        ],
        "edges": [
            {"from": "question.text", "to": "prompt.question"},
            {"from": "prompt.prompt", "to": "llm.prompt"},
            {"from": "llm.text", "to": "answer.value"},
        ],
    })


# A node that streams one token, then waits for the test to open the gate: lets a test
# look at a run while it is in flight without depending on timing.
GATE = threading.Event()


class GateConfig(NodeConfig):
    pass


def _gate(cfg: GateConfig, inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
    ctx.token("thinking… ")
    if not GATE.wait(60):
        raise TimeoutError("the test never opened the gate")
    return {"text": str(inputs["text"]).upper()}


GATE_SPEC = NodeSpec("demo.gate", 1, "Gate", "Waits for the test.", GateConfig, _gate,
                     inputs=TEXT, outputs=TEXT)


def gated_registry() -> Registry:
    return Registry((*SPECS, GATE_SPEC))


def gated_flow() -> Flow:
    return parse_flow({
        "schema_version": 1, "id": "gated", "name": "Gated",
        "nodes": [
            {"id": "question", "type": "input.text", "config": {"name": "question"}},
            {"id": "gate", "type": "demo.gate"},
            {"id": "answer", "type": "output.text", "config": {"name": "answer"}},
        ],
        "edges": [{"from": "question.text", "to": "gate.text"}, {"from": "gate.text", "to": "answer.value"}],
    })
