"""`prompt.template`: fills {variables} in a text; one Text input per variable.

The template language (plain names only, `{{`/`}}` for braces, refused at
validation) is nodes/prompt/_language.py, shared with `prompt.chat` and
`prompt.few_shot`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from engine.node import NodeSpec, node
from engine.ports import Port, PortType
from nodes.prompt._language import (
    MAX_TEMPLATE_CHARS,
    TemplatedConfig,
    defaults_field,
    fill_template,
    parse_template,
    variable_ports,
)

if TYPE_CHECKING:
    from engine.context import RunContext


class PromptTemplateConfig(TemplatedConfig):
    template: str = Field(
        "Answer the question.\n\nQuestion: {question}",
        description="Text with {variables}; each variable becomes an input port. "
                    "Write {{ and }} for literal braces.",
        max_length=MAX_TEMPLATE_CHARS, json_schema_extra={"widget": "prompt"})
    defaults: dict[str, str] = defaults_field()

    @field_validator("template")
    @classmethod
    def _plain_variables_only(cls, value: str) -> str:
        parse_template(value)  # TemplateError is a ValueError: pydantic reports it on this field
        return value

    def variables(self) -> list[str]:
        return list(parse_template(self.template).variables)


def _variable_ports(config: PromptTemplateConfig) -> list[Port]:
    return variable_ports(config.variables(), config.defaults)


@node("prompt.template", title="Prompt template", config=PromptTemplateConfig,
      description="Fills {variables} in a text with the values on its inputs (one input per variable). "
                  "Plain names only; values are inserted literally.",
      inputs=_variable_ports,
      outputs=[Port("prompt", PortType.TEXT, "The filled-in text.")],
      blocking=False)
def prompt_template(config: PromptTemplateConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    return {"prompt": fill_template(parse_template(config.template), inputs, config.defaults)}


SPECS: tuple[NodeSpec, ...] = (prompt_template,)
