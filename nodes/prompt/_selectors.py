"""Example selectors for few-shot prompts: which examples go into the prompt, in what order.

Pure functions over indices: `by_length` keeps examples in their given order while
they and the input fit LangChain's max_length (LengthBasedExampleSelector); `by_similarity` takes the k examples whose
embeddings are closest (cosine) to the query's; `by_mmr` takes k examples that are
relevant to the query yet unlike each other (maximal marginal relevance over the
`fetch_k` most similar). Both embedding selectors return the best first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy loads with the first embedding selector, not with every prompt flow
    import numpy as np


def words(text: str) -> int:
    return len(text.split())


def langchain_length(text: str) -> int:
    """LangChain's LengthBasedExampleSelector length: pieces between newlines and single spaces."""
    return len(re.split(r"\n| ", text))


def by_length(examples: Sequence[str], max_length: int, input_text: str) -> list[int]:
    """Indices of the examples, in order, while they plus the input stay within `max_length`.

    Counts like LangChain's LengthBasedExampleSelector: the input is the prompt's variable
    values joined by spaces; each example is counted as written by example_template.
    """
    remaining = max_length - langchain_length(input_text)
    chosen: list[int] = []
    for i, text in enumerate(examples):
        if remaining <= 0:
            break
        remaining -= langchain_length(text)
        if remaining < 0:
            break
        chosen.append(i)
    return chosen


def by_similarity(query: np.ndarray, vectors: np.ndarray, k: int) -> list[int]:
    """The k examples most similar to the query, best first (ties keep the given order)."""
    from nodes.support.search import cosine, top_k  # noqa: PLC0415 - numpy loads on first use

    return [int(i) for i in top_k(cosine(vectors, query), k, largest=True)]


def by_mmr(query: np.ndarray, vectors: np.ndarray, k: int, fetch_k: int, lambda_mult: float) -> list[int]:
    """k examples by maximal marginal relevance among the fetch_k most similar ones."""
    from nodes.support.search import mmr  # noqa: PLC0415 - numpy loads on first use

    pool = by_similarity(query, vectors, max(k, fetch_k))
    picked = mmr(query, vectors[pool], k, lambda_mult)
    return [pool[i] for i in picked]
