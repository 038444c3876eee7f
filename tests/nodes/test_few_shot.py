"""prompt.few_shot and its example selectors: all, length budget, similarity and MMR over real embeddings."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from engine.validate import validate
from nodes.prompt import FewShotConfig
from nodes.prompt._selectors import by_length, by_mmr, by_similarity
from nodes.registry import default_registry
from tests.nodes.flowkit import make_flow, run

EXAMPLES = [
    {"input": "I was charged twice for one order", "output": "billing"},
    {"input": "My card was charged twice this month", "output": "billing"},
    {"input": "The parcel never arrived at my door", "output": "shipping"},
    {"input": "How do I reset my password", "output": "account"},
]


def few_shot_flow(question: str, embeddings: bool = True, **config: Any) -> Any:
    nodes: dict[str, tuple[str, dict[str, Any]]] = {
        "q": ("input.text", {"name": "q", "default": question}),
        "fs": ("prompt.few_shot", {"examples": EXAMPLES, "prefix": "Label each message.", **config}),
        "out": ("output.text", {"name": "prompt"}),
        "chosen": ("output.json", {"name": "chosen"}),
    }
    edges = [("q.text", "fs.input"), ("fs.prompt", "out.value"), ("fs.examples", "chosen.value")]
    if embeddings:
        nodes["emb"] = ("embeddings.hashing", {})
        edges.append(("emb.embeddings", "fs.embeddings"))
    return make_flow(nodes, edges)


def chosen_labels(result: Any) -> list[str]:
    assert result.ok, result.error
    return [e["input"] for e in result.outputs["chosen"]]


def test_all_examples_are_written_between_prefix_and_suffix() -> None:
    result = run(few_shot_flow("Where is my parcel", embeddings=False))
    assert result.outputs["prompt"] == (
        "Label each message.\n\n"
        "Message: I was charged twice for one order\nLabel: billing\n\n"
        "Message: My card was charged twice this month\nLabel: billing\n\n"
        "Message: The parcel never arrived at my door\nLabel: shipping\n\n"
        "Message: How do I reset my password\nLabel: account\n\n"
        "Message: Where is my parcel\nLabel:")


def test_the_length_selector_drops_examples_when_the_question_is_long() -> None:
    # prefix 3 words + suffix 6 + 10 per example: two fit in 35 words
    short = run(few_shot_flow("Where is my parcel", embeddings=False, selector="length", max_words=35))
    assert chosen_labels(short) == [EXAMPLES[0]["input"], EXAMPLES[1]["input"]]
    long_question = " ".join(["word"] * 20)
    assert chosen_labels(run(few_shot_flow(long_question, embeddings=False, selector="length",
                                           max_words=35))) == [EXAMPLES[0]["input"]]


def test_similarity_picks_the_closest_examples_best_first() -> None:
    result = run(few_shot_flow("my parcel never arrived", selector="similarity", k=1, example_keys=["input"]))
    assert chosen_labels(result) == ["The parcel never arrived at my door"]
    result = run(few_shot_flow("I was charged twice", selector="similarity", k=2))
    assert chosen_labels(result) == ["I was charged twice for one order", "My card was charged twice this month"]
    steps = [e.data for e in result.events if e.kind == "node.step"]  # type: ignore[attr-defined]
    assert steps == [{"selector": "similarity", "chosen": 2, "of": 4}]


def test_mmr_prefers_variety_where_similarity_takes_near_duplicates() -> None:
    vectors = np.array([[1.0, 0.0], [0.99, 0.05], [0.7, 0.7]], dtype=np.float32)
    query = np.array([1.0, 0.2], dtype=np.float32)
    assert by_similarity(query, vectors, 2) == [1, 0]
    assert by_mmr(query, vectors, 2, fetch_k=3, lambda_mult=0.5) == [1, 2]
    through_flow = run(few_shot_flow("charged twice", selector="mmr", k=2, lambda_mult=0.3))
    assert chosen_labels(through_flow)[0] in (EXAMPLES[0]["input"], EXAMPLES[1]["input"])
    assert len({e["output"] for e in through_flow.outputs["chosen"]}) == 2  # not both billing


def test_by_length_counts_words() -> None:
    assert by_length(["a b", "c d e", "f"], budget=6, used=1) == [0, 1]
    assert by_length(["a b"], budget=1, used=0) == []


def test_a_connected_examples_input_replaces_the_configured_ones_and_is_checked() -> None:
    flow = few_shot_flow("hi", embeddings=False)
    flow.nodes.append(flow.nodes[0].model_copy(update={"id": "ex", "type": "input.json", "config": {
        "name": "ex", "default": [{"input": "hello", "output": "greeting"}]}}))
    flow.edges.append(flow.edges[0].model_copy(update={"source": "ex.data", "target": "fs.examples"}))
    assert run(flow).outputs["chosen"] == [{"input": "hello", "output": "greeting"}]
    result = run(flow, {"ex": [{"input": "no label"}]})
    assert str(result.error) == ("node 'fs' (prompt.few_shot) failed: node 'fs': input 'examples': example 1 has "
                                 "no 'output', which example_template uses; it has: input")


def test_embedding_selectors_need_an_embeddings_input() -> None:
    spec = default_registry().get("prompt.few_shot")
    assert [p.name for p in spec.input_ports(FewShotConfig(selector="mmr"))] == ["input", "examples", "embeddings"]
    assert [p.name for p in spec.input_ports(FewShotConfig())] == ["input", "examples"]
    issues = validate(few_shot_flow("x", embeddings=False, selector="similarity"), default_registry())
    assert [(i.code, i.port) for i in issues] == [("missing_input", "embeddings")]


@pytest.mark.parametrize(("config", "message"), [
    ({"examples": [{"input": "x"}]},
     "Value error, example 1 has no 'output', which example_template uses; it has: input"),
    ({"query_variables": ["nope"]}, "Value error, query_variables names 'nope', which is not a variable of prefix "
                                    "or suffix; variables are: input"),
    ({"suffix": "{input.__class__}"}, "Value error, placeholder '{input.__class__}' uses attribute access, which "
                                      "templates do not allow; use a plain variable such as {input}"),
])
def test_bad_configs_are_refused_with_the_reason(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        FewShotConfig.model_validate(config)
    assert caught.value.errors()[0]["msg"] == message


def test_example_values_stay_literal() -> None:
    flow = few_shot_flow("{input}", embeddings=False, examples=[{"input": "{output}", "output": "{{x}}"}])
    assert run(flow).outputs["prompt"] == ("Label each message.\n\nMessage: {output}\nLabel: {{x}}\n\n"
                                           "Message: {input}\nLabel:")
