"""`prompt.few_shot`: a prompt that shows the model worked examples before the question.

The prompt is `prefix`, the chosen examples (each written with `example_template`)
and `suffix`, joined by `separator`. Prefix and suffix variables become Text
inputs; example variables are the fields of each example. Examples come from the
config or, when connected, the `examples` input (a JSON list of objects). The
selector picks which: all of them; as many as fit with the input in max_length (`length`, counted like LangChain); the
k most similar to the question (`similarity`); or k similar but varied ones
(`mmr`). The embedding selectors compare the question (the suffix's variables, or
`query_variables`) with each example's fields (`example_keys`, or all) using the
Embeddings input; embeddings are cached by the embedder, so examples are embedded once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import AliasChoices, Field, model_validator

from engine.errors import PermanentError
from engine.node import node
from engine.ports import Port, PortType
from nodes.prompt import _selectors as selectors
from nodes.prompt._language import TemplatedConfig, defaults_field, fill_template, parse_template, variable_ports
from nodes.support.values import as_text

if TYPE_CHECKING:
    from engine.context import RunContext

Example = dict[str, str]
MAX_EXAMPLES = 2000


class FewShotConfig(TemplatedConfig):
    prefix: str = Field("Classify each message.", max_length=20_000, json_schema_extra={"widget": "prompt"},
                        description="Text before the examples, with {variables}.")
    example_template: str = Field("Message: {input}\nLabel: {output}", max_length=20_000,
                                  json_schema_extra={"widget": "prompt"},
                                  description="How one example is written; its {variables} are example fields.")
    suffix: str = Field("Message: {input}\nLabel:", max_length=20_000, json_schema_extra={"widget": "prompt"},
                        description="Text after the examples (usually the question), with {variables}.")
    separator: str = Field("\n\n", max_length=100, description="Put between prefix, examples and suffix.")
    examples: list[Example] = Field(default_factory=list, max_length=MAX_EXAMPLES,
                                    description="The examples: objects with a value for every variable of "
                                                "example_template. A connected `examples` input replaces them.")
    selector: Literal["all", "length", "similarity", "mmr"] = Field(
        "all", description="all: every example; length: in order, while examples and input fit max_length; "
        "similarity: the k closest to the question; mmr: k close but varied (needs embeddings).")
    k: int = Field(4, ge=1, le=100, description="similarity/mmr: how many examples.")
    max_length: int = Field(2048, ge=1, le=1_000_000, validation_alias=AliasChoices("max_length", "max_words"),
                            description="length: budget for the examples plus the input, counted like "
                                        "LangChain's LengthBasedExampleSelector (pieces between spaces and "
                                        "newlines); the input is the variables' values joined by spaces.")
    fetch_k: int = Field(20, ge=1, le=1000, description="mmr: how many similar examples to choose from.")
    lambda_mult: float = Field(0.5, ge=0, le=1, description="mmr: 1 favours similarity, 0 variety.")
    query_variables: list[str] = Field(default_factory=list, description="similarity/mmr: the variables "
                                       "that make up the question; empty = all variables of the suffix.")
    example_keys: list[str] = Field(default_factory=list, description="similarity/mmr: the example fields "
                                    "compared with the question; empty = all of them.")
    defaults: dict[str, str] = defaults_field()

    @model_validator(mode="after")
    def _consistent(self) -> FewShotConfig:
        for field in ("prefix", "example_template", "suffix"):
            parse_template(getattr(self, field))
        unknown = [v for v in self.query_variables if v not in self.variables()]
        if unknown:
            raise ValueError(f"query_variables names '{unknown[0]}', which is not a variable of prefix or "
                             f"suffix; variables are: {', '.join(self.variables()) or 'none'}")
        for i, example in enumerate(self.examples, 1):
            check_example(example, self.example_variables(), f"example {i}")
        return self

    def variables(self) -> list[str]:
        """Prefix and suffix variables, in order (the Text input ports)."""
        return list(dict.fromkeys(parse_template(self.prefix).variables + parse_template(self.suffix).variables))

    def example_variables(self) -> tuple[str, ...]:
        return parse_template(self.example_template).variables

    @property
    def uses_embeddings(self) -> bool:
        return self.selector in ("similarity", "mmr")


def check_example(example: Any, fields: tuple[str, ...], label: str) -> Example:
    if not isinstance(example, Mapping):
        raise ValueError(f"{label} is {type(example).__name__}, not an object of fields")
    missing = [f for f in fields if f not in example]
    if missing:
        raise ValueError(f"{label} has no '{missing[0]}', which example_template uses; it has: "
                         f"{', '.join(map(str, example)) or 'no fields'}")
    return {str(k): as_text(v) for k, v in example.items()}


def _inputs(config: FewShotConfig) -> list[Port]:
    ports = variable_ports(config.variables(), config.defaults)
    ports.append(Port("examples", PortType.JSON, "Examples to use instead of the configured ones: "
                      "a list of objects.", required=False))
    if config.uses_embeddings:
        ports.append(Port("embeddings", PortType.EMBEDDINGS, "The embedding model that compares examples "
                          "with the question."))
    return ports


def _examples(config: FewShotConfig, given: Any, node_id: str) -> list[Example]:
    if given is None:
        return list(config.examples)
    if not isinstance(given, list) or len(given) > MAX_EXAMPLES:
        raise PermanentError(f"node '{node_id}': input 'examples' must be a list of at most {MAX_EXAMPLES} "
                             f"objects; got {type(given).__name__}")
    try:
        return [check_example(e, config.example_variables(), f"example {i}") for i, e in enumerate(given, 1)]
    except ValueError as err:
        raise PermanentError(f"node '{node_id}': input 'examples': {err}") from err


def _select(config: FewShotConfig, examples: list[Example], written: list[str], inputs: dict[str, Any],
            ctx: RunContext) -> list[int]:
    if config.selector == "all":
        return list(range(len(examples)))
    if config.selector == "length":
        values = " ".join(as_text(inputs.get(n, config.defaults.get(n))) for n in config.variables())
        return selectors.by_length(written, config.max_length, values)
    query_names = config.query_variables or list(parse_template(config.suffix).variables)
    query = " ".join(as_text(inputs.get(n, config.defaults.get(n))) for n in query_names)
    keys = config.example_keys
    texts = [" ".join(v for k, v in e.items() if not keys or k in keys) for e in examples]
    import numpy as np  # noqa: PLC0415 - only embedding selectors need numpy

    from nodes.support.embedders import usage_hook  # noqa: PLC0415

    embedder = inputs["embeddings"]
    hook = usage_hook(ctx, getattr(embedder, "name", "embeddings"))
    vectors = np.asarray(embedder.embed_documents(texts, usage=hook), dtype=np.float32)
    q = np.asarray(embedder.embed_query(query, usage=hook), dtype=np.float32)
    if config.selector == "similarity":
        return selectors.by_similarity(q, vectors, config.k)
    return selectors.by_mmr(q, vectors, config.k, config.fetch_k, config.lambda_mult)


@node("prompt.few_shot", title="Few-shot prompt", config=FewShotConfig,
      description="Shows the model worked examples before the question; picks them all, by a length "
                  "budget, by similarity to the question, or by maximal marginal relevance.",
      inputs=_inputs,
      outputs=[Port("prompt", PortType.TEXT, "Prefix, chosen examples and suffix, filled in."),
               Port("examples", PortType.JSON, "The examples chosen, in the order shown.")])
def few_shot_prompt(config: FewShotConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    examples = _examples(config, inputs.get("examples"), ctx.node_id)
    template = parse_template(config.example_template)
    written = [template.render(e) for e in examples]
    head = fill_template(parse_template(config.prefix), inputs, config.defaults)
    tail = fill_template(parse_template(config.suffix), inputs, config.defaults)
    chosen = _select(config, examples, written, inputs, ctx) if examples else []
    ctx.step("examples", selector=config.selector, chosen=len(chosen), of=len(examples))
    parts = [p for p in (head, *(written[i] for i in chosen), tail) if p]
    return {"prompt": config.separator.join(parts), "examples": [examples[i] for i in chosen]}


SPECS = (few_shot_prompt,)
