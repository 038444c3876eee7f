"""End to end in a real browser: Debian's chromium driven by Playwright.

Starts `chainloom ui` on a free port with a temporary CHAINLOOM_HOME, opens the
hello example from the gallery, adds two nodes from the palette, connects them by
dragging between handles inside the canvas iframe, sets config fields, saves, runs,
checks the outputs and the node statuses, then exports the flow and runs the file
with `chainloom run`. Screenshots go to tests/artifacts/ui_e2e/.
"""

from __future__ import annotations

import json
import os
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
SHOTS = ROOT / "tests" / "artifacts" / "ui_e2e"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
IFRAME = ('[data-testid="stElementContainer"][data-stale="false"] '   # a rerun may leave a stale copy
          'iframe[title="streamlit_flow.streamlit_flow"]')
TIMEOUT = 30_000


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    from ui.launch import serve, stop

    home = tmp_path / "home"
    proc, url = serve(env={"CHAINLOOM_HOME": str(home)}, log=tmp_path / "ui.log")
    try:
        yield url, home
    finally:
        stop(proc)


@pytest.fixture
def page(server: tuple[str, Path], request: pytest.FixtureRequest) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1600, "height": 1100}, accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT)
        try:
            yield page
            failed = getattr(request.node, "rep_call", None)
            if failed is not None and failed.failed:
                shot(page, "failure")
        finally:
            browser.close()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def canvas_node(page: Any, node_id: str) -> Any:
    return page.frame_locator(IFRAME).locator(f'.react-flow__node[data-id="{node_id}"]')


def drag(page: Any, source: str, target: str) -> None:
    """Press on the source node's right handle and release on the target's left handle."""
    src = canvas_node(page, source).locator(".react-flow__handle.source").bounding_box()
    dst = canvas_node(page, target).locator(".react-flow__handle.target").bounding_box()
    page.mouse.move(src["x"] + src["width"] / 2, src["y"] + src["height"] / 2)
    page.mouse.down()
    page.mouse.move(dst["x"] + dst["width"] / 2, dst["y"] + dst["height"] / 2, steps=12)
    page.mouse.up()


def wait_edge(page: Any, edge_id: str) -> None:
    try:
        page.frame_locator(IFRAME).locator(f'[data-testid="rf__edge-{edge_id}"]').wait_for()
    except Exception:
        shot(page, "failed_edge")
        raise


def add_from_palette(page: Any, query: str, label: str, node_id: str) -> None:
    search = page.get_by_label("Search nodes")
    search.fill(query)
    search.press("Enter")
    page.get_by_role("button", name=label).click()
    canvas_node(page, node_id).wait_for()
    page.locator('input[aria-label="Id"]').first.wait_for()
    page.wait_for_function(f"""() => [...document.querySelectorAll('input[aria-label="Id"]')]
                               .some(e => e.value === "{node_id}")""")


def set_field(page: Any, label: str, value: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Control+Enter" if box.evaluate("e => e.tagName") == "TEXTAREA" else "Enter")
    page.wait_for_timeout(400)


def settle(page: Any) -> None:
    """Wait until Streamlit is idle (no script running) after the component's echo reruns."""
    page.wait_for_timeout(300)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')")


def test_build_save_run_and_export_in_a_browser(page: Any, server: tuple[str, Path], tmp_path: Path) -> None:
    url, home = server
    page.goto(url)
    page.get_by_role("radio", name="Flows", exact=True).click()
    page.get_by_role("combobox", name="Examples").click()
    page.get_by_role("option", name="Hello: ask a question about chainloom").click()
    page.get_by_role("button", name="Open example").click()
    for node_id in ("question", "prompt", "llm", "answer"):
        canvas_node(page, node_id).wait_for()
    settle(page)
    shot(page, "01_example_loaded")

    add_from_palette(page, "transform.text", "+ Text transform", "text_transform")
    settle(page)
    drag(page, "llm", "text_transform")
    wait_edge(page, "llm.text->text_transform.text")
    page.get_by_text("connected llm.text → text_transform.text").wait_for()
    settle(page)
    canvas_node(page, "text_transform").click()
    set_field(page, "Steps", '[{"op": "upper"}]')
    settle(page)

    add_from_palette(page, "output.text", "+ Text output", "text_output")
    set_field(page, "Name *", "shouted")
    settle(page)
    drag(page, "text_transform", "text_output")
    wait_edge(page, "text_transform.text->text_output.value")
    settle(page)
    shot(page, "02_nodes_added_and_connected")

    page.get_by_role("button", name="💾 Save").click()
    page.get_by_text("saved 'hello' as version 1").wait_for()
    page.get_by_text("version 1 · saved").wait_for()

    page.get_by_role("radio", name="Run", exact=True).click()
    page.get_by_role("button", name="▶ Run flow").click()
    page.get_by_text("succeeded").first.wait_for()
    settle(page)
    for node_id in ("question", "prompt", "llm", "answer", "text_transform", "text_output"):
        classes = canvas_node(page, node_id).get_attribute("class") or ""
        assert "cl-status-done" in classes, (node_id, classes)
    outputs = page.locator('.st-key-run_outputs [data-testid="stCode"]').all_inner_texts()
    assert len(outputs) == 2 and outputs[1] == outputs[0].upper() and outputs[0].strip()
    shot(page, "03_run_finished")

    page.get_by_role("radio", name="Flows", exact=True).click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Export JSON").click()
    exported = tmp_path / "hello-exported.json"
    download.value.save_as(exported)
    body = json.loads(exported.read_text(encoding="utf-8"))
    assert [n["id"] for n in body["nodes"]][-2:] == ["text_transform", "text_output"]
    done = subprocess.run([sys.executable, "-m", "chainloom.cli", "run", str(exported), "--json"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "CHAINLOOM_HOME": str(home)})
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "succeeded"
    assert result["outputs"] == {"answer": outputs[0], "shouted": outputs[0].upper()}
