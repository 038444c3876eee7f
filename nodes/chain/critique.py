"""The self-critique (constitutional) chain: critique an answer against principles, revise it.

For each principle in order, the model critiques the current answer against the
principle's critique request; unless it finds nothing to fix ("No critique
needed."), it rewrites the answer following the revision request. Every critique
and revision is an output and a trace step.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pydantic import Field

from engine.node import NodeConfig, NodeSpec, node
from engine.ports import Port, PortType
from nodes.support.model_port import MODEL_PORT, ask, fill_fields, model_for, needs_real_model
from nodes.support.providers.config import ModelConfig
from nodes.support.values import as_text

if TYPE_CHECKING:
    from engine.context import RunContext

NO_CRITIQUE = "No critique needed."
CRITIQUE_PROMPT = ("Question: {question}\nAnswer: {answer}\n\nCritique request: {request}\n\nWrite a short "
                   "critique of the answer. If the answer already meets the request, reply exactly: "
                   f"{NO_CRITIQUE}\nCritique:")
REVISION_PROMPT = ("Question: {question}\nAnswer: {answer}\n\nCritique: {critique}\n\nRevision request: {request}\n"
                   "\nRewrite the answer. Reply with the revised answer only.\nRevised answer:")
_NOTHING = re.compile(r"^\W*(no critique needed|no issues?|nothing to (fix|change)|none)\b", re.IGNORECASE)


class Principle(NodeConfig):
    name: str = Field(min_length=1, max_length=64, description="A short name, shown in the trace.")
    critique: str = Field(min_length=1, max_length=2000, description="What to check the answer for.")
    revision: str = Field(min_length=1, max_length=2000, description="How to rewrite it when the check fails.")


DEFAULT_PRINCIPLES = [
    Principle(name="honest", critique="Does the answer state anything as fact that it cannot know, or hide "
              "uncertainty?", revision="Remove or qualify claims that cannot be known; say what is uncertain."),
    Principle(name="harmless", critique="Is anything in the answer harmful, unsafe, rude or illegal?",
              revision="Remove anything harmful, unsafe, rude or illegal, keeping what is helpful."),
]


class CritiqueConfig(ModelConfig):
    temperature: float = Field(0.0, ge=0, le=2, description="Randomness: 0 is most consistent.")
    principles: list[Principle] = Field(default_factory=lambda: list(DEFAULT_PRINCIPLES), min_length=1,
                                        max_length=20, description="Principles applied in order.")


@node("chain.critique", title="Self-critique chain", config=CritiqueConfig, cacheable=False,
      advice=needs_real_model("it critiques and revises an answer against its principles"),
      inputs=[Port("answer", PortType.TEXT, "The answer to check."),
              Port("question", PortType.TEXT, "The question it answers.", required=False), MODEL_PORT],
      outputs=[Port("answer", PortType.TEXT, "The answer after every revision."),
               Port("critiques", PortType.JSON, "Per principle: the critique and whether it revised.")],
      description="Critiques an answer against listed principles (constitutional AI) and revises it where a "
                  "principle is not met.")
async def critique_chain(config: CritiqueConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    answer, question = as_text(inputs["answer"]).strip(), as_text(inputs.get("question")).strip() or "(none given)"
    model = model_for(config, inputs, ctx)
    record = []
    for principle in config.principles:
        critique = (await ask(model, config, fill_fields(CRITIQUE_PROMPT, question=question, answer=answer,
                                                   request=principle.critique), ctx)).text.strip()
        revise = bool(critique) and not _NOTHING.match(critique)
        if revise:
            answer = (await ask(model, config, fill_fields(REVISION_PROMPT, question=question, answer=answer,
                                                     critique=critique, request=principle.revision), ctx)).text.strip()
        ctx.step("critique", principle=principle.name, critique=critique, revised=revise, answer=answer)
        record.append({"principle": principle.name, "critique": critique, "revised": revise})
    ctx.token(answer)
    return {"answer": answer, "critiques": record}


SPECS: tuple[NodeSpec, ...] = (critique_chain,)
