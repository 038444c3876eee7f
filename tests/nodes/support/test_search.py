"""nodes.support.search.cosine: one cosine for the embedding router and few-shot selection."""

from __future__ import annotations

import numpy as np

from nodes.support.search import cosine


def test_cosine_scores_each_row_against_the_query() -> None:
    matrix = np.array([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0], [1.0, 1.0]], dtype=np.float32)
    scores = cosine(matrix, np.array([2.0, 0.0], dtype=np.float32))
    assert scores.dtype == np.float64
    assert np.allclose(scores, [1.0, 0.0, -1.0, np.sqrt(0.5)])


def test_a_zero_vector_scores_zero_instead_of_dividing_by_zero() -> None:
    matrix = np.array([[0.0, 0.0], [1.0, 0.0]])
    assert cosine(matrix, np.array([1.0, 0.0])).tolist() == [0.0, 1.0]
    assert cosine(matrix, np.zeros(2)).tolist() == [0.0, 0.0]
