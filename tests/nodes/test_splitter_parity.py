"""The splitters against the real langchain-text-splitters, on the same inputs (dev extra)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nodes.splitter import (
    CharacterConfig,
    CharacterSplitter,
    CodeConfig,
    MarkdownConfig,
    character_node,
    code_node,
    code_splitter,
    markdown_node,
)
from nodes.support.code_separators import CODE_SEPARATORS
from nodes.support.documents import Document
from nodes.support.markdown import langchain_sections, markdown_sections

lc = pytest.importorskip("langchain_text_splitters")

HEADERS = [("#", "Header 1"), ("##", "Header 2"), ("###", "Header 3")]
MARKDOWN = {
    "plain": "# Guide\nintro line\n\n## Grind\nfine\nmore\n\n### Deep\nx\n## Water\nhot\n",
    "indented": "# Guide\nintro\n  ## Grind\nfine\n   ### Deep\nx\n ## Water\nhot",
    "fences": "# Code\n```python\n# not a header\nprint(1)\n```\n## Next\n~~~\n## still code\n~~~\ntext",
    "header_only": "# Top\n## Child\nbody of child\n## Sibling\nsibling body\n# Alone\n",
    "bom": "\ufeff# First\nbody\n## Second\nmore body",
    "paragraphs": "# A\npara one\n\npara two\n\n\n## B\n\nb one\nb two\n\n# C\nlast",
}


@pytest.mark.parametrize("name", sorted(MARKDOWN))
@pytest.mark.parametrize("strip", [True, False])
def test_markdown_langchain_line_handling_is_langchains(name: str, strip: bool) -> None:
    text = MARKDOWN[name]
    theirs = lc.MarkdownHeaderTextSplitter(HEADERS, strip_headers=strip).split_text(text)
    ours = langchain_sections(text, HEADERS, strip_headers=strip)
    assert ours == [(d.page_content, d.metadata) for d in theirs]


@pytest.mark.parametrize("name", sorted(MARKDOWN))
def test_markdown_node_langchain_mode_in_a_flow(name: str) -> None:
    text = MARKDOWN[name]
    theirs = lc.MarkdownHeaderTextSplitter(HEADERS[:2], strip_headers=False).split_text(text)
    config = MarkdownConfig(headers=HEADERS[:2], line_handling="langchain")
    out = markdown_node.run(config, {"documents": [Document(text, {"source": "g.md"})]}, None)["documents"]
    assert [d.text for d in out] == [d.page_content for d in theirs]
    assert [{k: v for k, v in d.metadata.items() if k.startswith("Header")} for d in out] == \
        [d.metadata for d in theirs]
    assert all(d.metadata["source"] == "g.md" for d in out)


@pytest.mark.parametrize("name", sorted(MARKDOWN))
def test_markdown_preserve_mode_has_langchains_sections_and_exact_slices(name: str) -> None:
    """Same sections and header metadata as LangChain; the text is the original's, cut at exact offsets."""
    text = MARKDOWN[name]
    theirs = lc.MarkdownHeaderTextSplitter(HEADERS, strip_headers=False).split_text(text)
    ours = markdown_sections(text, HEADERS)
    assert [meta for _, _, meta in ours] == [d.metadata for d in theirs]
    for (start, chunk, _), doc in zip(ours, theirs):
        assert text[start:start + len(chunk)] == chunk
        assert [ln.strip() for ln in chunk.splitlines() if ln.strip()] == \
            [ln.strip() for ln in doc.page_content.replace("  \n", "\n").splitlines() if ln.strip()]


def test_markdown_commonmark_details() -> None:
    text = "\ufeff# Title\n````\n```\n# code\n```\n````\n    # indented code\n## Sub ##\nbody"
    sections = markdown_sections(text, [("#", "h1"), ("##", "h2")])
    assert [(s[1].splitlines()[0], s[2]) for s in sections] == [
        ("# Title", {"h1": "Title"}), ("## Sub ##", {"h1": "Title", "h2": "Sub"})]
    assert "# code" in sections[0][1] and "    # indented code" in sections[0][1]
    # a tilde line does not close a backtick fence, nor a shorter run of the same character
    text = "```\n~~~\n# inside\n``\n# still inside\n```\n# Out\nx"
    assert [s[2] for s in markdown_sections(text, [("#", "h1")])] == [{}, {"h1": "Out"}]


def test_markdown_user_named_keys_and_strip() -> None:
    config = MarkdownConfig(headers=[("#", "Chapter"), ("##", "Section")], strip_headers=True)
    out = markdown_node.run(config, {"documents": [MARKDOWN["plain"]]}, None)["documents"]
    assert [(d.text, d.metadata["Chapter"], d.metadata.get("Section")) for d in out] == [
        ("intro line", "Guide", None), ("fine\nmore\n\n### Deep\nx", "Guide", "Grind"),
        ("hot", "Guide", "Water")]
    with pytest.raises(ValueError, match="is not a header"):
        MarkdownConfig(headers=[("h1", "x")])


TEXTS = [
    "One. Two! Three? Four.\n\nFive six seven. Eight nine ten eleven twelve.\n\n\nThirteen.",
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau",
    "line one   \nline two\t\n\n   spaced paragraph   \n\nend",
    "a" * 50 + "\n\n" + "b" * 7 + "\n\n" + "c " * 30,
]
SEPARATORS = [("\n\n", False), (" ", False), ("\n", False), (r"(?<=[.!?])\s+", True), (r"(?=\n)", True),
              (r"\s*\n\s*", True), ("", False)]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("separator,regex", SEPARATORS)
@pytest.mark.parametrize("keep", ["none", "start", "end"])
@pytest.mark.parametrize("size,overlap", [(10, 0), (20, 5), (25, 25), (40, 10)])
def test_character_splitter_is_langchains(text: str, separator: str, regex: bool, keep: str,
                                          size: int, overlap: int) -> None:
    theirs = lc.CharacterTextSplitter(separator=separator, is_separator_regex=regex, chunk_size=size,
                                      chunk_overlap=overlap, keep_separator={"none": False}.get(keep, keep))
    ours = CharacterSplitter(size, overlap, separator, is_separator_regex=regex, keep_separator=keep)  # type: ignore[arg-type]
    assert ours.split_text(text) == theirs.split_text(text)
    docs = lc.CharacterTextSplitter(separator=separator, is_separator_regex=regex, chunk_size=size,
                                    chunk_overlap=overlap, keep_separator={"none": False}.get(keep, keep),
                                    add_start_index=True).create_documents([text])
    assert [start for start, _ in ours.split_with_offsets(text)] == [d.metadata["start_index"] for d in docs]


@settings(max_examples=60, deadline=None)
@given(text=st.text(alphabet="ab .\n", max_size=120), size=st.integers(1, 30), share=st.floats(0, 1),
       strip=st.booleans())
def test_character_splitter_matches_on_random_text(text: str, size: int, share: float, strip: bool) -> None:
    overlap = int(size * share)
    theirs = lc.CharacterTextSplitter(separator=". ", chunk_size=size, chunk_overlap=overlap,
                                      strip_whitespace=strip)
    assert CharacterSplitter(size, overlap, ". ", strip_whitespace=strip).split_text(text) == theirs.split_text(text)


def test_character_node_lookaround_stays_out_of_the_text_and_keep_false_is_accepted() -> None:
    config = CharacterConfig.model_validate({"separator": r"(?<=\.) ", "is_separator_regex": True,
                                             "keep_separator": False, "chunk_size": 12, "chunk_overlap": 12})
    out = character_node.run(config, {"documents": ["Cats purr. Dogs bark. Owls hoot."]}, None)["documents"]
    assert [(d.text, d.metadata["start_index"]) for d in out] == [
        ("Cats purr.", 0), ("Dogs bark.", 11), ("Owls hoot.", 22)]
    with pytest.raises(ValueError, match="must not be larger than chunk_size"):
        CharacterConfig(chunk_size=5, chunk_overlap=6)
    with pytest.raises(ValueError, match="not a valid regular expression"):
        CharacterConfig(separator="(", is_separator_regex=True)


def test_code_presets_are_langchains() -> None:
    r = lc.RecursiveCharacterTextSplitter
    for lang in lc.Language:
        try:
            expected = r.get_separators_for_language(lang)
        except ValueError:
            continue  # LangChain has no preset for it (perl)
        assert CODE_SEPARATORS[lang.value] == expected, lang
    assert set(CodeConfig.model_fields["language"].description.replace(",", " ").replace(".", " ").split()) >= \
        set(CODE_SEPARATORS)


CODE = {
    "python": "import os\n\n\nclass A:\n\tdef f(self):\n\t\treturn 1\n\n\nasync def g():\n    return 2\n" * 4,
    "js": "var a = 1;\nfunction f() {\n  if (a) { return 1; }\n}\nfor (;;) {}\nswitch (a) {\ncase 1:\n"
          "default:\n}\nwhile (true) {}\n" * 3,
    "markdown": "# T\n\ntext here\n\n***\n\nmore text\n---\n\n```\ncode\n```\n## U\nend\n" * 3,
    "go": "package main\n\nfunc main() {\n\tif x {\n\t}\n}\n\ntype T struct{}\nvar v = 1\n" * 3,
}


@pytest.mark.parametrize("lang", sorted(CODE))
@pytest.mark.parametrize("size,overlap", [(30, 0), (60, 10), (120, 20)])
def test_code_splitter_chunks_like_langchain(lang: str, size: int, overlap: int) -> None:
    theirs = lc.RecursiveCharacterTextSplitter.from_language(lc.Language(lang), chunk_size=size,
                                                             chunk_overlap=overlap)
    assert code_splitter(lang, size, overlap).split_text(CODE[lang]) == theirs.split_text(CODE[lang])


def test_code_node_accepts_the_long_language_names() -> None:
    doc = Document(CODE["js"], {"source": "app.js"})
    auto = code_node.run(CodeConfig(chunk_size=60, chunk_overlap=0), {"documents": [doc]}, None)["documents"]
    named = code_node.run(CodeConfig(chunk_size=60, chunk_overlap=0, language="javascript"),
                          {"documents": [doc]}, None)["documents"]
    assert [d.text for d in auto] == [d.text for d in named] and auto[0].metadata["language"] == "js"
