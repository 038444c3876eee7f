"""The chromadb vector store: embedded under the data dir by default, or a server by URL.

`ChromaStore` is the value on VectorStore edges. Chunks get stable ids derived
from their source and content, so re-ingesting the same files adds nothing and a
changed file replaces its chunks; embeddings are always computed by our embedder
and passed explicitly (chroma's own embedding function is never used). Search:
similarity (HNSW, tuned for recall), exact search for metadata-filtered queries,
MMR, score threshold, and hybrid BM25 + dense fused by reciprocal rank.
`Retriever` (a store plus search settings) is the value on Retriever edges.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import numpy as np

from engine.errors import PermanentError
from nodes.support import search
from nodes.support.documents import Document
from nodes.support.embedders import Embedder

if TYPE_CHECKING:
    from engine.context import RunContext

Space = Literal["cosine", "l2", "ip"]
SearchType = Literal["similarity", "mmr", "threshold", "hybrid"]
REV_KEY = "chainloom_revision"
_CLIENTS: dict[str, Any] = {}
_CLIENTS_LOCK = threading.Lock()


@dataclass(frozen=True)
class Hnsw:
    """HNSW settings; the defaults reach recall@10 >= 0.95 (see benchmarks/ingest.py).

    Collections of up to EXACT_MAX_VECTORS are searched exactly, so HNSW serves only
    larger ones, where chroma's lighter build defaults (100, M 16) lose recall (0.91 at 20k).
    """

    ef_search: int = 500
    ef_construction: int = 200
    max_neighbors: int = 32


def client_for(*, path: Path | None = None, url: str = "", headers: dict[str, str] | None = None) -> Any:
    """One chromadb client per location (chroma refuses two differently set up clients per path)."""
    import chromadb  # noqa: PLC0415 - heavy SDK: loaded on first use
    from chromadb.config import Settings  # noqa: PLC0415 - heavy SDK: loaded on first use

    key = url or str(path)
    with _CLIENTS_LOCK:
        if key not in _CLIENTS:
            settings = Settings(anonymized_telemetry=False, allow_reset=False)
            if url:
                parts = urlsplit(url)
                _CLIENTS[key] = chromadb.HttpClient(host=parts.hostname or "localhost",
                                                    port=parts.port or (443 if parts.scheme == "https" else 8000),
                                                    ssl=parts.scheme == "https", headers=headers or {},
                                                    settings=settings)
            elif path is not None:
                path.mkdir(parents=True, exist_ok=True)
                _CLIENTS[key] = chromadb.PersistentClient(path=str(path), settings=settings)
            else:
                raise ValueError("client_for needs a path (embedded store) or a url (server)")
        return _CLIENTS[key]


def chunk_ids(docs: Sequence[Document]) -> list[str]:
    """Stable ids: hash of source and text, numbered when one source repeats a text."""
    seen: dict[tuple[str, str], int] = {}
    ids = []
    for doc in docs:
        digest = hashlib.sha256(doc.text.encode("utf-8")).hexdigest()
        n = seen[(doc.source, digest)] = seen.get((doc.source, digest), -1) + 1
        body = f"{doc.source}\x00{digest}\x00{n}"
        ids.append(hashlib.sha256(body.encode("utf-8")).hexdigest()[:32])
    return ids


def clean_metadata(meta: dict[str, Any]) -> dict[str, str | int | float | bool]:
    """Chroma takes str/int/float/bool values only: drop None, JSON-encode the rest."""
    out: dict[str, str | int | float | bool] = {}
    for k, v in meta.items():
        if v is None:
            continue
        out[str(k)] = v if isinstance(v, (str, int, float, bool)) else json.dumps(v, ensure_ascii=False, default=str)
    return out


@dataclass
class UpsertStats:
    added: int = 0
    unchanged: int = 0
    deleted: int = 0
    sources: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"added": self.added, "unchanged": self.unchanged, "deleted": self.deleted, "sources": self.sources}


@dataclass
class _Mirror:
    """In-process copy of a collection's ids, texts and vectors, for exact and keyword search."""

    revision: str
    ids: list[str]
    rows: dict[str, int]
    vectors: np.ndarray
    texts: list[str]
    checked: float = 0.0  # monotonic time the revision was last confirmed
    _bm25: search.BM25 | None = field(default=None, repr=False)
    _unit: np.ndarray | None = field(default=None, repr=False)

    def bm25(self) -> search.BM25:
        if self._bm25 is None:
            self._bm25 = search.BM25(self.texts)
        return self._bm25

    def unit(self) -> np.ndarray:
        """The vectors scaled to length 1 (made once), so a cosine query is one product."""
        if self._unit is None:
            norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
            self._unit = self.vectors / np.where(norms > 0, norms, 1.0)
        return self._unit


_MIRRORS: dict[tuple[str, str], _Mirror] = {}
_LARGE: dict[tuple[str, str], tuple[str, float]] = {}  # collections searched by HNSW: (revision, checked)
# Exact search over the mirror up to this many vectors: at 20k × 512-d it answers ~4× faster
# than HNSW with ef_search 500 and with recall 1.0 (benchmarks/ingest.py); its cost grows with
# the collection while HNSW's barely does, so larger collections go to HNSW.
EXACT_MAX_VECTORS = 50_000
# Writes through this process drop the mirror at once; writes by another process holding the
# same persistent collection are seen within this many seconds (a revision check per query
# would cost a chroma round trip, about as much as the search itself).
RECHECK_EVERY = 0.5


class ChromaStore:
    """One chroma collection plus the embedder that fills and queries it."""

    def __init__(self, client: Any, collection: str, embedder: Embedder, *, space: Space = "cosine",
                 hnsw: Hnsw = Hnsw(), location: str = "", create: bool = True) -> None:
        self.client = client
        self.create = create  # False: opened only to search, so a retriever asks that the collection exists
        self.name = collection
        self.embedder = embedder
        self.space = space
        self.hnsw = hnsw
        self.location = location
        self._collection: Any = None
        self._lock = threading.Lock()

    def to_preview(self) -> dict[str, Any]:
        return {"vector_store": "chroma", "collection": self.name, "embedder": self.embedder.name,
                "space": self.space, "location": self.location}

    # ------------------------------------------------------------ collection
    @property
    def collection(self) -> Any:
        if self._collection is None:
            config = {"hnsw": {"space": self.space, "ef_search": self.hnsw.ef_search,
                               "ef_construction": self.hnsw.ef_construction,
                               "max_neighbors": self.hnsw.max_neighbors}}
            col = self.client.get_or_create_collection(
                self.name, configuration=config, embedding_function=None,
                metadata={"embedder": self.embedder.name, REV_KEY: uuid.uuid4().hex})
            stored = (col.metadata or {}).get("embedder")
            if stored and stored != self.embedder.name:
                raise PermanentError(
                    f"collection '{self.name}' was filled with embedder '{stored}', not '{self.embedder.name}'",
                    hint="use the same embeddings node as at ingest, or another collection name")
            space = ((getattr(col, "configuration", None) or {}).get("hnsw") or {}).get("space", self.space)
            if space != self.space:
                raise PermanentError(
                    f"collection '{self.name}' uses the '{space}' distance space, not '{self.space}'",
                    hint="the space is fixed when a collection is created: set space to "
                         f"'{space}' or use another collection name")
            self._collection = col
        return self._collection

    def names(self) -> list[str]:
        """Every collection in this store's database, sorted."""
        return sorted(str(getattr(c, "name", c)) for c in self.client.list_collections())

    def exists(self) -> bool:
        return self._collection is not None or self.name in self.names()

    def must_exist(self) -> None:
        """PermanentError listing the collections when a search-only store names one never created."""
        if self.create or self.exists():
            return
        where = f" at {self.location}" if self.location else ""
        raise PermanentError(
            f"collection '{self.name}' does not exist{where}; the collections there are: "
            f"{', '.join(self.names()) or 'none yet'}",
            hint="run the flow that ingests into it first, or set collection to one of those")

    def count(self) -> int:
        return int(self.collection.count())

    def revision(self) -> str:
        col = self.client.get_collection(self.name, embedding_function=None)
        return str((col.metadata or {}).get(REV_KEY, ""))

    def _bump(self) -> None:
        _MIRRORS.pop((self.location, self.name), None)
        _LARGE.pop((self.location, self.name), None)
        meta = dict(self.collection.metadata or {})
        meta[REV_KEY] = uuid.uuid4().hex
        meta.pop("hnsw:space", None)
        self.collection.modify(metadata=meta)

    # ------------------------------------------------------------ writing
    def upsert(self, docs: Sequence[Document], *, batch_size: int = 2000,
               progress: Callable[[int, int], None] | None = None,
               usage: Callable[[int], None] | None = None) -> UpsertStats:
        """Add new chunks, keep unchanged ones (not re-embedded), drop stale chunks of these sources."""
        stats = UpsertStats()
        ids = chunk_ids(docs)
        sources = sorted({d.source for d in docs if d.source})
        stats.sources = len(sources)
        existing = self._ids_of_sources(sources)
        fresh = [(i, d) for i, d in zip(ids, docs) if i not in existing]
        fresh = list({i: (i, d) for i, d in fresh}.values())
        stale = existing - set(ids)
        stats.unchanged = len(set(ids) & existing)
        col = self.collection
        if stale:
            col.delete(ids=sorted(stale))
            stats.deleted = len(stale)
        step = min(batch_size, int(getattr(self.client, "get_max_batch_size", lambda: batch_size)()))
        for start in range(0, len(fresh), step):
            part = fresh[start:start + step]
            texts = [d.text for _, d in part]
            vectors = self.embedder.embed_documents(texts, usage=usage)
            # Ids of sourced chunks not in `existing` are new to the collection: a plain add,
            # which chroma does faster than an upsert (no lookup of each id first).
            write = col.add if all(d.source for _, d in part) else col.upsert
            write(ids=[i for i, _ in part], embeddings=vectors, documents=texts,
                  metadatas=[clean_metadata(d.metadata) or {"source": ""} for _, d in part])
            stats.added += len(part)
            if progress is not None:
                progress(min(start + step, len(fresh)), len(fresh))
        if stats.added or stats.deleted:
            self._bump()
        return stats

    def _ids_of_sources(self, sources: list[str]) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(sources), 500):
            got = self.collection.get(where={"source": {"$in": sources[i:i + 500]}}, include=[])
            found.update(got["ids"])
        return found

    def delete(self, *, source: str | None = None, where: dict[str, Any] | None = None,
               ids: Sequence[str] | None = None) -> int:
        """Delete chunks by source, by metadata filter or by id; returns how many went."""
        if source:
            where = {"source": source}
        if not (where or ids):
            raise PermanentError("delete needs a source, a filter or ids", hint="deleting everything is "
                                 "done by deleting the collection")
        got = self.collection.get(where=where, ids=list(ids) if ids else None, include=[])
        if got["ids"]:
            self.collection.delete(ids=got["ids"])
            self._bump()
        return len(got["ids"])

    # ------------------------------------------------------------ reading
    def _mirror(self) -> _Mirror:
        key = (self.location, self.name)
        m = _MIRRORS.get(key)
        now = time.monotonic()
        if m is not None and now - m.checked < RECHECK_EVERY:
            return m
        rev = self.revision()
        if m is not None and m.revision == rev:
            m.checked = now
            return m
        ids: list[str] = []
        texts: list[str] = []
        parts: list[np.ndarray] = []
        total, offset = self.count(), 0
        while offset < total:
            got = self.collection.get(include=["embeddings", "documents"], limit=5000, offset=offset)
            if not got["ids"]:
                break
            ids.extend(got["ids"])
            texts.extend(d or "" for d in got["documents"])
            parts.append(np.asarray(got["embeddings"], dtype=np.float32))
            offset += len(got["ids"])
        vectors = np.vstack(parts) if parts else np.zeros((0, 0), dtype=np.float32)
        m = _Mirror(rev, ids, {i: n for n, i in enumerate(ids)}, vectors, texts, checked=now)
        _MIRRORS[key] = m
        return m

    def _exact_mirror(self) -> _Mirror | None:
        """The mirror, when exact search over it is the faster path (see EXACT_MAX_VECTORS)."""
        key = (self.location, self.name)
        now = time.monotonic()
        m = _MIRRORS.get(key)
        if m is not None and now - m.checked < RECHECK_EVERY:
            return m if len(m.ids) <= EXACT_MAX_VECTORS else None
        large = _LARGE.get(key)
        if large is not None and now - large[1] < RECHECK_EVERY:
            return None
        rev = self.revision()
        if large is not None and large[0] == rev:
            _LARGE[key] = (rev, now)
            return None
        if (m is None or m.revision != rev) and self.count() > EXACT_MAX_VECTORS:
            _LARGE[key] = (rev, now)
            return None
        return self._mirror()

    def exact(self, vector: np.ndarray, k: int) -> tuple[list[str], list[float]]:
        """(ids, distances) of the k nearest chunks by brute force over the mirror."""
        m = self._mirror()
        if not m.ids:
            return [], []
        if self.space == "cosine":
            unit = m.unit()
            query = np.asarray(vector, dtype=unit.dtype)  # else numpy upcasts the whole matrix per query
            d = 1.0 - unit @ (query / (np.linalg.norm(query) or 1.0))
        else:
            d = search.distances(m.vectors, vector, self.space)
        best = search.top_k(d, k, largest=False)
        return [m.ids[b] for b in best], [float(d[b]) for b in best]

    def exact_batch(self, vectors: np.ndarray, k: int) -> list[tuple[list[str], list[float]]]:
        """`exact` for many queries at once (one matrix product)."""
        m = self._mirror()
        if not m.ids or self.space != "cosine":
            return [self.exact(v, k) for v in vectors]
        unit = m.unit()
        queries = np.asarray(vectors, dtype=unit.dtype)
        norms = np.linalg.norm(queries, axis=1, keepdims=True)
        d = 1.0 - (queries / np.where(norms > 0, norms, 1.0)) @ unit.T
        out = []
        for row in d:
            best = search.top_k(row, k, largest=False)
            out.append(([m.ids[b] for b in best], [float(row[b]) for b in best]))
        return out

    def _fetch(self, ids: list[str], scores: list[float]) -> list[Document]:
        if not ids:
            return []
        got = self.collection.get(ids=ids, include=["documents", "metadatas"])
        by_id = {i: (t, m) for i, t, m in zip(got["ids"], got["documents"], got["metadatas"])}
        out = []
        for i, s in zip(ids, scores):
            if i in by_id:
                text, meta = by_id[i]
                out.append(Document(text or "", {**(meta or {}), "score": round(float(s), 6)}, id=i))
        return out

    def dense(self, vector: np.ndarray, k: int, where: dict[str, Any] | None = None
              ) -> tuple[list[str], list[float]]:
        """(ids, distances) of the k nearest chunks: exact when filtered or small enough, else HNSW."""
        if where:
            allowed = self.collection.get(where=where, include=[])["ids"]
            if not allowed:
                return [], []
            m = self._mirror()
            rows = np.fromiter((m.rows[i] for i in allowed if i in m.rows), dtype=np.int64)
            d = search.distances(m.vectors[rows], vector, self.space)
            best = search.top_k(d, k, largest=False)
            return [m.ids[rows[b]] for b in best], [float(d[b]) for b in best]
        if self._exact_mirror() is not None:
            return self.exact(vector, k)
        res = self.collection.query(query_embeddings=vector[None, :], n_results=k, include=["distances"])
        return list(res["ids"][0]), [float(x) for x in res["distances"][0]]

    def similarity(self, query: str, k: int = 4, where: dict[str, Any] | None = None,
                   usage: Callable[[int], None] | None = None) -> list[Document]:
        ids, dists = self.dense(self.embedder.embed_query(query, usage=usage), k, where)
        return self._fetch(ids, [search.relevance(d, self.space) for d in dists])

    def threshold(self, query: str, k: int, min_score: float, where: dict[str, Any] | None = None,
                  usage: Callable[[int], None] | None = None) -> list[Document]:
        return [d for d in self.similarity(query, k, where, usage) if d.metadata["score"] >= min_score]

    def mmr(self, query: str, k: int = 4, fetch_k: int = 20, lambda_mult: float = 0.5,
            where: dict[str, Any] | None = None, usage: Callable[[int], None] | None = None) -> list[Document]:
        vector = self.embedder.embed_query(query, usage=usage)
        ids, dists = self.dense(vector, max(fetch_k, k), where)
        if not ids:
            return []
        got = self.collection.get(ids=ids, include=["embeddings"])
        vec_of = dict(zip(got["ids"], np.asarray(got["embeddings"], dtype=np.float32)))
        cands = np.stack([vec_of[i] for i in ids])
        picked = search.mmr(vector, cands, k, lambda_mult)
        return self._fetch([ids[p] for p in picked], [search.relevance(dists[p], self.space) for p in picked])

    def keyword(self, query: str, k: int, where: dict[str, Any] | None = None) -> list[str]:
        m = self._mirror()
        scores = m.bm25().scores(query)
        if where:
            allowed = self.collection.get(where=where, include=[])["ids"]
            mask = np.zeros(len(m.ids), dtype=bool)
            mask[[m.rows[i] for i in allowed if i in m.rows]] = True
            scores = np.where(mask, scores, 0.0)
        best = search.top_k(scores, k, largest=True)
        return [m.ids[b] for b in best if scores[b] > 0]

    def hybrid(self, query: str, k: int = 4, fetch_k: int = 20, where: dict[str, Any] | None = None,
               usage: Callable[[int], None] | None = None) -> list[Document]:
        """BM25 and dense rankings of fetch_k candidates each, fused by reciprocal rank."""
        dense_ids, _ = self.dense(self.embedder.embed_query(query, usage=usage), max(fetch_k, k), where)
        fused = search.rrf([dense_ids, self.keyword(query, max(fetch_k, k), where)])[:k]
        return self._fetch([i for i, _ in fused], [s for _, s in fused])

    def search(self, query: str, *, search_type: SearchType = "similarity", k: int = 4, fetch_k: int = 20,
               lambda_mult: float = 0.5, score_threshold: float = 0.0, where: dict[str, Any] | None = None,
               usage: Callable[[int], None] | None = None) -> list[Document]:
        if search_type == "mmr":
            return self.mmr(query, k, fetch_k, lambda_mult, where, usage)
        if search_type == "threshold":
            return self.threshold(query, k, score_threshold, where, usage)
        if search_type == "hybrid":
            return self.hybrid(query, k, fetch_k, where, usage)
        return self.similarity(query, k, where, usage)


@dataclass
class Retriever:
    """A store plus search settings; the value on Retriever edges."""

    store: ChromaStore
    search_type: SearchType = "similarity"
    k: int = 4
    fetch_k: int = 20
    lambda_mult: float = 0.5
    score_threshold: float = 0.0
    where: dict[str, Any] | None = None

    def retrieve(self, query: str, ctx: RunContext | None = None) -> list[Document]:
        self.store.must_exist()
        usage = (lambda n: ctx.usage(prompt_tokens=n, model=self.store.embedder.name)) if ctx else None
        return self.store.search(query, search_type=self.search_type, k=self.k, fetch_k=self.fetch_k,
                                 lambda_mult=self.lambda_mult, score_threshold=self.score_threshold,
                                 where=self.where, usage=usage)

    def to_preview(self) -> dict[str, Any]:
        return {"retriever": self.search_type, "k": self.k, "store": self.store.to_preview()}
