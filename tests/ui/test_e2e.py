"""End to end in a real browser: Debian's chromium driven by Playwright.

Starts `chainloom ui` in a temporary project folder (with notes under docs/) and a
temporary CHAINLOOM_HOME, and, from an empty canvas, builds the 9-node RAG flow
only by dragging from the palette and between port handles (add + connect: a
connection dropped on empty canvas, then the node picked from the filtered
palette). Every user action is counted and the count printed. Then: an
incompatible drop is refused with its reason, a reload mid-edit restores the
draft, keyboard delete with undo/redo, save, run with statuses on the nodes,
export, and the exported file run with `chainloom run`. Screenshots of the empty
app, the built flow and the finished run go to tests/artifacts/ui_e2e/; with
CHAINLOOM_UPDATE_DOCS=1 they refresh docs/ (shown in the README) instead, so an
ordinary test run never rewrites tracked files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"{CHROMIUM} is missing (apt-get install -y chromium)")

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
FAILURES = ROOT / "tests" / "artifacts" / "ui_e2e"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
FRAME = 'iframe[title="ui.canvas_component.chainloom_canvas"]'
TIMEOUT = 60_000          # generous per step: the machine may be busy
TARGET_ACTIONS = 20


class Actions:
    """Counts what the user does: each drag, click, key press and field edit is one."""

    def __init__(self) -> None:
        self.log: list[str] = []

    def add(self, what: str) -> None:
        self.log.append(what)

    def __len__(self) -> int:
        return len(self.log)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The user's folder: `chainloom ui` runs here and the loader reads docs/ (its default path)."""
    folder = tmp_path / "project"
    shutil.copytree(ROOT / "flows" / "data" / "handbook", folder / "docs")
    return folder


@pytest.fixture
def server(tmp_path: Path, project: Path) -> Iterator[tuple[str, Path]]:
    from ui.launch import serve, stop

    home = tmp_path / "home"
    env = {"CHAINLOOM_HOME": str(home), "PYTHONPATH": str(ROOT)}
    proc, url = serve(env=env, log=tmp_path / "ui.log", cwd=project, timeout=120)
    try:
        yield url, home
    finally:
        stop(proc)


@pytest.fixture
def page(server: tuple[str, Path], request: pytest.FixtureRequest) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 2560, "height": 1280}, accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT)
        try:
            yield page
            failed = getattr(request.node, "rep_call", None)
            if failed is not None and failed.failed:
                FAILURES.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(FAILURES / "failure.png"))
        finally:
            browser.close()


# ---------------------------------------------------------------- helpers
def frame(page: Any) -> Any:
    return page.frame_locator(FRAME)


def by_id(page: Any, testid: str) -> Any:
    return frame(page).locator(f'[data-testid="{testid}"]')


def center(locator: Any) -> tuple[float, float]:
    box = locator.bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def drag_to(page: Any, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move((start[0] + end[0]) / 2, (start[1] + end[1]) / 2, steps=8)
    page.mouse.move(*end, steps=8)
    page.mouse.up()


def pane_at(page: Any, fx: float, fy: float) -> tuple[float, float]:
    """A point of the canvas pane, as fractions of its width and height."""
    box = frame(page).locator(".react-flow__pane").bounding_box()
    return box["x"] + box["width"] * fx, box["y"] + box["height"] * fy


class Grid:
    """Drop points that put new nodes in cells of a grid around the first node.

    A node added after an output lies right of the drop point, one added before an
    input lies left of it; both 40 px above it (the component's add + connect)."""

    COLUMN, ROW, WIDTH = 290.0, 205.0, 220.0

    def __init__(self, first: Any) -> None:
        box = first.bounding_box()
        self.left, self.top = box["x"], box["y"]

    def cell(self, col: int, row: int) -> tuple[float, float]:
        return self.left + col * self.COLUMN, self.top + row * self.ROW

    def after(self, col: int, row: int) -> tuple[float, float]:
        x, y = self.cell(col, row)
        return x, y + 40

    def before(self, col: int, row: int) -> tuple[float, float]:
        x, y = self.cell(col, row)
        return x + self.WIDTH, y + 40


def handle(page: Any, node: str, side: str, port: str) -> Any:
    return by_id(page, f"handle-{node}-{side}-{port}")


def python_has(page: Any, text: str) -> None:
    """Wait until the page (drawn by Python) shows `text`."""
    page.get_by_text(text).first.wait_for()


def node_count(page: Any, n: int) -> None:
    python_has(page, f"· {n} nodes")


def add_and_connect(page: Any, actions: Actions, node: str, side: str, port: str, drop: tuple[float, float],
                    type_id: str, new_id: str) -> None:
    """Drag from a port handle to empty canvas, then pick the node type in the filtered palette."""
    drag_to(page, center(handle(page, node, side, port)), drop)
    actions.add(f"drag {node}.{port} to empty canvas")
    item = by_id(page, "connect-palette").locator(f'[data-testid="palette-{type_id}"]')
    item.click()
    actions.add(f"pick {type_id}")
    by_id(page, f"node-{new_id}").wait_for()


def connect(page: Any, actions: Actions, source: tuple[str, str], target: tuple[str, str]) -> None:
    drag_to(page, center(handle(page, source[0], "out", source[1])), center(handle(page, target[0], "in", target[1])))
    actions.add(f"connect {source} -> {target}")
    by_id(page, f"edge-{source[0]}.{source[1]}->{target[0]}.{target[1]}").wait_for()


def screenshot(page: Any, name: str) -> None:
    folder = DOCS if os.environ.get("CHAINLOOM_UPDATE_DOCS") == "1" else FAILURES
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / name))


# ---------------------------------------------------------------- the test
def test_build_a_rag_flow_by_dragging_then_save_run_and_export(page: Any, server: tuple[str, Path],
                                                                 project: Path, tmp_path: Path) -> None:
    url, home = server
    actions = Actions()
    page.goto(url)
    by_id(page, "canvas-ready").wait_for(state="attached")
    by_id(page, "card-template:rag").wait_for()
    screenshot(page, "canvas-empty.png")

    # 1. the vector store, dragged from the palette onto the canvas (the first node is centred)
    by_id(page, "palette-family-vectorstore").click()
    actions.add("open the vectorstore family")
    drag_to(page, center(by_id(page, "palette-vectorstore.chroma")), pane_at(page, 0.5, 0.5))
    actions.add("drag Chroma vector store onto the canvas")
    by_id(page, "node-chroma").wait_for()
    grid = Grid(by_id(page, "node-chroma"))

    # 2. the rest, each node added where a connection is dropped on empty canvas; the
    # grid is columns (-2..2) and rows (-1..1) around the first node
    add_and_connect(page, actions, "chroma", "in", "documents", grid.before(-1, 0), "splitter.recursive", "recursive")
    add_and_connect(page, actions, "recursive", "in", "documents", grid.before(-2, 0), "loader.directory",
                    "directory")
    add_and_connect(page, actions, "chroma", "in", "embeddings", grid.before(-1, 1), "embeddings.hashing", "hashing")
    add_and_connect(page, actions, "chroma", "out", "store", grid.after(1, 0), "retriever.vectorstore", "vectorstore")
    add_and_connect(page, actions, "vectorstore", "out", "documents", grid.after(2, 0), "combine.stuff", "stuff")
    add_and_connect(page, actions, "vectorstore", "in", "query", grid.before(0, 1), "input.text", "text")
    # the one config edit: the new input's form is open; it gets a clear name
    name = page.locator('input[aria-label^="Input name"]')
    name.fill("question")
    name.press("Enter")
    actions.add("type the input's name 'question'")
    frame(page).locator('[data-testid="node-text"]', has_text="question").wait_for()
    connect(page, actions, ("text", "text"), ("stuff", "question"))

    # an incompatible drop is refused on the canvas, with its reason
    drag_to(page, center(handle(page, "hashing", "out", "embeddings")), center(handle(page, "stuff", "in", "question")))
    toast = by_id(page, "canvas-toast")
    toast.wait_for()
    assert "expected Text, got Embeddings" in toast.inner_text()
    assert by_id(page, "edge-hashing.embeddings->stuff.question").count() == 0

    add_and_connect(page, actions, "stuff", "out", "answer", grid.after(2, 1), "output.text", "text_2")
    add_and_connect(page, actions, "stuff", "out", "sources", grid.after(2, -1), "output.json", "json")
    node_count(page, 9)

    print(f"\nRAG flow built in {len(actions)} user actions (target ≤ {TARGET_ACTIONS}):")
    for n, what in enumerate(actions.log, 1):
        print(f"  {n:2d}. {what}")
    assert len(actions) <= TARGET_ACTIONS
    edges = {"directory.documents->recursive.documents", "recursive.documents->chroma.documents",
             "hashing.embeddings->chroma.embeddings", "chroma.store->vectorstore.store",
             "text.text->vectorstore.query", "vectorstore.documents->stuff.documents", "text.text->stuff.question",
             "stuff.answer->text_2.value", "stuff.sources->json.value"}
    for edge in edges:
        by_id(page, f"edge-{edge}").wait_for(state="attached")
    python_has(page, "✓ valid")
    screenshot(page, "canvas-rag.png")

    # a reload in the middle of the edit (nothing saved yet) brings the draft back
    page.reload()
    by_id(page, "canvas-ready").wait_for(state="attached")
    for node in ("directory", "recursive", "chroma", "hashing", "vectorstore", "text", "stuff", "text_2", "json"):
        by_id(page, f"node-{node}").wait_for()
    python_has(page, "restored your unsaved changes to 'untitled-flow'")
    node_count(page, 9)

    # keyboard delete, undo, redo, undo
    by_id(page, "node-json").click()
    page.keyboard.press("Delete")
    by_id(page, "node-json").wait_for(state="detached")
    node_count(page, 8)
    page.keyboard.press("Control+z")
    by_id(page, "node-json").wait_for()
    by_id(page, "edge-stuff.sources->json.value").wait_for(state="attached")
    node_count(page, 9)
    page.keyboard.press("Control+Shift+z")
    by_id(page, "node-json").wait_for(state="detached")
    node_count(page, 8)
    page.keyboard.press("Control+z")
    by_id(page, "node-json").wait_for()
    node_count(page, 9)
    python_has(page, "✓ valid")

    # save, then run and watch the statuses on the nodes
    page.get_by_role("button", name="Save", exact=True).click()
    python_has(page, "saved 'untitled-flow' as version 1")
    page.get_by_role("radio", name="Run", exact=True).click()
    page.get_by_label("question").fill("How much does tracked next-day delivery cost?")
    page.get_by_role("button", name="Run flow").click()
    python_has(page, "succeeded")
    for node in ("directory", "recursive", "hashing", "chroma", "vectorstore", "text", "stuff", "text_2", "json"):
        frame(page).locator(f'[data-testid="status-{node}"].cl-status-done').wait_for()
    answer = page.locator('.st-key-run_outputs [data-testid="stCode"]').first.inner_text()
    assert answer.strip()
    screenshot(page, "canvas-run.png")

    # export, and run the file with `chainloom run` in the same folder
    page.get_by_role("radio", name="Flows", exact=True).click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Export JSON").click()
    exported = tmp_path / "rag-exported.json"
    download.value.save_as(exported)
    body = json.loads(exported.read_text(encoding="utf-8"))
    assert len(body["nodes"]) == 9 and {f"{e['from']}->{e['to']}" for e in body["edges"]} == edges
    done = subprocess.run([sys.executable, "-m", "chainloom.cli", "run", str(exported), "--json",
                           "--input", "question=How much does tracked next-day delivery cost?"],
                          capture_output=True, text=True, timeout=300, cwd=project,
                          env={**os.environ, "CHAINLOOM_HOME": str(home), "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "succeeded" and result["outputs"]["text_2"] == answer
