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
    # each example is 12 pieces; "Where is my parcel" is 4: two examples fit in 30
    short = run(few_shot_flow("Where is my parcel", embeddings=False, selector="length", max_length=30))
    assert chosen_labels(short) == [EXAMPLES[0]["input"], EXAMPLES[1]["input"]]
    long_question = " ".join(["word"] * 14)
    assert chosen_labels(run(few_shot_flow(long_question, embeddings=False, selector="length",
                                           max_length=30))) == [EXAMPLES[0]["input"]]
    old_name = run(few_shot_flow("Where is my parcel", embeddings=False, selector="length", max_words=30))
    assert chosen_labels(old_name) == chosen_labels(short)  # flows saved with max_words keep working


ANTONYMS = [{"input": "happy", "output": "sad"}, {"input": "tall", "output": "short"},
            {"input": "energetic", "output": "lethargic"}, {"input": "sunny", "output": "gloomy"},
            {"input": "windy", "output": "calm"}]


@pytest.mark.parametrize("word,max_length", [("big", 25), ("big", 20), ("big", 4), ("big", 5), ("", 25),
                                             ("big and huge and lots of words " * 3, 25),
                                             ("line one\nline two", 12), ("big", 1)])
def test_the_length_selector_counts_like_langchains_max_length(word: str, max_length: int) -> None:
    lc_prompts = pytest.importorskip("langchain_core.prompts")
    lc_selectors = pytest.importorskip("langchain_core.example_selectors")
    template = "Input: {input}\nOutput: {output}"
    theirs = lc_selectors.LengthBasedExampleSelector(
        examples=ANTONYMS, max_length=max_length,
        example_prompt=lc_prompts.PromptTemplate.from_template(template)).select_examples({"adjective": word})
    nodes: dict[str, tuple[str, dict[str, Any]]] = {
        "q": ("input.text", {"name": "adjective", "default": word}),
        "fs": ("prompt.few_shot", {"examples": ANTONYMS, "prefix": "Give the antonym of every input",
                                   "example_template": template, "suffix": "Input: {adjective}\nOutput:",
                                   "selector": "length", "max_length": max_length}),
        "chosen": ("output.json", {"name": "chosen"})}
    result = run(make_flow(nodes, [("q.text", "fs.adjective"), ("fs.examples", "chosen.value")]))
    assert result.ok, result.error
    assert result.outputs["chosen"] == theirs
    if (word, max_length) == ("big", 25):
        assert len(theirs) == 5  # LangChain's documented example


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


def test_by_length_counts_examples_and_input() -> None:
    assert by_length(["a b", "c d e", "f"], max_length=6, input_text="x") == [0, 1]
    assert by_length(["a b"], max_length=1, input_text="") == []
    assert by_length(["a\n\nb"], max_length=4, input_text="x") == [0]  # empty pieces count, as in LangChain


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
