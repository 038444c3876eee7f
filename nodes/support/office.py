"""Office files to Documents, each by its own small reader: DOCX (python-docx), PPTX
(python-pptx), XLSX (openpyxl, read-only, values not formulas).

The readers are the `office` extra; when one is missing the error names the package
and the extra to install. Nothing here prints, downloads or runs macros.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

from nodes.support.documents import Document
from nodes.support.readers import LoadError

EXTRA = "office"
MAX_ROWS = 100_000


def _need(module: str, package: str, shown: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise LoadError(f"'{shown}' needs the {package} package to be read, and it is not installed",
                        hint=f"pip install 'chainloom[{EXTRA}]' (or pip install {package})") from err


def _open_error(shown: str, kind: str, err: Exception) -> LoadError:
    return LoadError(f"'{shown}' is not a readable {kind} file: {err}",
                     hint=f"save it again as {kind} (encrypted or older formats cannot be read)")


def read_docx(path: Path, shown: str) -> list[Document]:
    """One Document: paragraphs and table rows in document order, headings as Markdown headers."""
    docx = _need("docx", "python-docx", shown)
    try:
        document = docx.Document(str(path))
    except Exception as err:  # python-docx raises zipfile/KeyError/ValueError for broken files
        raise _open_error(shown, "DOCX", err) from err
    lines: list[str] = []
    body = document.element.body
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            lines.append(_paragraph_text(docx, child, document))
        elif tag == "tbl":
            table = docx.table.Table(child, document)
            lines.extend(" | ".join(cell.text.strip() for cell in row.cells) for row in table.rows)
    text = "\n".join(line for line in lines if line.strip())
    meta: dict[str, Any] = {"source": shown}
    title = (document.core_properties.title or "").strip()
    if title:
        meta["title"] = title
    return [Document(text, meta)]


def _paragraph_text(docx: ModuleType, element: Any, document: Any) -> str:
    paragraph = docx.text.paragraph.Paragraph(element, document)
    text = str(paragraph.text).strip()
    style = str((paragraph.style.name if paragraph.style is not None else "") or "")
    if text and style.startswith("Heading "):
        level = style.removeprefix("Heading ").strip()
        if level.isdigit():
            return "#" * min(int(level), 6) + " " + text
    if text and style == "Title":
        return "# " + text
    return text


def read_pptx(path: Path, shown: str) -> list[Document]:
    """One Document per slide (metadata `page` = slide number): its shapes' text, then its notes."""
    pptx = _need("pptx", "python-pptx", shown)
    try:
        deck = pptx.Presentation(str(path))
    except Exception as err:
        raise _open_error(shown, "PPTX", err) from err
    out: list[Document] = []
    for number, slide in enumerate(deck.slides, 1):
        parts = [_shape_text(shape) for shape in slide.shapes]
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            parts.append(slide.notes_slide.notes_text_frame.text)
        text = "\n".join(p.strip() for p in parts if p and p.strip())
        if text:
            out.append(Document(text, {"source": shown, "page": number}))
    return out


def _shape_text(shape: Any) -> str:
    if getattr(shape, "has_text_frame", False):
        return str(shape.text_frame.text)
    if getattr(shape, "has_table", False):
        return "\n".join(" | ".join(cell.text.strip() for cell in row.cells) for row in shape.table.rows)
    if shape.shape_type is not None and hasattr(shape, "shapes"):  # a group
        return "\n".join(_shape_text(s) for s in shape.shapes)
    return ""


def read_xlsx(path: Path, shown: str) -> list[Document]:
    """One Document per worksheet (metadata `sheet`): its rows as `a | b | c` lines of cell values
    (a formula gives the value the spreadsheet program last saved; none if it never computed one)."""
    openpyxl = _need("openpyxl", "openpyxl", shown)
    try:
        book = openpyxl.load_workbook(str(path), read_only=True, data_only=True)
    except Exception as err:
        raise _open_error(shown, "XLSX", err) from err
    out: list[Document] = []
    try:
        for sheet in book.worksheets:
            lines = []
            for n, row in enumerate(sheet.iter_rows(values_only=True), 1):
                if n > MAX_ROWS:
                    raise LoadError(f"'{shown}' sheet '{sheet.title}' has over {MAX_ROWS} rows",
                                    hint="export the sheet as CSV and use loader.csv")
                cells = ["" if v is None else str(v) for v in row]
                while cells and not cells[-1]:
                    cells.pop()
                if cells:
                    lines.append(" | ".join(cells))
            if lines:
                out.append(Document("\n".join(lines), {"source": shown, "sheet": sheet.title}))
    finally:
        book.close()
    return out
