"""Markdown header sections: cut a Markdown text at its headers, record the header path.

`markdown_sections` keeps the original text (exact slices with their offsets);
`langchain_sections` reproduces LangChain's MarkdownHeaderTextSplitter line handling
(lines stripped, blank lines ending a group, groups joined with two spaces and a
newline). Both recognise headers and code fences the CommonMark way: a header may be
indented by up to 3 spaces, and a fence is closed only by the same character
repeated at least as many times as the opener, so `# lines` inside code stay code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

Headers = Sequence[tuple[str, str]]  # ("##", "Header 2"): marker, metadata key

_OPEN_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_HEADER = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$")
_CLOSING_HASHES = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")
_LINE = re.compile(r"[^\n]*\n|[^\n]+$")
BOM = "\ufeff"


def default_headers(levels: Sequence[int]) -> list[tuple[str, str]]:
    """The header markers for `levels`, named h1, h2, ... (the node's default keys)."""
    return [("#" * lv, f"h{lv}") for lv in sorted(set(levels))]


class _Fences:
    """Tracks whether a line is inside a fenced code block (CommonMark's closing rule)."""

    def __init__(self) -> None:
        self.fence = ""  # the opener's run of ` or ~ while inside a block

    def inside(self, line: str) -> bool:
        """True when `line` opens, continues or closes a fenced block."""
        if self.fence:
            closer = line.strip(" \t\r")
            if (len(line) - len(line.lstrip(" ")) <= 3 and closer and set(closer) == {self.fence[0]}
                    and len(closer) >= len(self.fence)):
                self.fence = ""
            return True
        m = _OPEN_FENCE.match(line.rstrip("\r"))
        if m and not (m.group(1)[0] == "`" and "`" in m.group(2)):  # ```x``` is inline code
            self.fence = m.group(1)
            return True
        return False


def _header(line: str, markers: dict[str, str], *, commonmark_text: bool) -> tuple[int, str, str] | None:
    """(level, metadata key, header text) when `line` is a header at one of `markers`."""
    m = _HEADER.match(line.rstrip("\r"))
    if not m or m.group(1) not in markers:
        return None
    title = m.group(2) or ""
    if commonmark_text:
        title = _CLOSING_HASHES.sub("", title)
    return len(m.group(1)), markers[m.group(1)], title.strip()


@dataclass
class _Section:
    start: int
    end: int
    metadata: dict[str, str]
    body_start: int
    header_only: bool = field(default=False)


def markdown_sections(text: str, headers: Headers, *, strip_headers: bool = False
                      ) -> list[tuple[int, str, dict[str, str]]]:
    """(start offset, section text, {key: header text}) for each header-led section.

    The text is cut from the original, so offsets are exact; a section holding only
    its header folds into the first deeper section that follows it (as LangChain does).
    """
    markers = dict(headers)
    stack: list[tuple[int, str, str]] = []
    sections: list[_Section] = []
    fences = _Fences()
    pos = len(BOM) if text.startswith(BOM) else 0
    current = _Section(pos, pos, {}, pos)
    for m in _LINE.finditer(text, pos):
        line = m.group().rstrip("\n")
        found = None if fences.inside(line) else _header(line, markers, commonmark_text=True)
        if found:
            current.end = m.start()
            sections.append(current)
            level, key, title = found
            stack = [h for h in stack if h[0] < level] + [(level, key, title)]
            body = m.end() if strip_headers else m.start()
            current = _Section(m.start(), m.end(), {k: t for _, k, t in stack}, body)
            current.header_only = not strip_headers
            continue
        if line.strip():
            current.header_only = False
        current.end = m.end()
    sections.append(current)
    return _fold(text, sections)


def _fold(text: str, sections: list[_Section]) -> list[tuple[int, str, dict[str, str]]]:
    out: list[tuple[int, str, dict[str, str]]] = []
    carry: int | None = None
    for i, sec in enumerate(sections):
        nxt = sections[i + 1] if i + 1 < len(sections) else None
        if sec.header_only and nxt is not None and len(nxt.metadata) > len(sec.metadata):
            carry = sec.start if carry is None else carry
            continue
        start = sec.body_start if carry is None else carry
        carry = None
        chunk = text[start:sec.end]
        if chunk.strip():
            out.append((start + len(chunk) - len(chunk.lstrip()), chunk.strip(), sec.metadata))
    return out


def langchain_sections(text: str, headers: Headers, *, strip_headers: bool = True
                       ) -> list[tuple[str, dict[str, str]]]:
    """(content, metadata) exactly as LangChain's MarkdownHeaderTextSplitter.split_text builds them."""
    markers = dict(headers)
    lines: list[tuple[str, dict[str, str]]] = []
    content: list[str] = []
    stack: list[tuple[int, str, str]] = []
    meta: dict[str, str] = {}
    fences = _Fences()

    def flush(metadata: dict[str, str]) -> None:
        if content:
            lines.append(("\n".join(content), dict(metadata)))
            content.clear()

    for raw in text.split("\n"):
        line = "".join(filter(str.isprintable, raw.lstrip(BOM)))  # LangChain drops unprintables
        stripped = line.strip()
        if fences.inside(line):
            content.append(stripped)
            meta = {k: t for _, k, t in stack}
            continue
        found = _header(line, markers, commonmark_text=False)
        if found:
            level, key, title = found
            stack = [h for h in stack if h[0] < level] + [(level, key, title)]
            flush(meta)
            if not strip_headers:
                content.append(stripped)
        elif stripped:
            content.append(stripped)
        else:
            flush(meta)
        meta = {k: t for _, k, t in stack}
    flush(meta)
    return _aggregate(lines, strip_headers=strip_headers)


def _aggregate(lines: list[tuple[str, dict[str, str]]], *, strip_headers: bool
               ) -> list[tuple[str, dict[str, str]]]:
    """Join consecutive groups with equal metadata; a bare header folds into its child."""
    out: list[tuple[str, dict[str, str]]] = []
    for content, meta in lines:
        if out and out[-1][1] == meta or (out and len(out[-1][1]) < len(meta) and not strip_headers
              and out[-1][0].split("\n")[-1][:1] == "#"):
            out[-1] = (out[-1][0] + "  \n" + content, meta)
        else:
            out.append((content, meta))
    return out
