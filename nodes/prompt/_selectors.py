"""Example selectors for few-shot prompts: which examples go into the prompt, in what order.

Pure functions over indices: `by_length` keeps examples in their given order while
the prompt stays within a word budget; `by_similarity` takes the k examples whose
embeddings are closest (cosine) to the query's; `by_mmr` takes k examples that are
relevant to the query yet unlike each other (maximal marginal relevance over the
`fetch_k` most similar). Both embedding selectors return the best first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy loads with the first embedding selector, not with every prompt flow
    import numpy as np


def words(text: str) -> int:
    return len(text.split())


def by_length(examples: Sequence[str], budget: int, used: int) -> list[int]:
    """Indices of the examples, in order, that fit in `budget` words after the `used` ones."""
    chosen, total = [], used
    for i, text in enumerate(examples):
        total += words(text)
        if total > budget:
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
