"""What every output parser node shares: its config, its ports, and parse-then-repair-once.

A parser node takes the model's output on `text` and gives the parsed value on
`value`. Its `format_instructions` output is static (known from the config), so
it can be wired into the prompt *before* the model that the parser reads: the
engine sends it at the start of the run. When parsing fails and a LanguageModel
is connected to `model`, the parser asks that model once to repair its output,
telling it the instructions and every problem found; a second failure is an error
that lists the problems of both attempts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import Field

from engine.errors import PermanentError
from engine.node import NodeConfig
from engine.ports import Port, PortType
from nodes.support.messages import Message
from nodes.support.parsing.extract import ParseError
from nodes.support.providers.model import send_request
from nodes.support.values import as_text

if TYPE_CHECKING:
    from engine.context import RunContext

Parse = Callable[[str], Any]
REPAIR_SYSTEM = ("You fix answers that could not be read by a program. Reply with the corrected answer only: "
                 "no apology, no explanation.")
INPUTS = (Port("text", PortType.TEXT, "The model's output."),
          Port("model", PortType.LANGUAGE_MODEL, "A model that may repair an output that does not parse "
               "(asked once).", required=False))


class ParserConfig(NodeConfig):
    format_instructions: str = Field(
        "", max_length=20_000, json_schema_extra={"widget": "textarea"},
        description="What to tell the model about the form of its answer; empty: written from this "
                    "parser's settings. Wire the format_instructions output into your prompt.")
    repair: bool = Field(True, description="When a model is connected, ask it once to repair an output "
                                           "that does not parse.")


def output_ports(instructions: Callable[[Any], str]) -> Callable[[Any], list[Port]]:
    """The parser's outputs for a config: `value`, and its static `format_instructions`."""
    def ports(config: Any) -> list[Port]:
        return [Port("value", PortType.JSON, "The parsed value."),
                Port("format_instructions", PortType.TEXT, "How the answer must look; wire it into the "
                     "prompt (it is known before the model runs).", static=True,
                     default=config.format_instructions or instructions(config))]
    return ports


def repair_request(text: str, instructions: str, err: ParseError) -> tuple[Message, ...]:
    problems = "\n".join(f"- {p}" for p in err.problems)
    return (Message("system", REPAIR_SYSTEM),
            Message("user", f"The answer had to follow these instructions:\n{instructions}\n\n"
                            f"It could not be read, because:\n{problems}\n\n"
                            f"The answer was:\n{text}\n\nWrite the corrected answer."))


async def parse_or_repair(config: ParserConfig, inputs: dict[str, Any], ctx: RunContext, parse: Parse,
                          instructions: str) -> dict[str, Any]:
    text = as_text(inputs["text"])
    try:
        return {"value": parse(text), "format_instructions": instructions}
    except ParseError as err:
        first = err
    model = inputs.get("model")
    if model is None or not config.repair:
        raise failure(ctx.node_id, first, repaired=None)
    ctx.step("repair", problems=first.problems)
    fixed = await send_request(model, model.request(repair_request(text, instructions, first)), ctx, stream=False)
    try:
        value = parse(fixed.text)
    except ParseError as second:
        raise failure(ctx.node_id, first, repaired=second) from second
    ctx.step("repaired", output=fixed.text)
    return {"value": value, "format_instructions": instructions}


def failure(node_id: str, first: ParseError, repaired: ParseError | None) -> PermanentError:
    if repaired is None:
        return PermanentError(f"node '{node_id}': {_listed(first)}",
                              hint="wire format_instructions into the prompt, or connect a model to 'model' "
                                   "so the output can be repaired once")
    return PermanentError(f"node '{node_id}': {_listed(first)}; the repaired output failed too: {_listed(repaired)}",
                          hint="make the instructions clearer, or use a stronger model")


def _listed(err: ParseError) -> str:
    if len(err.problems) <= 1:
        return err.message
    return f"{err.message}: " + "; ".join(err.problems)
