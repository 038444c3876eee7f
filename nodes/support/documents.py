"""The Document: a piece of text with metadata, as it travels along Documents edges.

A Document holds `text`, a `metadata` dict of JSON-safe values (source, page, row,
start_index, ...) and an `id`. Values on a Documents port are lists of Document;
`as_documents` also accepts plain strings and dicts so JSON from other nodes fits.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

PREVIEW_TEXT = 300


@dataclass(slots=True)
class Document:
    """Text plus metadata. `id` is empty until a store or splitter assigns one."""

    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    id: str = ""

    @property
    def source(self) -> str:
        return str(self.metadata.get("source", ""))

    def with_text(self, text: str, **extra: Any) -> Document:
        """A new Document with this one's metadata (plus `extra`) and another text."""
        return Document(text=text, metadata={**self.metadata, **extra})

    def content_hash(self) -> str:
        """sha256 of the text and the metadata, stable across processes."""
        body = json.dumps([self.text, self.metadata], sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(body.encode("utf-8")).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "metadata": dict(self.metadata)}

    def to_preview(self) -> dict[str, Any]:
        text = self.text if len(self.text) <= PREVIEW_TEXT else self.text[:PREVIEW_TEXT] + "…"
        out: dict[str, Any] = {"text": text, "metadata": self.metadata}
        if self.id:
            out["id"] = self.id
        return out

    @classmethod
    def from_value(cls, value: Any) -> Document:
        """A Document from a Document, a str, or a dict with `text`/`page_content`."""
        if isinstance(value, Document):
            return value
        if isinstance(value, str):
            return cls(text=value)
        if isinstance(value, Mapping):
            text = value.get("text", value.get("page_content"))
            if not isinstance(text, str):
                raise TypeError("a document dict needs a string 'text' field")
            meta = value.get("metadata") or {}
            if not isinstance(meta, Mapping):
                raise TypeError("a document's 'metadata' must be an object")
            return cls(text=text, metadata=dict(meta), id=str(value.get("id") or ""))
        raise TypeError(f"expected a document, got {type(value).__name__}")


def as_documents(value: Any) -> list[Document]:
    """Normalise whatever arrived on a Documents port into a list of Document."""
    if value is None:
        return []
    if isinstance(value, (Document, str, Mapping)):
        return [Document.from_value(value)]
    if isinstance(value, Iterable):
        out: list[Document] = []
        for item in value:
            out.extend(as_documents(item) if isinstance(item, list) else [Document.from_value(item)])
        return out
    raise TypeError(f"expected documents, got {type(value).__name__}")


def format_documents(docs: Iterable[Document], *, numbered: bool = True) -> str:
    """Documents as one context string, each headed by its number and source."""
    parts = []
    for i, doc in enumerate(docs, 1):
        head = f"[{i}]" if numbered else ""
        label = " ".join(x for x in (head, f"({doc.source})" if doc.source else "") if x)
        parts.append(f"{label}\n{doc.text}" if label else doc.text)
    return "\n\n".join(parts)


def sources_of(docs: Iterable[Document]) -> list[dict[str, Any]]:
    """The distinct sources of `docs`, in order, with pages/rows when known."""
    seen: dict[str, dict[str, Any]] = {}
    for doc in docs:
        src = doc.source or "(unknown)"
        entry = seen.setdefault(src, {"source": src})
        for key in ("page", "row"):
            if key in doc.metadata:
                entry.setdefault(key + "s", [])
                if doc.metadata[key] not in entry[key + "s"]:
                    entry[key + "s"].append(doc.metadata[key])
    return list(seen.values())
