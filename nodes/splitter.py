"""Text splitters: Documents in, smaller Documents (chunks) out.

Every chunk keeps its parent's metadata and adds `start_index` (character offset
in the parent text) and `chunk` (its number within the parent). The recursive
splitter tries separators in priority order and merges pieces back up to
`chunk_size` with `chunk_overlap`, chunking exactly like LangChain's
RecursiveCharacterTextSplitter with the same settings; the token splitter windows
tiktoken tokens; the character splitter cuts at one separator like LangChain's
CharacterTextSplitter; the markdown splitter cuts at headers and records the header
path (nodes/support/markdown.py); the code splitter uses LangChain's per-language
separators (nodes/support/code_separators.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from itertools import accumulate
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from engine.context import RunContext
from engine.node import NodeConfig, NodeSpec, node
from engine.ports import Port, PortType
from nodes.support.code_separators import ALIASES, CODE_SEPARATORS
from nodes.support.documents import Document, as_documents
from nodes.support.markdown import default_headers, langchain_sections, markdown_sections

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
_CONTINUATION = bytes(range(0x80, 0xC0))  # UTF-8 bytes that continue a character (not start one)


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
        spans = self._windows(len(tokens))
        bounds = self._char_offsets(tokens, sorted({i for span in spans for i in span}), len(text))
        return [(bounds[a], text[bounds[a]:bounds[b]]) for a, b in spans]

    def _windows(self, n: int) -> list[tuple[int, int]]:
        """(first, end) token indices of each chunk."""
        step = self.chunk_size - self.chunk_overlap
        spans: list[tuple[int, int]] = []
        for a in range(0, n, step):
            b = min(a + self.chunk_size, n)
            spans.append((a, b))
            if b == n:
                break
        return spans

    def _char_offsets(self, tokens: list[int], marks: list[int], text_len: int) -> dict[int, int]:
        """The character offset where token `i` starts, for each i in `marks` (ascending).

        The same offsets as tiktoken's `decode_with_offsets` (a token that starts inside a
        character belongs to that character), but only at chunk bounds: the tokens between
        two bounds are decoded to bytes in one call and their characters counted in C,
        instead of a Python loop over every token.
        """
        out: dict[int, int] = {}
        chars = prev = 0
        for i in marks:
            chars += len(self.enc.decode_bytes(tokens[prev:i]).translate(None, _CONTINUATION))
            prev = i
            if i == len(tokens):
                out[i] = text_len
            else:
                inside = 0x80 <= self.enc.decode_single_token_bytes(tokens[i])[0] < 0xC0
                out[i] = max(0, chars - inside)
        return out

    def split_text(self, text: str) -> list[str]:
        return [chunk for _, chunk in self.split_with_offsets(text)]


# ---------------------------------------------------------------- one separator
def _lc_pieces(text: str, pattern: str, keep: KeepSeparator) -> list[str]:
    """LangChain's `_split_text_with_regex`: pieces at `pattern`, the separator kept or dropped."""
    if not pattern:
        return [c for c in text if c]
    if keep == "none":
        return [p for p in re.split(pattern, text) if p]
    parts = re.split(f"({pattern})", text)
    if keep == "end":
        pieces = [parts[i] + parts[i + 1] for i in range(0, len(parts) - 1, 2)] + parts[-1:]
    else:
        pieces = parts[:1] + [parts[i] + parts[i + 1] for i in range(1, len(parts) - 1, 2)]
    return [p for p in pieces if p]


_LOOKAROUNDS = ("(?=", "(?<!", "(?<=", "(?!")


class CharacterSplitter:
    """One separator (text or regex), pieces merged up to chunk_size: LangChain's CharacterTextSplitter."""

    def __init__(self, chunk_size: int = 4000, chunk_overlap: int = 200, separator: str = "\n\n", *,
                 is_separator_regex: bool = False, keep_separator: KeepSeparator = "none",
                 strip_whitespace: bool = True) -> None:
        if chunk_overlap > chunk_size:
            raise ValueError(f"chunk_overlap ({chunk_overlap}) is larger than chunk_size ({chunk_size})")
        self.merger = RecursiveSplitter(chunk_size, chunk_overlap, [separator], keep_separator=keep_separator,
                                        is_separator_regex=is_separator_regex, strip_whitespace=strip_whitespace)
        self.pattern = separator if is_separator_regex else re.escape(separator)
        lookaround = is_separator_regex and separator.startswith(_LOOKAROUNDS)
        # a zero-width separator (lookaround) is never put back between pieces
        self.joiner = "" if keep_separator != "none" or lookaround else separator
        self.keep = keep_separator
        self.overlap = chunk_overlap

    def split_text(self, text: str) -> list[str]:
        pieces = _lc_pieces(text, self.pattern, self.keep)
        out: list[tuple[int, str]] = []
        self.merger._merge(pieces, [0] * len(pieces), self.joiner, out)
        return [chunk for _, chunk in out]

    def split_with_offsets(self, text: str) -> list[tuple[int, str]]:
        """The chunks with their offsets, found the way LangChain's add_start_index finds them."""
        out: list[tuple[int, str]] = []
        index, previous = 0, 0
        for chunk in self.split_text(text):
            index = text.find(chunk, max(0, index + previous - self.overlap))
            previous = len(chunk)
            out.append((index, chunk))
        return out


# ---------------------------------------------------------------- code
EXTENSIONS = {".py": "python", ".pyi": "python", ".js": "js", ".mjs": "js", ".cjs": "js", ".jsx": "js",
              ".ts": "ts", ".tsx": "ts", ".go": "go", ".java": "java", ".kt": "kotlin", ".kts": "kotlin",
              ".rs": "rust", ".md": "markdown", ".markdown": "markdown", ".c": "c", ".h": "c",
              ".cpp": "cpp", ".cc": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".php": "php", ".proto": "proto",
              ".r": "r", ".rst": "rst", ".rb": "ruby", ".scala": "scala", ".swift": "swift",
              ".tex": "latex", ".html": "html", ".htm": "html", ".sol": "sol", ".cs": "csharp",
              ".cbl": "cobol", ".cob": "cobol", ".lua": "lua", ".hs": "haskell", ".ex": "elixir",
              ".exs": "elixir", ".ps1": "powershell", ".bas": "visualbasic6", ".cls": "visualbasic6"}


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


def _keep_from_bool(value: Any) -> Any:
    """LangChain writes keep_separator as True (= start) or False (= drop); accept both spellings."""
    return {True: "start", False: "none"}.get(value, value) if isinstance(value, bool) else value


class CharacterConfig(NodeConfig):
    separator: str = Field("\n\n", max_length=200, description="Where to cut: a text, or a regular expression "
                           "when is_separator_regex is on (lookarounds such as (?<=\\.) cut without eating text).")
    is_separator_regex: bool = Field(False, description="Treat the separator as a regular expression.")
    keep_separator: KeepSeparator = Field("none", description="Keep the separator at the start or end of "
                                          "each piece, or drop it ('none', LangChain's False).")
    chunk_size: int = Field(4000, ge=1, le=1_000_000, description="Largest chunk, in characters (a single "
                            "piece longer than this stays whole, as in LangChain).")
    chunk_overlap: int = Field(200, ge=0, le=1_000_000, description="Characters repeated between neighbours "
                               "(up to chunk_size).")
    strip_whitespace: bool = Field(True, description="Strip whitespace from both ends of every chunk.")

    _keep = field_validator("keep_separator", mode="before")(_keep_from_bool)

    @model_validator(mode="after")
    def _overlap_fits(self) -> CharacterConfig:
        if self.chunk_overlap > self.chunk_size:
            raise ValueError(f"chunk_overlap ({self.chunk_overlap}) must not be larger than "
                             f"chunk_size ({self.chunk_size})")
        if self.is_separator_regex:
            try:
                re.compile(self.separator)
            except re.error as err:
                raise ValueError(f"separator {self.separator!r} is not a valid regular expression: {err}; "
                                 "fix: escape special characters or turn is_separator_regex off") from err
        return self


@node("splitter.character", title="Character splitter", config=CharacterConfig, inputs=_IN, outputs=_OUT,
      description="Cuts at one separator (text or regex) and merges pieces up to chunk_size with overlap; "
      "the same chunks as LangChain's CharacterTextSplitter.")
def character_node(config: CharacterConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    splitter = CharacterSplitter(config.chunk_size, config.chunk_overlap, config.separator,
                                 is_separator_regex=config.is_separator_regex,
                                 keep_separator=config.keep_separator, strip_whitespace=config.strip_whitespace)
    return {"documents": chunk_documents(as_documents(inputs["documents"]), splitter.split_with_offsets)}


class MarkdownConfig(NodeConfig):
    levels: list[int] = Field([1, 2, 3], min_length=1, max_length=6,
                              description="Header levels that start a new section (1 = '#'); their metadata "
                                          "keys are h1, h2, ... Ignored when headers is set.")
    headers: list[tuple[str, str]] | None = Field(
        None, max_length=6, description="LangChain's headers_to_split_on: pairs of marker and metadata key, "
        "e.g. [[\"#\", \"Header 1\"], [\"##\", \"Header 2\"]].")
    line_handling: Literal["preserve", "langchain"] = Field(
        "preserve", description="'preserve' (default) cuts the original text, so code indentation, blank "
        "lines and start_index stay exact; 'langchain' gives LangChain's MarkdownHeaderTextSplitter output "
        "(lines stripped, paragraphs joined by two spaces and a newline).")
    strip_headers: bool = Field(False, description="Leave the header line out of the section text.")
    chunk_size: int = Field(0, ge=0, le=1_000_000,
                            description="Also split long sections to this many characters (0 = never).")
    chunk_overlap: int = Field(0, ge=0, le=1_000_000, description="Overlap for that further split.")

    @model_validator(mode="after")
    def _check(self) -> MarkdownConfig:
        if any(not 1 <= lv <= 6 for lv in self.levels):
            raise ValueError("levels must be between 1 and 6")
        for marker, key in self.headers or ():
            if not (1 <= len(marker) <= 6 and set(marker) == {"#"}) or not key.strip():
                raise ValueError(f"headers: {[marker, key]} is not a header; expected a marker of 1 to 6 '#' "
                                 "and a metadata key, e.g. [\"##\", \"Header 2\"]")
        if self.chunk_size and self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        return self

    def header_pairs(self) -> list[tuple[str, str]]:
        return list(self.headers) if self.headers else default_headers(self.levels)


def _markdown_parts(config: MarkdownConfig, text: str) -> list[tuple[int, str, dict[str, str]]]:
    pairs = config.header_pairs()
    if config.line_handling == "preserve":
        return markdown_sections(text, pairs, strip_headers=config.strip_headers)
    out: list[tuple[int, str, dict[str, str]]] = []
    index = 0
    for content, meta in langchain_sections(text, pairs, strip_headers=config.strip_headers):
        found = text.find(content.split("\n", 1)[0], index)  # lines are stripped: best-effort offset
        index = found if found >= 0 else index
        out.append((index, content, meta))
    return out


@node("splitter.markdown", title="Markdown header splitter", config=MarkdownConfig, inputs=_IN,
      outputs=_OUT, description="One chunk per header section, with the header path in metadata. Headers and "
      "code fences follow CommonMark (headers indented up to 3 spaces; a fence closes only with its own "
      "character, at least as long); a leading BOM is ignored; a section holding only its header folds into "
      "its first sub-section. Line handling: the original text by default, LangChain's as an option.")
def markdown_node(config: MarkdownConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    sub = RecursiveSplitter(config.chunk_size, config.chunk_overlap) if config.chunk_size else None
    out: list[Document] = []
    for doc in as_documents(inputs["documents"]):
        for start, text, headers in _markdown_parts(config, doc.text):
            meta = {**doc.metadata, **headers, "section": " > ".join(headers.values())}
            parts = sub.split_with_offsets(text) if sub else [(0, text)]
            for offset, chunk in parts:
                out.append(Document(chunk, {**meta, "start_index": start + offset}))
    for i, d in enumerate(out):
        d.metadata["chunk"] = i
    return {"documents": out}


CodeLanguage = Literal["auto", "cpp", "go", "java", "kotlin", "js", "ts", "php", "proto", "python", "r", "rst",
                       "ruby", "rust", "scala", "swift", "markdown", "latex", "html", "sol", "csharp", "cobol",
                       "c", "lua", "haskell", "elixir", "powershell", "visualbasic6", "javascript", "typescript"]


class CodeConfig(SizeConfig):
    language: CodeLanguage = Field(
        "auto", description="Language of the code, with LangChain's separators for it: c, cpp, csharp, cobol, "
        "elixir, go, haskell, html, java, js (javascript), kotlin, latex, lua, markdown, php, powershell, "
        "proto, python, r, rst, ruby, rust, scala, sol, swift, ts (typescript), visualbasic6. "
        "'auto' goes by the source file's extension.")


def code_splitter(language: str, chunk_size: int, chunk_overlap: int) -> RecursiveSplitter:
    """LangChain's RecursiveCharacterTextSplitter.from_language: its separators, read as regexes."""
    lang = ALIASES.get(language, language)
    return RecursiveSplitter(chunk_size, chunk_overlap, CODE_SEPARATORS[lang], is_separator_regex=True)


@node("splitter.code", title="Code splitter", config=CodeConfig, inputs=_IN, outputs=_OUT,
      description="Splits source code at classes and functions before lines and words, with LangChain's "
      "separators for each language.")
def code_node(config: CodeConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    out: list[Document] = []
    for doc in as_documents(inputs["documents"]):
        lang = language_of(doc) if config.language == "auto" else ALIASES.get(config.language, config.language)
        splitter = code_splitter(lang, config.chunk_size, config.chunk_overlap)
        for chunk in chunk_documents([doc], splitter.split_with_offsets):
            chunk.metadata["language"] = lang
            out.append(chunk)
    return {"documents": out}


SPECS: tuple[NodeSpec, ...] = (recursive_node, character_node, token_node, markdown_node, code_node)
