"""Text splitters: Documents in, smaller Documents (chunks) out.

Every chunk keeps its parent's metadata and adds `start_index` (character offset
in the parent text) and `chunk` (its number within the parent). The recursive
splitter tries separators in priority order and merges pieces back up to
`chunk_size` with `chunk_overlap`, chunking exactly like LangChain's
RecursiveCharacterTextSplitter with the same settings; the token splitter windows
tiktoken tokens; the markdown splitter cuts at headers and records the header
path; the code splitter uses language-aware separators.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from itertools import accumulate
from typing import Any, Literal

from pydantic import Field, model_validator

from engine.context import RunContext
from engine.node import NodeConfig, NodeSpec, node
from engine.ports import Port, PortType
from nodes.support.documents import Document, as_documents

KeepSeparator = Literal["start", "end", "none"]
DEFAULT_SEPARATORS = ("\n\n", "\n", " ", "")


# ---------------------------------------------------------------- recursive character
def _pieces(text: str, sep: str, keep: KeepSeparator, regex: bool) -> tuple[list[str], list[int]]:
    """`text` cut at `sep` (kept on the start or end of a piece, or dropped), with each piece's offset."""
    if sep == "":
        return list(text), list(range(len(text)))
    if regex:
        parts = re.split(f"({sep})", text)
        words, seps = parts[0::2], parts[1::2]
    else:
        words = text.split(sep)
        seps = [sep] * (len(words) - 1)
    if keep == "start":
        out = [words[0]] + [s + w for s, w in zip(seps, words[1:])]
    elif keep == "end":
        out = [w + s for w, s in zip(words, seps)] + [words[-1]]
    else:
        out = words
    if keep == "none":
        lengths = [len(w) + len(sep_) for w, sep_ in zip(out, seps)]
    else:
        lengths = list(map(len, out[:-1]))
    offsets = [0, *accumulate(lengths)]
    if "" not in out:
        return out, offsets
    kept = [i for i, p in enumerate(out) if p]
    return [out[i] for i in kept], [offsets[i] for i in kept]


class RecursiveSplitter:
    """Cut at the first separator present, recurse into pieces still too long, merge back."""

    def __init__(self, chunk_size: int = 1000, chunk_overlap: int = 200,
                 separators: Sequence[str] = DEFAULT_SEPARATORS, *, keep_separator: KeepSeparator = "start",
                 is_separator_regex: bool = False, strip_whitespace: bool = True) -> None:
        if chunk_overlap > chunk_size:
            raise ValueError(f"chunk_overlap ({chunk_overlap}) is larger than chunk_size ({chunk_size})")
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self.separators = list(separators) or [""]
        self.keep = keep_separator
        self.regex = is_separator_regex
        self.strip = strip_whitespace

    def split_text(self, text: str) -> list[str]:
        return [chunk for _, chunk in self.split_with_offsets(text)]

    def split_with_offsets(self, text: str) -> list[tuple[int, str]]:
        """The chunks, each with the offset in `text` where it starts."""
        out: list[tuple[int, str]] = []
        self._split(text, 0, self.separators, out)
        return out

    def _choose(self, text: str, separators: list[str]) -> tuple[str, list[str]]:
        for i, sep in enumerate(separators):
            if sep == "":
                return sep, []
            if (re.search(sep, text) if self.regex else sep in text):
                return sep, separators[i + 1:]
        return separators[-1], []

    def _split(self, text: str, base: int, separators: list[str], out: list[tuple[int, str]]) -> None:
        sep, rest = self._choose(text, separators)
        joiner = "" if self.keep != "none" else sep
        size = self.chunk_size
        small: list[str] = []
        starts: list[int] = []
        pieces, offsets = _pieces(text, sep, self.keep, self.regex)
        for piece, offset in zip(pieces, offsets):
            if len(piece) < size:
                small.append(piece)
                starts.append(base + offset)
                continue
            if small:
                self._merge(small, starts, joiner, out)
                small, starts = [], []
            if rest:
                self._split(piece, base + offset, rest, out)
            else:
                out.append((base + offset, piece))
        if small:
            self._merge(small, starts, joiner, out)

    def _emit(self, parts: list[str], start: int, joiner: str, out: list[tuple[int, str]]) -> None:
        text = joiner.join(parts)
        if self.strip:
            stripped = text.lstrip()
            start += len(text) - len(stripped)
            text = stripped.rstrip()
        if text:
            out.append((start, text))

    def _merge(self, pieces: list[str], starts: list[int], joiner: str, out: list[tuple[int, str]]) -> None:
        """Greedy merge up to chunk_size; on each emit, drop from the front down to the overlap."""
        size, overlap, jlen = self.chunk_size, self.chunk_overlap, len(joiner)
        window: list[str] = []
        lens: list[int] = []
        head = 0          # pieces[head:len(window)] make the current chunk
        total = 0         # its length, joiners included
        for piece in pieces:
            n = len(piece)
            if total + n + (jlen if head < len(window) else 0) > size and head < len(window):
                self._emit(window[head:], starts[head], joiner, out)
                while total > overlap or (total > 0 and total + n + (jlen if head < len(window) else 0) > size):
                    total -= lens[head] + (jlen if len(window) - head > 1 else 0)
                    head += 1
            window.append(piece)
            lens.append(n)
            total += n + (jlen if len(window) - head > 1 else 0)
        if head < len(window):
            self._emit(window[head:], starts[head], joiner, out)


def chunk_documents(docs: Iterable[Document], split: Callable[[str], list[tuple[int, str]]],
                    ) -> list[Document]:
    """Split each document with `split` (text -> [(start, chunk)]), keeping metadata."""
    out: list[Document] = []
    for doc in docs:
        for i, (start, chunk) in enumerate(split(doc.text)):
            out.append(Document(chunk, {**doc.metadata, "start_index": start, "chunk": i}))
    return out


# ---------------------------------------------------------------- tokens
class TokenSplitter:
    """Windows of `chunk_size` tokens overlapping by `chunk_overlap`, cut from the original text."""

    def __init__(self, chunk_size: int = 512, chunk_overlap: int = 64, encoding: str = "cl100k_base") -> None:
        if chunk_overlap >= chunk_size:
            raise ValueError(f"chunk_overlap ({chunk_overlap}) must be smaller than chunk_size ({chunk_size})")
        from nodes.support.tokens import get_encoding  # noqa: PLC0415 - tiktoken loads only when used

        self.enc = get_encoding(encoding)
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap

    def split_with_offsets(self, text: str) -> list[tuple[int, str]]:
        tokens = self.enc.encode(text, disallowed_special=())
        if not tokens:
            return []
        _, offsets = self.enc.decode_with_offsets(tokens)
        bounds = list(offsets) + [len(text)]
        step = self.chunk_size - self.chunk_overlap
        out: list[tuple[int, str]] = []
        for a in range(0, len(tokens), step):
            b = min(a + self.chunk_size, len(tokens))
            out.append((bounds[a], text[bounds[a]:bounds[b]]))
            if b == len(tokens):
                break
        return out

    def split_text(self, text: str) -> list[str]:
        return [chunk for _, chunk in self.split_with_offsets(text)]


# ---------------------------------------------------------------- markdown headers
_HEADER = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def markdown_sections(text: str, levels: Sequence[int] = (1, 2, 3), *, strip_headers: bool = False
                      ) -> list[tuple[int, str, dict[str, str]]]:
    """(start offset, section text, {"h1": ..., "h2": ...}) for each header-led section."""
    sections: list[tuple[int, str, dict[str, str]]] = []
    path: dict[int, str] = {}
    start, body_start, in_fence, pos = 0, 0, False, 0
    current: dict[str, str] = {}

    def close(end: int) -> None:
        chunk = text[body_start:end]
        if chunk.strip():
            sections.append((body_start + len(chunk) - len(chunk.lstrip()), chunk.strip(), dict(current)))

    for line in text.splitlines(keepends=True):
        if _FENCE.match(line):
            in_fence = not in_fence
        m = None if in_fence else _HEADER.match(line.rstrip("\r\n"))
        if m and len(m.group(1)) in levels:
            close(pos)
            level = len(m.group(1))
            path = {k: v for k, v in path.items() if k < level}
            path[level] = m.group(2).strip()
            current = {f"h{k}": v for k, v in sorted(path.items())}
            start = pos
            body_start = pos + len(line) if strip_headers else start
        pos += len(line)
    close(pos)
    return sections


# ---------------------------------------------------------------- code
CODE_SEPARATORS: dict[str, list[str]] = {
    "python": ["\nclass ", "\ndef ", "\nasync def ", "\n    def ", "\n    async def ", "\n\n", "\n", " ", ""],
    "javascript": ["\nexport ", "\nfunction ", "\nclass ", "\nconst ", "\nlet ", "\n\n", "\n", " ", ""],
    "typescript": ["\nexport ", "\ninterface ", "\ntype ", "\nfunction ", "\nclass ", "\nconst ", "\n\n",
                   "\n", " ", ""],
    "go": ["\nfunc ", "\ntype ", "\nvar ", "\nconst ", "\n\n", "\n", " ", ""],
    "java": ["\npublic ", "\nprotected ", "\nprivate ", "\nclass ", "\ninterface ", "\n\n", "\n", " ", ""],
    "rust": ["\npub fn ", "\nfn ", "\nimpl ", "\npub struct ", "\nstruct ", "\nenum ", "\ntrait ", "\nmod ",
             "\n\n", "\n", " ", ""],
    "markdown": ["\n# ", "\n## ", "\n### ", "\n#### ", "\n```", "\n\n", "\n", " ", ""],
}
EXTENSIONS = {".py": "python", ".js": "javascript", ".mjs": "javascript", ".jsx": "javascript",
              ".ts": "typescript", ".tsx": "typescript", ".go": "go", ".java": "java", ".rs": "rust",
              ".md": "markdown", ".markdown": "markdown"}


def language_of(doc: Document, default: str = "python") -> str:
    src = doc.source.lower()
    for ext, lang in EXTENSIONS.items():
        if src.endswith(ext):
            return lang
    return default


# ---------------------------------------------------------------- nodes
_IN = (Port("documents", PortType.DOCUMENTS, "Documents to split."),)
_OUT = (Port("documents", PortType.DOCUMENTS, "The chunks, each with its parent's metadata and start_index."),)


class SizeConfig(NodeConfig):
    chunk_size: int = Field(1000, ge=1, le=1_000_000, description="Largest chunk, in characters.")
    chunk_overlap: int = Field(200, ge=0, le=1_000_000, description="Characters repeated between neighbours.")

    @model_validator(mode="after")
    def _overlap_fits(self) -> SizeConfig:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(f"chunk_overlap ({self.chunk_overlap}) must be smaller than "
                             f"chunk_size ({self.chunk_size})")
        return self


class RecursiveConfig(SizeConfig):
    separators: list[str] = Field(list(DEFAULT_SEPARATORS), max_length=50,
                                  description="Tried in order: paragraphs, lines, words, characters.")
    keep_separator: KeepSeparator = Field("start", description="Keep each separator at the start or end "
                                                               "of a chunk, or drop it.")
    is_separator_regex: bool = Field(False, description="Treat separators as regular expressions.")


@node("splitter.recursive", title="Recursive character splitter", config=RecursiveConfig,
      inputs=_IN, outputs=_OUT, description="Splits at paragraphs, then lines, then words, "
      "merging pieces up to chunk_size with overlap.")
def recursive_node(config: RecursiveConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    splitter = RecursiveSplitter(config.chunk_size, config.chunk_overlap, config.separators,
                                 keep_separator=config.keep_separator,
                                 is_separator_regex=config.is_separator_regex)
    return {"documents": chunk_documents(as_documents(inputs["documents"]), splitter.split_with_offsets)}


class TokenConfig(NodeConfig):
    chunk_size: int = Field(512, ge=1, le=200_000, description="Largest chunk, in tokens.")
    chunk_overlap: int = Field(64, ge=0, le=200_000, description="Tokens repeated between neighbours.")
    encoding: Literal["cl100k_base", "o200k_base"] = Field("cl100k_base", description="tiktoken encoding.")

    @model_validator(mode="after")
    def _overlap_fits(self) -> TokenConfig:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(f"chunk_overlap ({self.chunk_overlap}) must be smaller than "
                             f"chunk_size ({self.chunk_size})")
        return self


@node("splitter.tokens", title="Token splitter", config=TokenConfig, inputs=_IN, outputs=_OUT,
      description="Splits into windows of tiktoken tokens (offline encodings).")
def token_node(config: TokenConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    splitter = TokenSplitter(config.chunk_size, config.chunk_overlap, config.encoding)
    out: list[Document] = []
    for doc in as_documents(inputs["documents"]):
        for i, (start, chunk) in enumerate(splitter.split_with_offsets(doc.text)):
            out.append(Document(chunk, {**doc.metadata, "start_index": start, "chunk": i}))
    return {"documents": out}


class MarkdownConfig(NodeConfig):
    levels: list[int] = Field([1, 2, 3], min_length=1, max_length=6,
                              description="Header levels that start a new section (1 = '#').")
    strip_headers: bool = Field(False, description="Leave the header line out of the section text.")
    chunk_size: int = Field(0, ge=0, le=1_000_000,
                            description="Also split long sections to this many characters (0 = never).")
    chunk_overlap: int = Field(0, ge=0, le=1_000_000, description="Overlap for that further split.")

    @model_validator(mode="after")
    def _check(self) -> MarkdownConfig:
        if any(not 1 <= lv <= 6 for lv in self.levels):
            raise ValueError("levels must be between 1 and 6")
        if self.chunk_size and self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        return self


@node("splitter.markdown", title="Markdown header splitter", config=MarkdownConfig, inputs=_IN,
      outputs=_OUT, description="One chunk per header section, with the header path in metadata.")
def markdown_node(config: MarkdownConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    sub = RecursiveSplitter(config.chunk_size, config.chunk_overlap) if config.chunk_size else None
    out: list[Document] = []
    for doc in as_documents(inputs["documents"]):
        for start, text, headers in markdown_sections(doc.text, config.levels,
                                                      strip_headers=config.strip_headers):
            meta = {**doc.metadata, **headers, "section": " > ".join(headers.values())}
            parts = sub.split_with_offsets(text) if sub else [(0, text)]
            for offset, chunk in parts:
                out.append(Document(chunk, {**meta, "start_index": start + offset}))
    for i, d in enumerate(out):
        d.metadata["chunk"] = i
    return {"documents": out}


class CodeConfig(SizeConfig):
    language: Literal["auto", "python", "javascript", "typescript", "go", "java", "rust", "markdown"] = Field(
        "auto", description="Language of the code; 'auto' goes by the source file's extension.")


@node("splitter.code", title="Code splitter", config=CodeConfig, inputs=_IN, outputs=_OUT,
      description="Splits source code at classes and functions before lines and words.")
def code_node(config: CodeConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    out: list[Document] = []
    for doc in as_documents(inputs["documents"]):
        lang = language_of(doc) if config.language == "auto" else config.language
        splitter = RecursiveSplitter(config.chunk_size, config.chunk_overlap, CODE_SEPARATORS[lang])
        for chunk in chunk_documents([doc], splitter.split_with_offsets):
            chunk.metadata["language"] = lang
            out.append(chunk)
    return {"documents": out}


SPECS: tuple[NodeSpec, ...] = (recursive_node, token_node, markdown_node, code_node)
