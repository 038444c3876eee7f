"""Document loaders: files, folders, PDFs, CSV, JSON/JSONL, web pages and SQL queries.

Every loader outputs Documents whose metadata names their `source` (a path
relative to its allowed folder, a URL, or the query) plus `page`/`row`/`sheet` where that
applies. File paths resolve inside the allowed folders (nodes/support/paths.py); web pages
are fetched through nodes/support/safe_http.py; SQL runs read-only, one statement, capped.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from typing import Any, Literal

from pydantic import Field

from engine.context import RunContext
from engine.fields import Where
from engine.node import NodeConfig, NodeSpec, SecretRef, node
from engine.ports import Port, PortType
from nodes.support import readers
from nodes.support.documents import Document
from nodes.support.paths import display, glob_in_root, resolve_path
from nodes.support.readers import LoadError

_OUT = (Port("documents", PortType.DOCUMENTS, "The loaded documents."),)
Encoding = Field("utf-8", max_length=40, description="Text encoding, or 'auto' to guess.")


class TextConfig(NodeConfig):
    path: str = Where(kind="path", default="notes.txt", min_length=1, max_length=4096,
                      description="File path, relative to the allowed folder.")
    encoding: str = Encoding


def _path_in(field: str) -> tuple[Port, ...]:
    return (Port("path", PortType.TEXT, f"Overrides the configured {field}.", required=False),)


def _given_path(config: Any, inputs: dict[str, Any]) -> str:
    given = inputs.get("path")
    return given.strip() if isinstance(given, str) and given.strip() else str(config.path)


@node("loader.text", title="Text file", config=TextConfig, inputs=_path_in("file"), outputs=_OUT,
      cacheable=False, description="Reads one text or markdown file into a document.")
def text_node(config: TextConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    path = resolve_path(_given_path(config, inputs))
    return {"documents": readers.read_text(path, display(path), config.encoding)}


class DirectoryConfig(NodeConfig):
    path: str = Where(kind="path", default="docs", min_length=1, max_length=4096,
                      description="Folder, relative to the allowed folder.")
    glob: str = Where(kind="path", default="**/*", min_length=1, max_length=500,
                      description="Which files to load, e.g. '**/*.md' ('**' recurses).")
    exclude: list[str] = Where(kind="path", default=[], max_length=100,
                               description="Glob patterns (relative to the folder) to skip.")
    encoding: str = Encoding
    max_files: int = Field(10_000, ge=1, le=100_000, description="Refuse folders with more matching files.")
    skip_errors: bool = Field(False, description="Skip unreadable files (reported in the trace) instead of failing.")


@node("loader.directory", title="Folder of files", config=DirectoryConfig, inputs=_path_in("folder"),
      outputs=_OUT, cacheable=False,
      description="Loads every matching file in a folder: text, markdown, PDF, CSV, JSON, HTML.")
def directory_node(config: DirectoryConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    raw = _given_path(config, inputs)
    folder = resolve_path(raw)
    if not folder.is_dir():
        raise LoadError(f"config field 'path': '{raw}' is not a folder",
                        hint="give a folder inside the allowed folder (CHAINLOOM_FILES_ROOT or the working directory)")
    files = glob_in_root(config.glob, root=folder, field="glob")
    files = [f for f in files if not any(f.relative_to(folder).match(p) for p in config.exclude)]
    if len(files) > config.max_files:
        raise LoadError(f"'{raw}/{config.glob}' matches {len(files)} files, over max_files "
                        f"({config.max_files})", hint="narrow the glob or raise max_files")
    docs: list[Document] = []
    for f in files:
        if ctx.cancelled:
            break
        try:
            docs.extend(readers.read_any(f, display(f), config.encoding))
        except LoadError as err:
            if not config.skip_errors:
                raise
            ctx.step("skipped", file=display(f), error=str(err))
    ctx.step("loaded", files=len(files), documents=len(docs))
    return {"documents": docs}


class PdfConfig(NodeConfig):
    path: str = Where(kind="path", default="document.pdf", min_length=1, max_length=4096, description="PDF path.")
    per_page: bool = Field(True, description="One document per page (metadata 'page'); else one per file.")
    password_env: str = SecretRef("", description="Variable holding the password of an encrypted PDF.")


@node("loader.pdf", title="PDF", config=PdfConfig, outputs=_OUT, cacheable=False,
      description="Extracts the text of a PDF, page by page.")
def pdf_node(config: PdfConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    path = resolve_path(config.path)
    password = ctx.secret(config.password_env, field="password_env") if config.password_env else ""
    return {"documents": readers.read_pdf(path, display(path), password, per_page=config.per_page)}


class CsvConfig(NodeConfig):
    path: str = Where(kind="path", default="table.csv", min_length=1, max_length=4096, description="CSV path.")
    content_columns: list[str] = Field([], max_length=200,
                                       description="Columns that make the text (empty: all but metadata ones).")
    metadata_columns: list[str] = Field([], max_length=200, description="Columns copied into metadata.")
    delimiter: str = Field(",", min_length=1, max_length=1, description="Field separator.")
    encoding: str = Encoding


@node("loader.csv", title="CSV", config=CsvConfig, outputs=_OUT, cacheable=False,
      description="One document per row ('column: value' lines), row number in metadata.")
def csv_node(config: CsvConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    path = resolve_path(config.path)
    return {"documents": readers.read_csv(path, display(path), content=config.content_columns,
                                          metadata=config.metadata_columns, delimiter=config.delimiter,
                                          encoding=config.encoding)}


class JsonConfig(NodeConfig):
    path: str = Where(kind="path", default="data.json", min_length=1, max_length=4096,
                      description="JSON or JSONL path.")
    records_path: str = Field("", max_length=500, description="Dot path to the list of records, e.g. 'data.items'.")
    text_field: str = Field("", max_length=500, description="Dot path of the text in a record (empty: whole record).")
    metadata_fields: list[str] = Field([], max_length=200, description="Dot paths copied into metadata.")
    format: Literal["auto", "json", "jsonl"] = Field("auto", description="'auto' goes by the file extension.")


@node("loader.json", title="JSON / JSONL", config=JsonConfig, outputs=_OUT, cacheable=False,
      description="One document per record, with field selection for text and metadata.")
def json_node(config: JsonConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    path = resolve_path(config.path)
    lines = None if config.format == "auto" else config.format == "jsonl"
    return {"documents": readers.read_json(path, display(path), records_path=config.records_path,
                                           text_field=config.text_field, metadata=config.metadata_fields,
                                           lines=lines)}


class UrlConfig(NodeConfig):
    url: str = Where(kind="url", default="https://example.com/", min_length=1, max_length=2000,
                     description="http(s) URL; private and internal addresses are refused.")
    max_bytes: int = Field(5 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024, description="Largest body accepted.")
    timeout: float = Field(20.0, gt=0, le=300, description="Seconds for the whole fetch, redirects included.")
    max_redirects: int = Field(5, ge=0, le=20, description="Redirects followed (each one is checked).")


@node("loader.url", title="Web page", config=UrlConfig, cacheable=False,
      inputs=(Port("url", PortType.TEXT, "Overrides the configured URL.", required=False),), outputs=_OUT,
      description="Fetches a web page safely and extracts its readable text.")
def url_node(config: UrlConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    from nodes.support.safe_http import FetchFailed, FetchPolicy, fetch  # noqa: PLC0415

    url = (inputs.get("url") or config.url).strip()
    result = fetch(url, policy=FetchPolicy(max_bytes=config.max_bytes, timeout=config.timeout,
                                           max_redirects=config.max_redirects))
    if result.status >= 400:
        raise FetchFailed(f"'{result.url}' answered HTTP {result.status}")
    meta: dict[str, Any] = {"source": result.url, "content_type": result.content_type}
    if result.content_type in ("text/html", "application/xhtml+xml") or result.content.lstrip()[:1] == b"<":
        title, text = readers.html_to_text(result.content)
        meta["title"] = title
    else:
        text = result.text()
    return {"documents": [Document(text, meta)]}


class SqlConfig(NodeConfig):
    url: str = Where(kind="database", default="sqlite:///data.db", min_length=1, max_length=2000,
                     description="SQLAlchemy URL; a sqlite path resolves inside the allowed folder.")
    url_env: str = SecretRef("", description="Variable holding the URL instead (when it has a password).")
    password_env: str = SecretRef("", description="Variable holding the database password; `url` is written "
                                  "without it (postgresql://app@db/shop) and the password is put in on connect.")
    query: str = Field("SELECT 1 AS value", min_length=1, max_length=20_000, description="One SELECT statement.")
    content_columns: list[str] = Field([], max_length=200, description="Columns that make the text (empty: all).")
    metadata_columns: list[str] = Field([], max_length=200, description="Columns copied into metadata.")
    max_rows: int = Field(10_000, ge=1, le=1_000_000, description="Rows read at most.")
    timeout: float = Field(30.0, gt=0, le=600, description="Seconds the query may run.")


_READ_ONLY_START = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)


@node("loader.sql", title="SQL query", config=SqlConfig, cacheable=False,
      outputs=_OUT, description="Runs one read-only SELECT and makes a document per row.")
def sql_node(config: SqlConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    from nodes.support.sql_database import ReadOnlyDatabase  # noqa: PLC0415
    from nodes.support.sql_readonly import with_password  # noqa: PLC0415

    url = ctx.secret(config.url_env, field="url_env") if config.url_env else config.url
    if config.password_env:
        url = with_password(url, ctx.secret(config.password_env, field="password_env"))
    if not _READ_ONLY_START.match(config.query):
        raise LoadError("config field 'query' must be a single SELECT (or WITH ... SELECT) statement")
    db = ReadOnlyDatabase(url, max_rows=config.max_rows, timeout=config.timeout)
    ctx.on_stop(db.interrupt)  # a node or run time limit stops the query itself
    try:
        rows = db.query(config.query).as_dicts()
    finally:
        db.close()
    shown = "sql:" + config.query.strip()[:200]
    return {"documents": readers.rows_to_documents(rows, shown, config.content_columns,
                                                   config.metadata_columns)}


class AutoConfig(NodeConfig):
    path: str = Where(kind="path", default="docs", min_length=1, max_length=4096, description="A file or a folder.")
    glob: str = Where(kind="path", default="**/*", min_length=1, max_length=500,
                      description="For a folder: which files.")
    use_unstructured: bool = Field(True, description="For formats without a built-in reader (.doc, .ppt, "
                                   ".rtf, .epub, .odt, ...): use `unstructured` when it is installed (the "
                                   "documents extra). PDF, HTML, DOCX, PPTX and XLSX never go through it.")


@node("loader.auto", title="Any file (auto-detect)", config=AutoConfig, outputs=_OUT, cacheable=False,
      description="Detects each file's type: PDF by pypdf, HTML by BeautifulSoup, DOCX/PPTX/XLSX by "
      "python-docx, python-pptx and openpyxl (the office extra), text formats directly; other formats "
      "through `unstructured` when installed (offline, quietly).")
def auto_node(config: AutoConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    target = resolve_path(config.path)
    files = glob_in_root(config.glob, root=target) if target.is_dir() else [target]
    docs: list[Document] = []
    for f in files:
        shown = display(f)
        if f.suffix.lower() in readers.UNSTRUCTURED_ONLY and config.use_unstructured:
            partition = _unstructured()
            if partition is None:
                raise readers.no_reader(f, shown)
            docs.append(Document(_quietly(partition, f), {"source": shown, "loader": "unstructured"}))
        else:
            docs.extend(readers.read_any(f, shown))
    return {"documents": docs}


# unstructured's optional telemetry and model downloads stay off: everything runs offline
_OFFLINE_ENV = {"SCARF_NO_ANALYTICS": "true", "DO_NOT_TRACK": "true", "HF_HUB_OFFLINE": "1",
                "TRANSFORMERS_OFFLINE": "1", "UNSTRUCTURED_DISABLE_TELEMETRY": "true"}


def _quietly(partition: Any, path: Any) -> str:
    """Text of `path` by unstructured, with anything it prints kept off stdout and stderr."""
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        elements = partition(filename=str(path))
    return "\n\n".join(str(e) for e in elements)


def _unstructured() -> Any:
    for key, value in _OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            from unstructured.partition.auto import partition  # type: ignore[import-not-found]  # noqa: PLC0415 - heavy SDK: loaded on first use
    except ImportError:
        return None
    return partition


SPECS: tuple[NodeSpec, ...] = (text_node, directory_node, pdf_node, csv_node, json_node, url_node,
                               sql_node, auto_node)
