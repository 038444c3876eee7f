"""Readers: one file (or fetched body) in, Documents out. Pure functions, no node plumbing.

Each reader names the file in its errors and says how to fix them: a missing
file, text that is not in the given encoding (with the byte offset), an
encrypted PDF without its password, malformed CSV or JSON (with line numbers).
The loader nodes in nodes/loader.py build on these.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from engine.errors import PermanentError
from nodes.support.documents import Document


class LoadError(PermanentError):
    """A file could not be read into documents."""


def read_bytes(path: Path, shown: str, max_bytes: int = 200 * 1024 * 1024) -> bytes:
    try:
        size = path.stat().st_size
    except FileNotFoundError as err:
        raise LoadError(f"file '{shown}' (resolved to {path}) does not exist", hint="check the path") from err
    if not path.is_file():
        raise LoadError(f"'{shown}' is not a file")
    if size > max_bytes:
        raise LoadError(f"file '{shown}' is {size} bytes, over the {max_bytes}-byte limit")
    return path.read_bytes()


def decode(data: bytes, shown: str, encoding: str) -> str:
    if encoding == "auto":
        for enc in ("utf-8-sig", "utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig",):
            try:
                return data.decode(enc)
            except UnicodeDecodeError:
                continue
        return data.decode("cp1252", errors="replace")
    try:
        if codecs.lookup(encoding).name == "utf-8" and data.startswith(codecs.BOM_UTF8):
            return data.decode("utf-8-sig")  # a byte-order mark is not text (it would hide a first header)
        return data.decode(encoding)
    except UnicodeDecodeError as err:
        raise LoadError(f"file '{shown}' is not valid {encoding} (byte {err.start}: {data[err.start:err.start + 4]!r})",
                        hint="set the loader's encoding (e.g. 'latin-1' or 'auto')") from err
    except LookupError as err:
        raise LoadError(f"unknown encoding '{encoding}'", hint="use e.g. 'utf-8', 'latin-1' or 'auto'") from err


def read_text(path: Path, shown: str, encoding: str = "utf-8") -> list[Document]:
    text = decode(read_bytes(path, shown), shown, encoding)
    return [Document(text, {"source": shown})]


def read_pdf(path: Path, shown: str, password: str = "", *, per_page: bool = True) -> list[Document]:
    from pypdf import PdfReader  # noqa: PLC0415 - heavy SDK: loaded on first use
    from pypdf.errors import FileNotDecryptedError, PdfReadError  # noqa: PLC0415 - heavy SDK: loaded on first use

    data = read_bytes(path, shown)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(password or ""):
            raise LoadError(f"PDF '{shown}' is encrypted and the password does not open it",
                            hint="set password_env to a variable holding the PDF's password")
        pages = [page.extract_text() or "" for page in reader.pages]
    except FileNotDecryptedError as err:
        raise LoadError(f"PDF '{shown}' is encrypted", hint="set password_env to a variable holding "
                        "the PDF's password") from err
    except (PdfReadError, ValueError, KeyError) as err:
        raise LoadError(f"'{shown}' is not a readable PDF: {err}") from err
    total = len(pages)
    if not per_page:
        return [Document("\n\n".join(pages), {"source": shown, "pages": total})]
    return [Document(text, {"source": shown, "page": i, "pages": total})
            for i, text in enumerate(pages, 1) if text.strip()]


def rows_to_documents(rows: Iterable[dict[str, Any]], shown: str, content: Sequence[str],
                      metadata: Sequence[str], first_row: int = 1) -> list[Document]:
    out = []
    for n, row in enumerate(rows, first_row):
        cols = list(content) or [k for k in row if k not in metadata]
        missing = [c for c in [*cols, *metadata] if c not in row]
        if missing:
            raise LoadError(f"'{shown}' row {n} has no column '{missing[0]}'",
                            hint="columns are: " + ", ".join(map(str, row)))
        text = "\n".join(f"{c}: {row[c]}" for c in cols) if len(cols) > 1 else str(row[cols[0]])
        meta = {"source": shown, "row": n, **{m: _scalar(row[m]) for m in metadata}}
        out.append(Document(text, meta))
    return out


def read_csv(path: Path, shown: str, *, content: Sequence[str] = (), metadata: Sequence[str] = (),
             delimiter: str = ",", encoding: str = "utf-8") -> list[Document]:
    text = decode(read_bytes(path, shown), shown, encoding)
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
        rows = [dict(r) for r in reader]
    except csv.Error as err:
        raise LoadError(f"'{shown}' is not valid CSV: {err}") from err
    return rows_to_documents(rows, shown, content, metadata)


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _select(value: Any, path: str, shown: str) -> Any:
    for part in [p for p in path.split(".") if p]:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise LoadError(f"'{shown}': path '{path}' not found (at '{part}')",
                            hint="records_path is a dot path such as 'data.items'")
    return value


def json_records(data: Any, shown: str, records_path: str) -> list[Any]:
    picked = _select(data, records_path, shown)
    return picked if isinstance(picked, list) else [picked]


def read_json(path: Path, shown: str, *, records_path: str = "", text_field: str = "",
              metadata: Sequence[str] = (), lines: bool | None = None) -> list[Document]:
    raw = decode(read_bytes(path, shown), shown, "utf-8-sig")
    jsonl = lines if lines is not None else path.suffix.lower() in (".jsonl", ".ndjson")
    try:
        if jsonl:
            records = [json.loads(line) for line in raw.splitlines() if line.strip()]
        else:
            records = json_records(json.loads(raw), shown, records_path)
    except json.JSONDecodeError as err:
        raise LoadError(f"'{shown}' is not valid JSON: {err.msg} at line {err.lineno} column {err.colno}") from err
    return records_to_documents(records, shown, text_field, metadata)


def records_to_documents(records: list[Any], shown: str, text_field: str, metadata: Sequence[str]
                         ) -> list[Document]:
    out = []
    for n, rec in enumerate(records, 1):
        if text_field:
            value = _select(rec, text_field, f"{shown} record {n}")
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        else:
            text = rec if isinstance(rec, str) else json.dumps(rec, ensure_ascii=False, indent=1)
        meta: dict[str, Any] = {"source": shown, "row": n}
        for field in metadata:
            meta[field] = _scalar(_select(rec, field, f"{shown} record {n}"))
        out.append(Document(text, meta))
    return out


_DROP = ("script", "style", "noscript", "template", "svg", "nav", "footer", "header", "aside", "form", "iframe")


def html_to_text(html: str | bytes) -> tuple[str, str]:
    """(title, readable text) of an HTML page: boilerplate dropped, blocks on their own lines."""
    from bs4 import BeautifulSoup  # noqa: PLC0415 - heavy SDK: loaded on first use

    soup = BeautifulSoup(html, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup(_DROP):
        tag.decompose()
    root = soup.find("main") or soup.find("article") or soup.body or soup
    lines = [line.strip() for line in root.get_text("\n").splitlines()]
    text, blank = [], False
    for line in lines:
        if line:
            text.append(line)
            blank = False
        elif not blank and text:
            text.append("")
            blank = True
    return title, "\n".join(text).strip()


Reader = Callable[[Path, str], list[Document]]


def _office(name: str) -> Reader:
    def read(path: Path, shown: str) -> list[Document]:
        from nodes.support import office  # noqa: PLC0415 - the office readers load only for office files

        reader: Reader = getattr(office, name)
        return reader(path, shown)
    return read


BY_SUFFIX: dict[str, Reader] = {
    ".pdf": lambda p, s: read_pdf(p, s),
    ".csv": lambda p, s: read_csv(p, s),
    ".json": lambda p, s: read_json(p, s),
    ".jsonl": lambda p, s: read_json(p, s),
    ".ndjson": lambda p, s: read_json(p, s),
    ".docx": _office("read_docx"),
    ".pptx": _office("read_pptx"),
    ".xlsx": _office("read_xlsx"),
    ".xlsm": _office("read_xlsx"),
}
# formats with no reader of our own: only `unstructured` (the documents extra) reads them
UNSTRUCTURED_ONLY = frozenset((".doc", ".ppt", ".xls", ".odt", ".odp", ".ods", ".rtf", ".epub", ".msg", ".eml",
                               ".pages", ".key", ".numbers"))
_SNIFF = 4096


def no_reader(path: Path, shown: str) -> LoadError:
    return LoadError(f"'{shown}' is a {path.suffix.lower()} file, which has no built-in reader",
                     hint="save it as .docx, .pptx, .xlsx or .pdf, or pip install 'chainloom[documents]' "
                          "(unstructured) and load it with loader.auto")


def read_any(path: Path, shown: str, encoding: str = "utf-8") -> list[Document]:
    """Pick a reader by extension; other files are read as text unless they look binary."""
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        title, text = html_to_text(read_bytes(path, shown))
        return [Document(text, {"source": shown, "title": title})]
    reader = BY_SUFFIX.get(suffix)
    if reader:
        return reader(path, shown)
    if suffix in UNSTRUCTURED_ONLY:
        raise no_reader(path, shown)
    data = read_bytes(path, shown)
    if b"\x00" in data[:_SNIFF] and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise LoadError(f"'{shown}' looks like a binary file, not text (it holds NUL bytes)",
                        hint="exclude it with the glob, or convert it to text, PDF or an office format")
    return [Document(decode(data, shown, encoding), {"source": shown})]
