"""LLM and embedding routers: the chosen branch runs, the others are skipped, bad answers go to the default."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from nodes.router import EmbeddingRouterConfig, LlmRouterConfig, read_choice
from tests.nodes.flowkit import make_flow, ran, run

# The offline hashing embedder compares words, not meanings: descriptions list the words people use.
BRANCHES = [{"name": "billing", "description": "invoice, invoices, refund, refunds, charge, charged, payment, price"},
            {"name": "shipping", "description": "delivery, parcel, parcels, courier, late, tracking number"},
            {"name": "tech", "description": "error, errors, crash, crashes, password, login, app bug"}]


def router_flow(router: tuple[str, dict[str, Any]], extra: dict[str, tuple[str, dict[str, Any]]] | None = None,
                extra_edges: list[tuple[str, str]] | None = None):  # type: ignore[no-untyped-def]
    nodes = {"q": ("input.text", {"name": "q"}), "route": router, "merge": ("flow.merge", {}),
             "out": ("output.text", {"name": "branch"}), **(extra or {})}
    edges = [("q.text", "route.value"), ("merge.value", "out.value"), *(extra_edges or [])]
    for name in ("billing", "shipping", "tech", "default"):
        nodes[f"on_{name}"] = ("transform.text", {"steps": [{"op": "prepend", "text": f"{name}: "}]})
        edges += [(f"route.{name}", f"on_{name}.text"), (f"on_{name}.text", "merge.values")]
    return make_flow(nodes, edges)


def llm(answer: str) -> tuple[str, dict[str, Any]]:
    return ("router.llm", {"branches": BRANCHES, "provider": "scripted", "responses": [answer]})


@pytest.mark.parametrize(("answer", "branch"), [
    ("billing", "billing"), ("  `Shipping`. ", "shipping"), ('{"branch": "tech"}', "tech"),
    ("This is about a refund, so: billing.", "billing"), ("default", "default"),
    ("I am not sure.", "default"), ("billing or shipping", "default"), ("", "default"),
])
def test_llm_router_reads_the_models_choice(answer: str, branch: str) -> None:
    result = run(router_flow(llm(answer)), {"q": "Where is my parcel?"})
    assert result.outputs == {"branch": f"{branch}: Where is my parcel?"}
    status = ran(result)
    assert {n for n, s in status.items() if s == "skipped"} == \
        {f"on_{b}" for b in ("billing", "shipping", "tech", "default") if b != branch}


def test_llm_router_records_its_reason_and_the_prompt_lists_branches() -> None:
    result = run(router_flow(llm("no idea")), {"q": "hello"})
    step = next(e for e in result.events if e.kind == "node.step" and e.node == "route")
    assert step.data == {"to": ["default"], "answer": "no idea", "reason": "the answer names no branch"}
    started = next(e for e in result.events if e.kind == "node.finished" and e.node == "route")
    assert started.usage["prompt_tokens"] > 20  # type: ignore[attr-defined]


def test_read_choice_prefers_exact_then_json_then_a_single_mention() -> None:
    names = ["billing", "tech", "default"]
    assert read_choice("TECH", names) == ("tech", "the answer is a branch name")
    assert read_choice('{"route": "billing"}', names) == ("billing", "the answer is a JSON choice")
    assert read_choice("billing and tech", names) == (None, "the answer names several branches: billing, tech")
    assert read_choice("technical", names) == (None, "the answer names no branch")


EMBED = {"embed": ("embeddings.hashing", {})}


@pytest.mark.parametrize(("question", "branch"), [
    ("I was charged twice on my invoice, I want a refund", "billing"),
    ("My parcel is late, what is the tracking number for delivery?", "shipping"),
    ("The app crashes with an error when I reset my password", "tech"),
    ("What a lovely morning for a picnic", "default"),
])
def test_embedding_router_picks_the_nearest_description(question: str, branch: str) -> None:
    router = ("router.embedding", {"branches": BRANCHES, "threshold": 0.1})
    result = run(router_flow(router, EMBED, [("embed.embeddings", "route.embeddings")]), {"q": question})
    assert result.outputs == {"branch": f"{branch}: {question}"}
    step = next(e for e in result.events if e.kind == "node.step" and e.node == "route")
    assert set(step.data["scores"]) == {"billing", "shipping", "tech"}


@pytest.mark.parametrize("config", [
    {"branches": [{"name": "a", "description": "x"}, {"name": "a", "description": "y"}]},
    {"branches": [{"name": "a", "description": "x"}], "default_branch": "a"},
    {"branches": [{"name": "not a name", "description": "x"}]},
])
def test_branch_names_are_checked(config: dict[str, Any]) -> None:
    for model in (EmbeddingRouterConfig, LlmRouterConfig):
        with pytest.raises(ValidationError):
            model(**config)
