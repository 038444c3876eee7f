"""Ranking helpers: BM25 keyword scores, exact dense scores, cosine similarity (for the
embedding router and few-shot selection), maximal marginal relevance and reciprocal
rank fusion. numpy only, no I/O.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from nodes.support.words import stem

_WORD = re.compile(r"\w+")
_STOP = frozenset("a an and are as at be but by for from has have in is it its of on or that the this "
                  "to was were will with what which who how when where why does do".split())


def terms(text: str) -> list[str]:
    return [stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP]


class BM25:
    """Okapi BM25 over a fixed list of texts (k1=1.5, b=0.75), with an inverted index."""

    def __init__(self, texts: Sequence[str], *, k1: float = 1.5, b: float = 0.75) -> None:
        self.n = len(texts)
        postings: dict[str, dict[int, int]] = defaultdict(dict)
        lengths = np.zeros(self.n, dtype=np.float32)
        for i, text in enumerate(texts):
            words = terms(text)
            lengths[i] = len(words)
            for w in words:
                row = postings[w]
                row[i] = row.get(i, 0) + 1
        avg = float(lengths.mean()) if self.n else 1.0
        self.norm = k1 * (1 - b + b * lengths / max(avg, 1e-9))
        self.k1 = k1
        self.index = {w: (np.fromiter(p.keys(), np.int64, len(p)), np.fromiter(p.values(), np.float32, len(p)))
                      for w, p in postings.items()}

    def idf(self, df: int) -> float:
        return math.log(1 + (self.n - df + 0.5) / (df + 0.5))

    def scores(self, query: str) -> np.ndarray:
        out = np.zeros(self.n, dtype=np.float32)
        for w in set(terms(query)):
            hit = self.index.get(w)
            if hit is None:
                continue
            docs, tf = hit
            out[docs] += self.idf(len(docs)) * tf * (self.k1 + 1) / (tf + self.norm[docs])
        return out


def distances(matrix: np.ndarray, query: np.ndarray, space: str) -> np.ndarray:
    """Distances as chromadb defines them: cosine 1-cos, ip 1-dot, l2 squared euclidean."""
    out: np.ndarray
    if space == "l2":
        diff = matrix - query
        out = np.einsum("ij,ij->i", diff, diff)
        return out
    dots = matrix @ query
    if space == "ip":
        out = 1.0 - dots
        return out
    norms = np.linalg.norm(matrix, axis=1) * (np.linalg.norm(query) or 1.0)
    out = 1.0 - dots / np.where(norms > 0, norms, 1.0)
    return out


def cosine(matrix: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Cosine similarity of each row of `matrix` to `query` (0 where a vector is all zeros), as float64."""
    norms = np.linalg.norm(matrix, axis=1) * (np.linalg.norm(query) or 1.0)
    return np.asarray(np.divide(matrix @ query, norms, out=np.zeros(len(matrix)), where=norms > 0))


def relevance(distance: float, space: str) -> float:
    """A similarity in [-1, 1] (1 = identical) from a distance, for unit-length vectors."""
    return 1.0 - distance / 2.0 if space == "l2" else 1.0 - distance


def top_k(values: np.ndarray, k: int, *, largest: bool) -> np.ndarray:
    """Indices of the k best values, best first."""
    if k <= 0 or values.size == 0:
        return np.empty(0, dtype=np.int64)
    k = min(k, values.size)
    keyed = -values if largest else values
    part = np.argpartition(keyed, k - 1)[:k]
    return part[np.argsort(keyed[part], kind="stable")]


def mmr(query: np.ndarray, candidates: np.ndarray, k: int, lambda_mult: float) -> list[int]:
    """Maximal marginal relevance: relevant to the query, unlike what was already picked."""
    if len(candidates) == 0:
        return []
    unit = candidates / np.maximum(np.linalg.norm(candidates, axis=1, keepdims=True), 1e-12)
    q = query / max(float(np.linalg.norm(query)), 1e-12)
    rel = unit @ q
    chosen = [int(np.argmax(rel))]
    best_sim = unit @ unit[chosen[0]]
    while len(chosen) < min(k, len(candidates)):
        score = lambda_mult * rel - (1 - lambda_mult) * best_sim
        score[chosen] = -np.inf
        nxt = int(np.argmax(score))
        chosen.append(nxt)
        best_sim = np.maximum(best_sim, unit @ unit[nxt])
    return chosen


def rrf(rankings: Sequence[Sequence[str]], k: int = 60) -> list[tuple[str, float]]:
    """Reciprocal rank fusion of several ranked id lists, best first."""
    scores: dict[str, float] = defaultdict(float)
    for ranking in rankings:
        for rank, item in enumerate(ranking, 1):
            scores[item] += 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
