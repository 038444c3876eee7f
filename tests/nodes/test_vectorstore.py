"""Chroma store: idempotent re-ingest, replacement, delete, filters, spaces, MMR, hybrid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nodes.support.documents import Document
from nodes.support.embedders import HashingEmbedder
from nodes.support.vector_store import ChromaStore, chunk_ids, client_for


def store(tmp_path: Path, name: str = "test-docs", space: str = "cosine") -> ChromaStore:
    return ChromaStore(client_for(path=tmp_path / "chroma"), name, HashingEmbedder(256), space=space)  # type: ignore[arg-type]


def doc(text: str, source: str, **meta: object) -> Document:
    return Document(text, {"source": source, **meta})


DOCS = [doc("Unopened bags can be returned within 30 days.", "returns.md", year=2023),
        doc("Opened bags are replaced with a different coffee.", "returns.md", year=2023),
        doc("Standard delivery is free over 30 GBP.", "shipping.md", year=2024),
        doc("Tracked next-day delivery costs 6.95 GBP.", "shipping.md", year=2024)]


def test_reingesting_adds_nothing_and_changed_files_replace_their_chunks(tmp_path: Path) -> None:
    s = store(tmp_path)
    assert s.upsert(DOCS).to_dict() == {"added": 4, "unchanged": 0, "deleted": 0, "sources": 2}
    assert s.upsert(DOCS).to_dict() == {"added": 0, "unchanged": 4, "deleted": 0, "sources": 2}
    changed = [DOCS[0], doc("Opened bags can now be exchanged too.", "returns.md")]
    assert s.upsert(changed).to_dict() == {"added": 1, "unchanged": 1, "deleted": 1, "sources": 1}
    assert s.count() == 4
    texts = {d.text for d in s.similarity("opened bags", k=10)}
    assert "Opened bags are replaced with a different coffee." not in texts


def test_ids_are_stable_and_repeated_text_is_kept_apart() -> None:
    twice = [doc("same", "a"), doc("same", "a"), doc("same", "b")]
    ids = chunk_ids(twice)
    assert len(set(ids)) == 3 and ids == chunk_ids(twice)


def test_delete_by_source_and_filters(tmp_path: Path) -> None:
    s = store(tmp_path)
    s.upsert(DOCS)
    hits = s.similarity("delivery", k=4, where={"year": 2024})
    assert {h.source for h in hits} == {"shipping.md"} and len(hits) == 2
    assert [h.metadata["year"] for h in s.similarity("bags", k=4, where={"year": {"$lt": 2024}})] == [2023, 2023]
    assert s.delete(source="returns.md") == 2
    assert s.count() == 2 and s.similarity("bags", k=4, where={"source": "returns.md"}) == []


@pytest.mark.parametrize("space", ["cosine", "l2", "ip"])
def test_every_space_ranks_the_closest_text_first(tmp_path: Path, space: str) -> None:
    s = store(tmp_path, f"space-{space}", space)
    s.upsert(DOCS)
    best = s.similarity("tracked next-day delivery cost", k=1)[0]
    assert best.text == DOCS[3].text and 0 < best.metadata["score"] <= 1.0
    filtered = s.similarity("tracked next-day delivery cost", k=1, where={"source": "shipping.md"})[0]
    assert filtered.text == best.text and filtered.metadata["score"] == pytest.approx(best.metadata["score"], abs=1e-4)


def test_threshold_drops_weak_matches(tmp_path: Path) -> None:
    s = store(tmp_path)
    s.upsert(DOCS)
    assert [d.text for d in s.threshold("tracked next-day delivery", 4, 0.3)] == [DOCS[3].text]


def test_mmr_prefers_diverse_results(tmp_path: Path) -> None:
    s = store(tmp_path)
    near_dupes = [doc(f"Espresso recipe: 18 g in, 36 g out, in 28 seconds (card {i}).", f"e{i}.md") for i in range(4)]
    other = doc("Espresso for milk drinks: the Night Heron recipe is roasted darker.", "blend.md")
    s.upsert(near_dupes + [other])
    query = "espresso recipe 18 g in 36 g out"
    plain = [d.source for d in s.similarity(query, k=2)]
    diverse = [d.source for d in s.mmr(query, k=2, fetch_k=5, lambda_mult=0.3)]
    assert "blend.md" not in plain and "blend.md" in diverse


def test_hybrid_beats_dense_alone_on_a_keyword_query(tmp_path: Path) -> None:
    s = store(tmp_path)
    filler = ["The billing module reports an error when a payment fails.",
              "Billing errors are logged by the billing module with an error code.",
              "An error code from the billing module is shown to the customer.",
              "Payment errors in billing are retried by the module after one hour.",
              "Shipping labels are printed each morning.", "Roast dates are printed on every bag."]
    target = doc("Checkout shows ZX-4471 when the card issuer declines the payment.", "codes.md")
    s.upsert([doc(t, f"f{i}.md") for i, t in enumerate(filler)] + [target])
    query = "billing module error ZX-4471"
    dense = [d.source for d in s.similarity(query, k=7)]
    hybrid = [d.source for d in s.hybrid(query, k=7, fetch_k=7)]
    assert dense.index("codes.md") == 3 and hybrid.index("codes.md") == 1
    assert s.keyword(query, 1) == [target_id(s, "codes.md")]


def target_id(s: ChromaStore, source: str) -> str:
    return str(s.collection.get(where={"source": source}, include=[])["ids"][0])


def test_a_collection_keeps_its_embedder(tmp_path: Path) -> None:
    store(tmp_path).upsert(DOCS[:1])
    other = ChromaStore(client_for(path=tmp_path / "chroma"), "test-docs", HashingEmbedder(128))
    with pytest.raises(Exception, match="was filled with embedder 'hashing-256-bi-v1'"):
        other.count()


def test_a_collection_keeps_its_distance_space(tmp_path: Path) -> None:
    store(tmp_path, "spaced", "cosine").upsert(DOCS[:1])
    with pytest.raises(Exception, match="uses the 'cosine' distance space, not 'l2'"):
        store(tmp_path, "spaced", "l2").count()


def test_embeddings_are_passed_explicitly(tmp_path: Path) -> None:
    s = store(tmp_path)
    s.upsert(DOCS[:1])
    got = s.collection.get(include=["embeddings"])
    assert np.allclose(got["embeddings"][0], HashingEmbedder(256).embed_query(DOCS[0].text), atol=1e-6)


def test_searching_a_collection_that_does_not_exist_lists_the_collections(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.flow import load_flow
    from engine.runner import Runner
    from nodes.registry import default_registry

    flows = Path(__file__).resolve().parents[2] / "flows"
    monkeypatch.setenv("CHAINLOOM_HOME", str(tmp_path))
    runner = Runner(default_registry(), services={"home": str(tmp_path)})
    store(tmp_path, "other-notes").upsert(DOCS[:1])
    asked_first = runner.run(load_flow(flows / "rag-ask.json"))  # before its ingest flow ran
    assert asked_first.status == "failed"
    assert f"collection 'documents' does not exist at {tmp_path / 'chroma'}; the collections there are: " \
           "other-notes" in str(asked_first.error)
    assert "run the flow that ingests into it first" in str(asked_first.error)
    assert runner.run(load_flow(flows / "rag-ingest.json")).ok
    assert runner.run(load_flow(flows / "rag-ask.json")).ok  # and in the usual order it answers


@pytest.mark.parametrize("space", ["cosine", "l2", "ip"])
def test_small_collections_are_searched_exactly_with_no_count_per_query(
        tmp_path: Path, space: str, monkeypatch: pytest.MonkeyPatch) -> None:
    s = store(tmp_path, space=space)
    s.upsert(DOCS)
    hnsw = s.collection.query(query_embeddings=s.embedder.embed_query("free delivery")[None, :],
                              n_results=4, include=["distances"])
    ids, dists = s.dense(s.embedder.embed_query("free delivery"), 4)
    # 4 vectors: HNSW is exact too, so both find the same (ties may come in another order)
    assert set(ids) == set(hnsw["ids"][0])
    assert dists == pytest.approx(sorted(hnsw["distances"][0]), abs=1e-5)
    counted: list[int] = []
    monkeypatch.setattr(ChromaStore, "count", lambda self: counted.append(1) or 0)
    for query in ("returns", "opened bags", "next-day"):
        assert len(s.dense(s.embedder.embed_query(query), 2)[0]) == 2
    assert counted == []
    monkeypatch.undo()
    s.upsert([doc("Gift cards never expire.", "gifts.md")])  # our own write is seen at once
    assert "Gift cards never expire." in [d.text for d in s.similarity("gift cards", k=1)]
