"""Ingest benchmark: split, embed, upsert and query a generated ~20 MB corpus, side by side.

    python benchmarks/ingest.py [--mb 20] [--queries 200] [--no-defaults]

Prints: our recursive splitter vs langchain-text-splitters (MB/s, chunks, identical
or not), the hashing embedder's throughput, the end-to-end ingest time (load,
split, embed, upsert into chromadb) with a progress bar, and query speed and
recall@10 against exact search, for our HNSW settings and chroma's defaults,
unfiltered and with a metadata filter.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus

from nodes.splitter import RecursiveSplitter, chunk_documents
from nodes.support.embedders import HashingEmbedder
from nodes.support.readers import read_text
from nodes.support.search import distances, top_k
from nodes.support.vector_store import ChromaStore, Hnsw, client_for

console = Console(width=220)
SIZE, OVERLAP = 1000, 200


def bench_split(texts: list[str]) -> list[tuple[str, str, str, str]]:
    mb = sum(map(len, texts)) / 1e6
    rows = []
    ours = RecursiveSplitter(SIZE, OVERLAP)
    t = time.perf_counter()
    a = [c for text in texts for c in ours.split_text(text)]
    ta = time.perf_counter() - t
    try:
        from langchain_text_splitters import RecursiveCharacterTextSplitter
    except ImportError:
        rows.append(("chainloom recursive", f"{mb / ta:.1f}", str(len(a)), "langchain not installed"))
        return rows
    lc = RecursiveCharacterTextSplitter(chunk_size=SIZE, chunk_overlap=OVERLAP)
    t = time.perf_counter()
    b = [c for text in texts for c in lc.split_text(text)]
    tb = time.perf_counter() - t
    same = "identical" if a == b else f"DIFFERENT ({sum(x != y for x, y in zip(a, b))} chunks)"
    rows.append(("chainloom recursive", f"{mb / ta:.1f}", str(len(a)), same))
    rows.append(("langchain RecursiveCharacterTextSplitter", f"{mb / tb:.1f}", str(len(b)), f"ratio {tb / ta:.2f}x"))
    return rows


def ingest(folder: Path, home: Path, name: str, hnsw: Hnsw | None) -> tuple[ChromaStore, float, int]:
    embedder = HashingEmbedder(512)
    store = ChromaStore(client_for(path=home), name, embedder, hnsw=hnsw or Hnsw())
    if hnsw is None:  # chroma's own HNSW defaults
        store._collection = store.client.get_or_create_collection(
            name, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None,
            metadata={"embedder": embedder.name})
    t = time.perf_counter()
    files = sorted(folder.glob("*.md"))
    docs = [d for f in files for d in read_text(f, f.name)]
    for i, d in enumerate(docs):
        d.metadata["topic"] = i % 40
    chunks = chunk_documents(docs, RecursiveSplitter(SIZE, OVERLAP).split_with_offsets)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(f"ingest into {name}", total=len(chunks))
        store.upsert(chunks, progress=lambda done, total: bar.update(task, completed=done))
    return store, time.perf_counter() - t, len(chunks)


def bench_queries(store: ChromaStore, queries: list[str], where: dict | None) -> tuple[float, float]:
    m = store._mirror()
    recall, t = [], time.perf_counter()
    results = []
    for q in queries:
        ids, _ = store.dense(store.embedder.embed_query(q), 10, where)
        results.append(ids)
    elapsed = time.perf_counter() - t
    allowed = None
    for q, got in zip(queries, results):
        qv = store.embedder.embed_query(q)
        d = distances(m.vectors, qv, store.space)
        if where:
            if allowed is None:
                metadatas = store.collection.get(ids=m.ids, include=["metadatas"])["metadatas"]
                allowed = np.array([md["topic"] == where["topic"] for md in metadatas])
            d = np.where(allowed, d, np.inf)
        exact = {m.ids[i] for i in top_k(d, 10, largest=False)}
        recall.append(len(exact & set(got)) / max(1, min(10, len(exact))))
    return len(queries) / elapsed, float(np.mean(recall))


def chroma_filtered(store: ChromaStore, queries: list[str], where: dict) -> float:
    t = time.perf_counter()
    for q in queries:
        store.collection.query(query_embeddings=store.embedder.embed_query(q)[None], n_results=10, where=where,
                               include=["distances"])
    return len(queries) / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=20.0)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--no-defaults", action="store_true", help="skip the run with chroma's HNSW defaults")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="chainloom-bench-"))
    folder = tmp / "corpus"
    corpus.write(folder, int(args.mb * 1e6))
    texts = [p.read_text() for p in sorted(folder.glob("*.md"))]
    mb = sum(map(len, texts)) / 1e6
    console.print(f"corpus: {len(texts)} files, {mb:.1f} MB, chunk_size={SIZE}, overlap={OVERLAP}")

    table = Table(title="splitting")
    for col in ("splitter", "MB/s", "chunks", "note"):
        table.add_column(col)
    for row in bench_split(texts):
        table.add_row(*row)
    console.print(table)

    chunks = [c for t in texts for c in RecursiveSplitter(SIZE, OVERLAP).split_text(t)]
    emb = HashingEmbedder(512)
    t = time.perf_counter()
    emb.embed_documents(chunks)
    te = time.perf_counter() - t
    console.print(f"hashing embedder (512-d): {len(chunks) / te:,.0f} chunks/s, {mb / te:.1f} MB/s")

    rng = random.Random(3)
    queries = [" ".join(rng.choice(chunks).split()[:8]) for _ in range(args.queries)]
    results = Table(title="ingest and query (chromadb PersistentClient)")
    for col in ("HNSW settings", "ingest s (load+split+embed+upsert)", "vectors/s", "query/s", "recall@10",
                "filtered query/s (our path)", "filtered recall@10", "filtered query/s (chroma where)"):
        results.add_column(col)
    runs = [("ours: ef_search 500, ef_c 200, M 32", Hnsw())]
    if not args.no_defaults:
        runs.append(("chroma defaults: 100, 100, M 16", None))
    for i, (label, hnsw) in enumerate(runs):
        store, secs, n = ingest(folder, tmp / "chroma", f"bench-{i}", hnsw)
        qps, rec = bench_queries(store, queries, None)
        fq = queries[:50]
        fqps, frec = bench_queries(store, fq, {"topic": 7})
        native = chroma_filtered(store, fq, {"topic": 7})
        results.add_row(label, f"{secs:.1f}", f"{n / secs:,.0f}", f"{qps:,.0f}", f"{rec:.3f}",
                        f"{fqps:,.0f}", f"{frec:.3f}", f"{native:,.0f}")
    console.print(results)


if __name__ == "__main__":
    main()
