"""Embeddings: the hashing default's properties, and OpenAI/Cohere through their real clients."""

from __future__ import annotations

import numpy as np
import pytest

from nodes.support.embedders import CachedEmbedder, CohereEmbedder, HashingEmbedder, OpenAIEmbedder
from tests.fakes.embed_server import FakeEmbedServer, vector
from tests.nodes.flowkit import make_flow, run


def test_hashing_is_deterministic_normalised_and_lexical() -> None:
    emb = HashingEmbedder(512)
    texts = ["The espresso blend is roasted darker.", "Our espresso blend is a darker roast.",
             "Parcels to Japan take twelve days."]
    a, b = emb.embed_documents(texts), HashingEmbedder(512).embed_documents(texts)
    assert np.array_equal(a, b)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    sims = a @ a.T
    assert sims[0, 1] > 0.3 > sims[0, 2]
    assert np.allclose(emb.embed_query(texts[0]), a[0])


def test_hashing_handles_empty_and_stopword_only_texts() -> None:
    out = HashingEmbedder(64).embed_documents(["", "the of and"])
    assert not out[0].any()
    assert np.isclose(np.linalg.norm(out[1]), 1.0)


def test_cache_embeds_each_text_once() -> None:
    class Counting(HashingEmbedder):
        calls: list[int] = []

        def embed_documents(self, texts, *, usage=None):  # type: ignore[no-untyped-def]
            self.calls.append(len(texts))
            return super().embed_documents(texts)

    inner = Counting(64)
    cached = CachedEmbedder(inner)
    first = cached.embed_documents(["a b", "c d", "a b"])
    second = cached.embed_documents(["c d", "e f"])
    assert inner.calls == [2, 1]
    assert np.array_equal(first[1], second[0]) and np.array_equal(first[0], first[2])


def test_openai_embeddings_through_the_real_client_in_batches() -> None:
    seen: list[int] = []
    with FakeEmbedServer() as server:
        emb = OpenAIEmbedder(model="text-embedding-3-small", api_key="sk-test", base_url=server.url + "/v1",
                             batch_size=2)
        out = emb.embed_documents(["one", "two", "three"], usage=seen.append)
    assert out.shape == (3, 8) and emb.dimension == 8
    assert np.allclose(out, [vector(t) for t in ["one", "two", "three"]])  # order restored by index
    assert [r[1]["input"] for r in server.requests] == [["one", "two"], ["three"]]
    assert server.requests[0][2]["authorization"] == "Bearer sk-test"
    assert seen == [2, 1]


def test_cohere_embeddings_through_the_real_client_with_input_types() -> None:
    with FakeEmbedServer() as server:
        emb = CohereEmbedder(model="embed-english-v3.0", api_key="co-test", base_url=server.url)
        docs = emb.embed_documents(["alpha", "beta"])
        query = emb.embed_query("alpha")
    assert np.allclose(docs, [vector("alpha"), vector("beta")]) and np.allclose(query, vector("alpha"))
    assert [r[1]["input_type"] for r in server.requests] == ["search_document", "search_query"]
    assert server.requests[0][0] == "/v2/embed"


def test_openai_node_names_the_missing_key_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MY_EMBED_KEY", raising=False)
    flow = make_flow({"e": ("embeddings.openai", {"api_key_env": "MY_EMBED_KEY"}),
                      "s": ("vectorstore.chroma", {"collection": "never-made"}),
                      "o": ("output.json", {"name": "x"})},
                     [("e.embeddings", "s.embeddings"), ("s.stats", "o.value")])
    result = run(flow)
    assert result.status == "failed"
    assert "MY_EMBED_KEY" in str(result.error)
