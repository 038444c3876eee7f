"""Entity extraction to a schema: every entity of a text as an object that fits a JSON schema.

The schema of one entity is given as a JSON schema or as a list of fields (as for
`parser.structured`). The model is asked, in JSON mode, for {"entities": [...]};
the answer is read leniently (code fences, prose around it) and each entity is
checked against the schema. When that fails and `repair` is on, the model is
asked once to fix its answer, told every problem found.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pydantic import Field

from engine.node import NodeSpec, node
from engine.ports import Port, PortType
from nodes.support.model_port import MODEL_PORT, ask, fill_fields, model_for, needs_real_model
from nodes.support.parsing.extract import ParseError, extract_json
from nodes.support.parsing.repair import failure, repair_request
from nodes.support.parsing.schema import StructuredParserConfig, problems
from nodes.support.providers.config import ModelConfig
from nodes.support.values import as_text

if TYPE_CHECKING:
    from engine.context import RunContext

EXTRACT_PROMPT = ("Extract every entity from the text below. {instructions}\n\nText:\n{text}")


class ExtractConfig(StructuredParserConfig, ModelConfig):
    temperature: float = Field(0.0, ge=0, le=2, description="Randomness: 0 is most consistent.")
    json_mode: bool = Field(True, description="Ask the model for one JSON object.")


def entities_schema(entity: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {"entities": {"type": "array", "items": entity}},
            "required": ["entities"]}


def instructions(schema: dict[str, Any]) -> str:
    return ('Answer with one JSON object {"entities": [...]} whose items each match this JSON schema, and '
            'nothing else; use an empty list when there are none:\n' + json.dumps(schema, ensure_ascii=False))


def read_entities(text: str, schema: dict[str, Any]) -> list[Any]:
    """The entities in a model's answer; ParseError listing every problem."""
    value = extract_json(text)
    if isinstance(value, list):
        value = {"entities": value}
    found = problems(value, entities_schema(schema))
    if found:
        raise ParseError(f"the entities do not match the schema ({len(found)} problem(s))", found)
    return list(value["entities"])


@node("chain.extract", title="Entity extraction", config=ExtractConfig, cacheable=False,
      advice=needs_real_model("it reads entities out of free text into the schema"),
      inputs=[Port("text", PortType.TEXT, "The text to extract from."), MODEL_PORT],
      outputs=[Port("entities", PortType.JSON, "The entities found, each matching the schema.")],
      description="Extracts every entity of a text as objects matching a JSON schema or field list; repairs "
                  "a non-matching answer once.")
async def extract_chain(config: ExtractConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    schema, model = config.schema(), model_for(config, inputs, ctx)
    told = config.format_instructions or instructions(schema)
    reply = (await ask(model, config, fill_fields(EXTRACT_PROMPT, instructions=told, text=as_text(inputs["text"])),
                       ctx, json_mode=config.json_mode)).text
    try:
        return {"entities": read_entities(reply, schema)}
    except ParseError as err:
        first = err
    if not config.repair:
        raise failure(ctx.node_id, first, repaired=None)
    ctx.step("repair", problems=first.problems)
    fixed = (await ask(model, config, repair_request(reply, told, first), ctx)).text
    try:
        entities = read_entities(fixed, schema)
    except ParseError as second:
        raise failure(ctx.node_id, first, repaired=second) from second
    ctx.step("repaired", output=fixed)
    return {"entities": entities}


SPECS: tuple[NodeSpec, ...] = (extract_chain,)
