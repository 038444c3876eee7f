"""Loaders on files made in the test: text, folder, PDF (plain and encrypted), CSV, JSON, URL, SQL."""

from __future__ import annotations

import io
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader, PdfWriter

from nodes.support.documents import Document
from nodes.support.safe_http import allow_loopback_for_tests
from tests.fakes.web_server import FakeWebServer
from tests.nodes.flowkit import make_flow, run


def make_pdf(pages: list[str]) -> bytes:
    """A minimal PDF with one line of Helvetica text per page, written by hand."""
    objs: list[bytes] = []
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(len(pages)))
    objs.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objs.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    font = 3 + 2 * len(pages)
    for i, text in enumerate(pages):
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
        objs.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
                    f"/Resources << /Font << /F1 {font} 0 R >> >> >>".encode())
        objs.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = io.BytesIO(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objs, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % n + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref))
    return out.getvalue()


def load(node_type: str, config: dict[str, Any], inputs: dict[str, Any] | None = None) -> Any:
    nodes: dict[str, tuple[str, dict[str, Any]]] = {"load": (node_type, config),
                                                    "out": ("output.json", {"name": "docs"})}
    result = run(make_flow(nodes, [("load.documents", "out.value")]), inputs or {})
    return result


def docs_of(result: Any) -> list[dict[str, Any]]:
    assert result.status == "succeeded", result.error
    return result.outputs["docs"]


@pytest.fixture(autouse=True)
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CHAINLOOM_FILES_ROOT", str(tmp_path))
    monkeypatch.setenv("CHAINLOOM_HOME", str(tmp_path / ".home"))
    return tmp_path


def test_text_file_and_its_errors(root: Path) -> None:
    (root / "a.txt").write_text("hello there", encoding="utf-8")
    (root / "bad.txt").write_bytes(b"caf\xe9 au lait")
    assert docs_of(load("loader.text", {"path": "a.txt"})) == [
        {"id": "", "text": "hello there", "metadata": {"source": "a.txt"}}]
    missing = load("loader.text", {"path": "nope.txt"})
    assert f"'nope.txt' does not exist (looked for {root / 'nope.txt'}, " in str(missing.error)
    assert f"allowed folders: {root}, {Path.cwd().resolve()}" in str(missing.error)
    bad = load("loader.text", {"path": "bad.txt"})
    assert "'bad.txt' is not valid utf-8 (byte 3" in str(bad.error) and "encoding" in str(bad.error)
    assert docs_of(load("loader.text", {"path": "bad.txt", "encoding": "latin-1"}))[0]["text"] == "café au lait"


def test_paths_cannot_escape_the_root(root: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.txt").write_text("top secret")
    os.symlink(outside / "secret.txt", root / "link.txt")
    for path in ("../outside/secret.txt", str(outside / "secret.txt"), "link.txt"):
        result = load("loader.text", {"path": path})
        assert result.status == "failed" and "outside the allowed folders: " in str(result.error), path
        resolved = (root / path).resolve() if path.startswith("..") else (outside / "secret.txt").resolve()
        assert f"(resolved to {resolved}) is outside" in str(result.error), path
    globbed = load("loader.directory", {"path": ".", "glob": "../**/*.txt"})
    assert "may not contain '..'" in str(globbed.error)


def test_directory_glob_loads_each_type(root: Path) -> None:
    (root / "docs" / "sub").mkdir(parents=True)
    (root / "docs" / "a.md").write_text("# A\n\nalpha")
    (root / "docs" / "sub" / "b.txt").write_text("beta")
    (root / "docs" / "sub" / "c.pdf").write_bytes(make_pdf(["gamma page"]))
    (root / "docs" / "skip.log").write_text("no")
    docs = docs_of(load("loader.directory", {"path": "docs", "glob": "**/*.[mtp][dxd]*"}))
    assert [(d["metadata"]["source"], d["text"].strip()) for d in docs] == [
        ("docs/a.md", "# A\n\nalpha"), ("docs/sub/b.txt", "beta"), ("docs/sub/c.pdf", "gamma page")]
    overridden = docs_of(load("loader.directory", {"path": "docs", "glob": "*.md"}, {}))
    assert len(overridden) == 1


def test_pdf_pages_and_encryption(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (root / "r.pdf").write_bytes(make_pdf(["First page text", "Second page text"]))
    docs = docs_of(load("loader.pdf", {"path": "r.pdf"}))
    assert [(d["text"], d["metadata"]["page"], d["metadata"]["pages"]) for d in docs] == [
        ("First page text", 1, 2), ("Second page text", 2, 2)]
    writer = PdfWriter(clone_from=PdfReader(root / "r.pdf"))
    writer.encrypt("s3cret-pw", algorithm="AES-128")
    with (root / "locked.pdf").open("wb") as fh:
        writer.write(fh)
    locked = load("loader.pdf", {"path": "locked.pdf"})
    assert "PDF 'locked.pdf' is encrypted" in str(locked.error) and "password_env" in str(locked.error)
    monkeypatch.setenv("PDF_PW", "s3cret-pw")
    opened = docs_of(load("loader.pdf", {"path": "locked.pdf", "password_env": "PDF_PW"}))
    assert opened[0]["text"] == "First page text"
    (root / "fake.pdf").write_bytes(b"not a pdf at all")
    assert "is not a readable PDF" in str(load("loader.pdf", {"path": "fake.pdf"}).error)


def test_csv_rows(root: Path) -> None:
    (root / "t.csv").write_text("name,price,team\nKettle,35,shop\nGrinder,120,shop\n")
    docs = docs_of(load("loader.csv", {"path": "t.csv", "metadata_columns": ["team"]}))
    assert docs[0] == {"id": "", "text": "name: Kettle\nprice: 35",
                       "metadata": {"source": "t.csv", "row": 1, "team": "shop"}}
    one = docs_of(load("loader.csv", {"path": "t.csv", "content_columns": ["name"]}))
    assert [d["text"] for d in one] == ["Kettle", "Grinder"]
    bad = load("loader.csv", {"path": "t.csv", "content_columns": ["colour"]})
    assert "row 1 has no column 'colour'" in str(bad.error)


def test_json_and_jsonl_field_selection(root: Path) -> None:
    (root / "d.json").write_text(json.dumps({"data": {"items": [
        {"body": "first", "meta": {"author": "ann"}}, {"body": "second", "meta": {"author": "bo"}}]}}))
    docs = docs_of(load("loader.json", {"path": "d.json", "records_path": "data.items", "text_field": "body",
                                        "metadata_fields": ["meta.author"]}))
    assert [(d["text"], d["metadata"]["meta.author"], d["metadata"]["row"]) for d in docs] == [
        ("first", "ann", 1), ("second", "bo", 2)]
    (root / "d.jsonl").write_text('{"t": "x"}\n\n{"t": "y"}\n')
    assert [d["text"] for d in docs_of(load("loader.json", {"path": "d.jsonl", "text_field": "t"}))] == ["x", "y"]
    (root / "broken.json").write_text('{"a": [1, 2,,]}')
    assert "not valid JSON" in str(load("loader.json", {"path": "broken.json"}).error)
    missing = load("loader.json", {"path": "d.json", "records_path": "data.nothing"})
    assert "path 'data.nothing' not found" in str(missing.error)


def test_url_loader_extracts_text_and_refuses_internal(root: Path) -> None:
    page = (b"<html><head><title>Shipping</title><script>var x=1;</script></head><body><nav>menu</nav>"
            b"<main><h1>Delivery</h1><p>Parcels ship on Mondays.</p></main></body></html>")
    with FakeWebServer({"/p": (200, {"content-type": "text/html"}, page),
                        "/r": (302, {"location": "http://169.254.169.254/latest/"}, b"")}) as server:
        with allow_loopback_for_tests(server.port):
            docs = docs_of(load("loader.url", {"url": server.url + "/p"}))
            redirected = load("loader.url", {"url": server.url + "/r"})
        refused = load("loader.url", {"url": server.url + "/p"})
    assert docs[0]["text"] == "Delivery\nParcels ship on Mondays."
    assert docs[0]["metadata"]["title"] == "Shipping"
    assert "169.254.169.254" in str(redirected.error) and "link-local" in str(redirected.error)
    assert "loopback" in str(refused.error)


def test_sql_is_read_only(root: Path) -> None:
    with sqlite3.connect(root / "shop.db") as conn:
        conn.execute("CREATE TABLE items (name TEXT, price INT)")
        conn.executemany("INSERT INTO items VALUES (?, ?)", [("kettle", 35), ("grinder", 120)])
    docs = docs_of(load("loader.sql", {"url": "sqlite:///shop.db", "query": "SELECT name, price FROM items "
                                       "ORDER BY price", "metadata_columns": ["price"]}))
    assert [(d["text"], d["metadata"]["price"]) for d in docs] == [("kettle", 35), ("grinder", 120)]
    for query in ("DELETE FROM items", "SELECT 1; DROP TABLE items",
                  "WITH x AS (SELECT 1) DELETE FROM items"):
        assert load("loader.sql", {"url": "sqlite:///shop.db", "query": query}).status == "failed"
    with sqlite3.connect(root / "shop.db") as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 2
    escape = load("loader.sql", {"url": "sqlite:///../x.db", "query": "SELECT 1"})
    assert "outside the allowed folder" in str(escape.error)


def test_document_preview_is_small() -> None:
    doc = Document("x" * 1000, {"source": "a"}, id="1")
    assert len(doc.to_preview()["text"]) == 301


def _file_flow() -> Any:
    from engine.flow import parse_flow
    return parse_flow({"schema_version": 1, "id": "f", "nodes": [
        {"id": "f", "type": "input.file", "config": {"name": "file"}},
        {"id": "o", "type": "output.text", "config": {"name": "text"}},
        {"id": "p", "type": "output.text", "config": {"name": "path"}}],
        "edges": [{"from": "f.text", "to": "o.value"}, {"from": "f.path", "to": "p.value"}]})


def test_file_input_reads_a_file_inside_the_allowed_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.runner import Runner
    from nodes.registry import default_registry
    monkeypatch.setenv("CHAINLOOM_FILES_ROOT", str(tmp_path))
    (tmp_path / "notes.md").write_text("# Notes\n\nThe kettle is blue.\n")
    result = Runner(default_registry()).run(_file_flow(), {"file": "notes.md"})
    assert result.status == "succeeded", result.error
    assert "The kettle is blue." in result.outputs["text"]
    assert result.outputs["path"].endswith("notes.md")


def test_file_input_refuses_paths_outside_the_allowed_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.runner import Runner
    from nodes.registry import default_registry
    monkeypatch.setenv("CHAINLOOM_FILES_ROOT", str(tmp_path / "root"))
    (tmp_path / "root").mkdir()
    (tmp_path / "secret.txt").write_text("no")
    result = Runner(default_registry()).run(_file_flow(), {"file": "../secret.txt"})
    assert result.status == "failed"
    assert "is outside the allowed folder" in str(result.error)
    missing = Runner(default_registry()).run(_file_flow(), {"file": "nope.txt"})
    assert str(missing.error).startswith("node 'f' (input.file) failed: flow input 'file': 'nope.txt' does not "
                                         f"exist (looked for {tmp_path / 'root' / 'nope.txt'}, ")


def test_a_utf8_byte_order_mark_is_not_text(root: Path) -> None:
    (root / "bom.md").write_bytes(b"\xef\xbb\xbf# First\nbody\n")
    nodes: dict[str, tuple[str, dict[str, Any]]] = {
        "load": ("loader.text", {"path": "bom.md"}), "split": ("splitter.markdown", {"levels": [1]}),
        "out": ("output.json", {"name": "docs"})}
    result = run(make_flow(nodes, [("load.documents", "split.documents"), ("split.documents", "out.value")]))
    assert [(d["text"], d["metadata"]["h1"]) for d in docs_of(result)] == [("# First\nbody", "First")]


def test_several_allowed_folders(root: Path, tmp_path_factory: pytest.TempPathFactory,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from nodes.support.paths import examples_dir, files_roots

    first, second = tmp_path_factory.mktemp("first"), tmp_path_factory.mktemp("second")
    (second / "notes.txt").write_text("from the second folder")
    (first / "both.txt").write_text("first wins")
    (second / "both.txt").write_text("second loses")
    monkeypatch.setenv("CHAINLOOM_FILES_ROOT", os.pathsep.join([str(first), str(second)]))
    assert files_roots() == [first.resolve(), second.resolve(), Path.cwd().resolve(), examples_dir().resolve()]
    assert docs_of(load("loader.text", {"path": "notes.txt"}))[0]["text"] == "from the second folder"
    assert docs_of(load("loader.text", {"path": "both.txt"}))[0]["text"] == "first wins"
    absolute = docs_of(load("loader.text", {"path": str(second / "notes.txt")}))
    assert absolute[0]["metadata"]["source"] == "notes.txt"
    # the bundled examples' sample data is found from anywhere
    assert docs_of(load("loader.text", {"path": "data/handbook/faq.md"}))[0]["metadata"]["source"] == \
        "data/handbook/faq.md"


# ---------------------------------------------------------------- loader.auto and office files
def make_docx(path: Path) -> None:
    docx = pytest.importorskip("docx")
    document = docx.Document()
    document.core_properties.title = "Returns policy"
    document.add_heading("Returns", level=1)
    document.add_paragraph("Grinders can be returned within 60 days.")
    table = document.add_table(rows=2, cols=2)
    for r, row in enumerate([["Item", "Days"], ["Grinder", "60"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph("Ask support for a label.")
    document.save(str(path))


def make_pptx(path: Path) -> None:
    pptx = pytest.importorskip("pptx")
    from pptx.util import Inches

    deck = pptx.Presentation()
    for title, body in [("Roadmap", "Ship the grinder in May"), ("Team", "Ada and Grace")]:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
    deck.slides[1].notes_slide.notes_text_frame.text = "Mention hiring."
    shape = deck.slides[0].shapes.add_table(1, 2, Inches(1), Inches(5), Inches(4), Inches(1))
    shape.table.cell(0, 0).text, shape.table.cell(0, 1).text = "Q2", "beta"
    deck.save(str(path))


def make_xlsx(path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Prices"
    for row in [["Item", "Price"], ["Grinder", 120], ["Kettle", None]]:
        sheet.append(row)
    book.create_sheet("Empty")
    formulas = book.create_sheet("Totals")
    formulas.append(["Total", "=SUM(Prices!B2:B3)"])
    book.save(str(path))


def test_loader_auto_reads_each_office_format_with_its_own_reader(root: Path) -> None:
    (root / "docs").mkdir()
    make_docx(root / "docs" / "policy.docx")
    make_pptx(root / "docs" / "deck.pptx")
    make_xlsx(root / "docs" / "prices.xlsx")
    (root / "docs" / "page.html").write_text("<html><head><title>T</title></head><body><nav>menu</nav>"
                                            "<main><h1>Hello</h1><p>World</p></main></body></html>")
    (root / "docs" / "paper.pdf").write_bytes(make_pdf(["first page", "second page"]))
    docs = docs_of(load("loader.auto", {"path": "docs"}))
    got = [(d["metadata"]["source"], {k: v for k, v in d["metadata"].items() if k != "source"}, d["text"])
           for d in docs]
    assert got == [
        ("docs/deck.pptx", {"page": 1}, "Roadmap\nShip the grinder in May\nQ2 | beta"),
        ("docs/deck.pptx", {"page": 2}, "Team\nAda and Grace\nMention hiring."),
        ("docs/page.html", {"title": "T"}, "Hello\nWorld"),
        ("docs/paper.pdf", {"page": 1, "pages": 2}, "first page"),
        ("docs/paper.pdf", {"page": 2, "pages": 2}, "second page"),
        ("docs/policy.docx", {"title": "Returns policy"},
         "# Returns\nGrinders can be returned within 60 days.\nItem | Days\nGrinder | 60\nAsk support for a label."),
        ("docs/prices.xlsx", {"sheet": "Prices"}, "Item | Price\nGrinder | 120\nKettle"),
        ("docs/prices.xlsx", {"sheet": "Totals"}, "Total"),  # a formula never computed by a spreadsheet has no value
    ]


def test_formats_without_a_reader_say_which_extra_to_install(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    (root / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 100)
    monkeypatch.setitem(sys.modules, "unstructured", None)  # not installed
    monkeypatch.setitem(sys.modules, "unstructured.partition", None)
    monkeypatch.setitem(sys.modules, "unstructured.partition.auto", None)
    result = load("loader.auto", {"path": "old.doc"})
    assert "'old.doc' is a .doc file, which has no built-in reader" in str(result.error)
    assert "pip install 'chainloom[documents]'" in str(result.error)
    (root / "blob.bin").write_bytes(b"\x00\x01\x02binary")
    assert "'blob.bin' looks like a binary file" in str(load("loader.auto", {"path": "blob.bin"}).error)
    make_docx(root / "p.docx")
    monkeypatch.setitem(sys.modules, "docx", None)
    missing = load("loader.auto", {"path": "p.docx"})
    assert "'p.docx' needs the python-docx package to be read" in str(missing.error)
    assert "pip install 'chainloom[office]'" in str(missing.error)


def test_unstructured_is_used_quietly_and_only_where_there_is_no_reader(
        root: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    import sys
    import types

    calls: list[str] = []

    def partition(filename: str) -> list[str]:
        print("*** advertising banner ***")
        print("warning on stderr", file=sys.stderr)
        calls.append(Path(filename).name)
        return ["Rich text body", "second element"]

    auto = types.ModuleType("unstructured.partition.auto")
    auto.partition = partition  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "unstructured", types.ModuleType("unstructured"))
    monkeypatch.setitem(sys.modules, "unstructured.partition", types.ModuleType("unstructured.partition"))
    monkeypatch.setitem(sys.modules, "unstructured.partition.auto", auto)
    (root / "in").mkdir()
    (root / "in" / "memo.rtf").write_text("{\\rtf1 Rich text body}")
    (root / "in" / "paper.pdf").write_bytes(make_pdf(["pdf text"]))
    (root / "in" / "page.html").write_text("<p>html text</p>")
    capfd.readouterr()
    docs = docs_of(load("loader.auto", {"path": "in"}))
    assert calls == ["memo.rtf"]  # PDF and HTML keep their own readers
    assert [(d["metadata"]["source"], d["text"]) for d in docs] == [
        ("in/memo.rtf", "Rich text body\n\nsecond element"), ("in/page.html", "html text"),
        ("in/paper.pdf", "pdf text")]
    out, err = capfd.readouterr()
    assert "banner" not in out and "warning on stderr" not in err
    assert os.environ.get("SCARF_NO_ANALYTICS") == "true" and os.environ.get("HF_HUB_OFFLINE") == "1"
