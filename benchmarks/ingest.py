"""Ingest benchmark: splitting, vector search and ingest at 20k × 512-d, side by side with peers.

    python benchmarks/ingest.py [--mb 4] [--vectors 20000] [--queries 300]

Prints, on a generated corpus (benchmarks/corpus.py):
  splitting   our TokenSplitter (512/64 tokens) vs tiktoken's encode alone (the floor)
              vs LangChain's TokenTextSplitter on the same text, MB/s, chunks compared
              equal; and our recursive splitter vs LangChain's RecursiveCharacterTextSplitter
  retrieval   `--vectors` chunks embedded 512-d (hashing embedder) in a chromadb
              PersistentClient: recall@10 against brute force and queries/s, one query
              at a time and batched, for exact numpy search over the store's mirror
              and for chroma's HNSW (our settings), and for `ChromaStore.dense` (what
              retrievers call: it picks exact or HNSW by the collection's size)
  ingest      vectors/s of our `ChromaStore.upsert` (embedding included) vs chroma's
              own `collection.add` with its default settings (embeddings given)
Prints the load average and the targets as met / NOT met.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus

from nodes.splitter import RecursiveSplitter, TokenSplitter
from nodes.support import search
from nodes.support.documents import Document
from nodes.support.embedders import HashingEmbedder
from nodes.support.tokens import get_encoding
from nodes.support.vector_store import ChromaStore, Hnsw, client_for

TOKENS, TOKEN_OVERLAP = 512, 64
SIZE, OVERLAP = 1000, 200
DIM = 512


def best_of(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


# ------------------------------------------------------------------ splitting
def bench_split(texts: list[str]) -> float:
    """Print the splitting table; return our token splitter's rate / encode-only rate."""
    mb = sum(len(t.encode()) for t in texts) / 1e6
    enc = get_encoding("cl100k_base")
    ours = TokenSplitter(TOKENS, TOKEN_OVERLAP)
    t_enc, _ = best_of(lambda: [enc.encode(t, disallowed_special=()) for t in texts])
    t_ours, a = best_of(lambda: [c for t in texts for c in ours.split_text(t)])
    rows = [("tiktoken encode only (floor)", mb / t_enc, "", ""),
            ("chainloom TokenSplitter", mb / t_ours, str(len(a)), "")]
    try:
        from langchain_text_splitters import RecursiveCharacterTextSplitter, TokenTextSplitter
    except ImportError:
        rows.append(("LangChain TokenTextSplitter", float("nan"), "", "not installed: pip install -e .[bench]"))
    else:
        lc = TokenTextSplitter(encoding_name="cl100k_base", chunk_size=TOKENS, chunk_overlap=TOKEN_OVERLAP)
        t_lc, b = best_of(lambda: [c for t in texts for c in lc.split_text(t)])
        rows[1] = (*rows[1][:3], "identical to LangChain" if a == b else f"DIFFERENT from LangChain "
                   f"({sum(x != y for x, y in zip(a, b)) + abs(len(a) - len(b))} chunks)")
        rows.append(("LangChain TokenTextSplitter", mb / t_lc, str(len(b)), ""))
        rec = RecursiveSplitter(SIZE, OVERLAP)
        lrec = RecursiveCharacterTextSplitter(chunk_size=SIZE, chunk_overlap=OVERLAP)
        t_r, ra = best_of(lambda: [c for t in texts for c in rec.split_text(t)])
        t_lr, rb = best_of(lambda: [c for t in texts for c in lrec.split_text(t)])
        rows.append(("chainloom RecursiveSplitter", mb / t_r, str(len(ra)),
                     "identical to LangChain" if ra == rb else "DIFFERENT from LangChain"))
        rows.append(("LangChain RecursiveCharacterTextSplitter", mb / t_lr, str(len(rb)), ""))
    print(f"\nsplitting {mb:.1f} MB (tokens {TOKENS}/{TOKEN_OVERLAP}, characters {SIZE}/{OVERLAP})")
    print(f"{'splitter':<42}{'MB/s':>8}{'chunks':>9}  note")
    for name, rate, chunks, note in rows:
        print(f"{name:<42}{rate:>8.2f}{chunks:>9}  {note}")
    return t_enc / t_ours


# ------------------------------------------------------------------ retrieval and ingest
def chunks_for(texts: list[str], n: int) -> list[Document]:
    splitter = RecursiveSplitter(SIZE, OVERLAP)
    docs: list[Document] = []
    for i, text in enumerate(texts):
        for j, chunk in enumerate(splitter.split_text(text)):
            docs.append(Document(chunk, {"source": f"doc{i}.md", "chunk": j}))
            if len(docs) == n:
                return docs
    raise SystemExit(f"the corpus gives only {len(docs)} chunks; raise --mb")


def exact_ids(vectors: np.ndarray, ids: list[str], queries: np.ndarray, k: int) -> list[set[str]]:
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    q = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    scores = q @ unit.T
    return [{ids[i] for i in np.argpartition(-row, k)[:k]} for row in scores]


def recall(got: list[list[str]], truth: list[set[str]]) -> float:
    return float(np.mean([len(set(g) & t) / len(t) for g, t in zip(got, truth)]))


def bench_store(docs: list[Document], queries: np.ndarray, folder: Path) -> dict[str, float]:
    embedder = HashingEmbedder(DIM)
    store = ChromaStore(client_for(path=folder / "ours"), "bench", embedder, hnsw=Hnsw())
    t0 = time.perf_counter()
    store.upsert(docs)
    ours_rate = len(docs) / (time.perf_counter() - t0)

    vectors = np.asarray(embedder.embed_documents([d.text for d in docs]), dtype=np.float32)
    peer = client_for(path=folder / "peer").get_or_create_collection("peer", embedding_function=None)
    batch = 2000
    t0 = time.perf_counter()
    for s in range(0, len(docs), batch):
        peer.add(ids=[f"p{i}" for i in range(s, min(s + batch, len(docs)))], embeddings=vectors[s:s + batch],
                 documents=[d.text for d in docs[s:s + batch]])
    peer_rate = len(docs) / (time.perf_counter() - t0)

    mirror = store._mirror()
    truth = exact_ids(mirror.vectors, mirror.ids, queries, 10)
    k = 10
    rows: dict[str, tuple[float, float, float]] = {}
    t_hnsw, got = best_of(lambda: [store.collection.query(query_embeddings=q[None, :], n_results=k,
                                                          include=["distances"])["ids"][0] for q in queries], 1)
    t_hnsw_b, _ = best_of(lambda: store.collection.query(query_embeddings=queries, n_results=k,
                                                         include=["distances"]), 1)
    rows["chroma HNSW (ef_search 500)"] = (len(queries) / t_hnsw, len(queries) / t_hnsw_b, recall(got, truth))
    unit = mirror.vectors / np.maximum(np.linalg.norm(mirror.vectors, axis=1, keepdims=True), 1e-12)

    def exact_one(q: np.ndarray) -> list[str]:
        d = 1.0 - unit @ (q / (np.linalg.norm(q) or 1.0))
        return [mirror.ids[i] for i in search.top_k(d, k, largest=False)]

    t_ex, got = best_of(lambda: [exact_one(q) for q in queries], 1)
    t_ex_b, _ = best_of(lambda: exact_ids(mirror.vectors, mirror.ids, queries, k), 1)
    rows["exact numpy over the mirror"] = (len(queries) / t_ex, len(queries) / t_ex_b, recall(got, truth))
    t_dense, got = best_of(lambda: [store.dense(q, k)[0] for q in queries], 1)
    rows["ChromaStore.dense (as retrievers)"] = (len(queries) / t_dense, float("nan"), recall(got, truth))

    print(f"\nretrieval: {len(docs):,} chunks × {DIM}-d (hashing embedder), {len(queries)} queries, k={k}")
    print(f"{'search':<36}{'q/s single':>12}{'q/s batched':>13}{'recall@10':>11}")
    for name, (single, batched, rec) in rows.items():
        print(f"{name:<36}{single:>12.0f}{batched:>13.0f}{rec:>11.3f}")
    print(f"\ningest {len(docs):,} chunks: ours (upsert, embedding included) {ours_rate:,.0f} vectors/s; "
          f"chroma's own add (defaults, embeddings given) {peer_rate:,.0f} vectors/s")
    single, _, rec = rows["ChromaStore.dense (as retrievers)"]
    return {"qps": single, "recall": rec, "ingest": ours_rate, "peer": peer_rate}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=4.0, help="corpus size for splitting")
    ap.add_argument("--vectors", type=int, default=20_000)
    ap.add_argument("--queries", type=int, default=300)
    args = ap.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    tmp = Path(tempfile.mkdtemp(prefix="chainloom-ingest-"))
    folder = tmp / "corpus"
    corpus.write(folder, int(max(args.mb, args.vectors * SIZE * 0.85 / 1e6) * 1e6))
    texts = [p.read_text() for p in sorted(folder.glob("*.md"))]
    budget, split_texts = args.mb * 1e6, []
    for text in texts:
        if budget <= 0:
            break
        split_texts.append(text)
        budget -= len(text)
    token_ratio = bench_split(split_texts)

    docs = chunks_for(texts, args.vectors)
    rng = random.Random(3)
    embedder = HashingEmbedder(DIM)
    queries = np.asarray([embedder.embed_query(" ".join(rng.choice(docs).text.split()[:8]))
                          for _ in range(args.queries)], dtype=np.float32)
    got = bench_store(docs, queries, tmp / "chroma")

    print("\ntargets (issue 12)")
    print(f"  {'token splitter ≥ 0.9× tiktoken encode-only':<48}{token_ratio:>8.2f}×   {verdict(token_ratio >= 0.9)}")
    rec = got["recall"]
    print(f"  {'retrieval recall@10 = 1.0 (dense, 20k)':<48}{rec:>8.3f}    {verdict(rec >= 0.9995)}")
    print(f"  {'retrieval ≥ 400 q/s single-query (dense, 20k)':<48}{got['qps']:>8.0f}    {verdict(got['qps'] >= 400)}")
    print(f"  {'ingest ≥ 600 vectors/s (20k)':<48}{got['ingest']:>8.0f}    {verdict(got['ingest'] >= 600)}")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
