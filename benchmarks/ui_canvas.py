"""How fast the visual builder feels, in a real browser, at 20 and 100 nodes.

Starts `chainloom ui` on a free port with a temporary data dir, saves a generated
flow of N nodes (a chain of text transforms on a 10-column grid plus a merge
node), and drives Debian's chromium with Playwright to measure:

  load     page load until all N nodes are drawn on the canvas
  click    a node click (mouse down) until the side panel shows that node
  connect  the end of a drag from one node's handle to another's (mouse up) until
           chainloom's edge, with its inferred ports, is drawn back on the canvas

Click and connect are timed inside the browser (the page's own clock), so the time
Playwright takes to simulate the mouse is not counted; load is wall time.
    python benchmarks/ui_canvas.py [--sizes 20 100] [--repeat 10] [--shots DIR]

Prints a table of medians and p90s (seconds). Needs /usr/bin/chromium (never
`playwright install`). Target at 100 nodes: under 0.5 s per interaction.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import FrameLocator, Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.flow import parse_flow
from engine.store import open_store
from ui.launch import serve, stop

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
IFRAME = ('[data-testid="stElementContainer"][data-stale="false"] '   # a rerun may leave a stale copy
          'iframe[title="streamlit_flow.streamlit_flow"]')
TIMEOUT_MS = 30_000


def bench_flow(n: int) -> dict[str, Any]:
    """q -> t1 -> ... -> t(n-3) -> out, plus a merge node `sink`; n nodes on a 10-column grid."""
    ids = ["q", *[f"t{i}" for i in range(1, n - 2)], "out", "sink"]
    types = {"q": "input.text", "out": "output.text", "sink": "flow.merge"}
    nodes = []
    for k, nid in enumerate(ids):
        config: dict[str, Any] = {"name": nid} if nid in ("q", "out") else {}
        if nid.startswith("t"):
            config = {"steps": [{"op": "strip"}]}
        nodes.append({"id": nid, "type": types.get(nid, "transform.text"), "config": config,
                      "position": [40 + (k % 10) * 260, 40 + (k // 10) * 150]})
    chain = ids[:-1]
    edges = [{"from": f"{a}.text", "to": f"{b}.{'value' if b == 'out' else 'text'}"}
             for a, b in zip(chain, chain[1:], strict=False)]
    return {"schema_version": 1, "id": f"bench{n}", "name": f"Benchmark, {n} nodes", "nodes": nodes,
            "edges": edges}


def canvas(page: Page) -> FrameLocator:
    return page.frame_locator(IFRAME)


def node(page: Page, node_id: str) -> Any:
    return canvas(page).locator(f'.react-flow__node[data-id="{node_id}"]')


def wait_ready(page: Page, n: int) -> None:
    frame = canvas(page)
    frame.locator(".react-flow__node").nth(n - 1).wait_for(timeout=TIMEOUT_MS)
    page.wait_for_function(
        """([sel, n]) => { const f = document.querySelector(sel);
             return f && f.contentDocument && f.contentDocument.querySelectorAll('.react-flow__node').length >= n; }""",
        arg=[IFRAME, n], timeout=TIMEOUT_MS)


def centre(box: dict[str, float]) -> tuple[float, float]:
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def drag(page: Page, source: str, target: str) -> None:
    src = node(page, source).locator(".react-flow__handle.source").bounding_box()
    dst = node(page, target).locator(".react-flow__handle.target").bounding_box()
    if src is None or dst is None:
        raise RuntimeError(f"cannot see the handles of '{source}' and '{target}'")
    page.mouse.move(*centre(src))
    page.mouse.down()
    page.mouse.move(*centre(dst), steps=8)
    page.mouse.up()


# In-browser stopwatches: start on a mouse event inside the canvas iframe, stop when
# the page shows the result; the result lands in window.__elapsed (milliseconds).
WATCH_CLICK = """(id) => {
  window.__elapsed = null;
  const f = document.querySelector('[data-testid="stElementContainer"][data-stale="false"] '
                                    + 'iframe[title="streamlit_flow.streamlit_flow"]');
  const now = () => performance.timeOrigin + performance.now();
  let t0 = null;
  f.contentDocument.addEventListener('mousedown', () => { t0 = now(); }, {capture: true, once: true});
  const tick = () => {
    const shown = [...document.querySelectorAll('input[aria-label="Id"]')].some(e => e.value === id);
    if (t0 !== null && shown) { window.__elapsed = now() - t0; } else { requestAnimationFrame(tick); }
  };
  requestAnimationFrame(tick);
}"""
WATCH_EDGE = """(testid) => {
  window.__elapsed = null;
  const f = document.querySelector('[data-testid="stElementContainer"][data-stale="false"] '
                                    + 'iframe[title="streamlit_flow.streamlit_flow"]');
  const doc = f.contentDocument, win = f.contentWindow;
  let t0 = null;
  doc.addEventListener('mouseup', () => { t0 = win.performance.now(); }, {capture: true, once: true});
  const obs = new win.MutationObserver(() => {
    if (t0 !== null && doc.querySelector(`[data-testid="${testid}"]`)) {
      obs.disconnect(); window.__elapsed = win.performance.now() - t0;
    }
  });
  obs.observe(doc.body, {subtree: true, childList: true});
}"""


def elapsed(page: Page) -> float:
    page.wait_for_function("() => window.__elapsed !== null", timeout=TIMEOUT_MS)
    return float(page.evaluate("() => window.__elapsed")) / 1000


def measure(page: Page, url: str, n: int, repeat: int, shots: Path | None) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"load": [], "click": [], "connect": []}
    for _ in range(3):
        t0 = time.perf_counter()
        page.goto(f"{url}/?flow=bench{n}")
        wait_ready(page, n)
        out["load"].append(time.perf_counter() - t0)
    page.wait_for_timeout(1500)   # let the first echo reruns settle
    targets = [f"t{i}" for i in range(1, n - 2)]
    for k in range(repeat):
        nid = targets[(k * 7) % len(targets)]
        box = node(page, nid).bounding_box()
        page.evaluate(WATCH_CLICK, nid)
        page.mouse.click(*centre(box))   # type: ignore[arg-type]
        out["click"].append(elapsed(page))
        page.wait_for_timeout(300)
    for k in range(repeat):
        nid = targets[(k * 3 + 1) % len(targets)]
        page.evaluate(WATCH_EDGE, f"rf__edge-{nid}.text->sink.values")
        drag(page, nid, "sink")
        out["connect"].append(elapsed(page))
        page.wait_for_timeout(600)   # let the component's echo reruns settle
    if shots is not None:
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / f"bench_{n}.png"))
    return out


def fmt(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return f"{statistics.median(values):7.3f} {p90:7.3f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[20, 100])
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--shots", type=Path, default=None, help="save a screenshot per size here")
    args = ap.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: apt-get install -y chromium", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="chainloom-bench-") as home:
        store = open_store(home)
        for n in args.sizes:
            store.save_flow(parse_flow(bench_flow(n)), None)
        proc, url = serve(env={"CHAINLOOM_HOME": home}, log=Path(home) / "ui.log")
        try:
            rows = []
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                for n in args.sizes:
                    page = browser.new_page(viewport={"width": 1600, "height": 1000})
                    rows.append((n, measure(page, url, n, args.repeat, args.shots)))
                    page.close()
                browser.close()
        finally:
            stop(proc)
    print(f"chainloom ui canvas, chromium {os.uname().machine}, median and p90 in seconds "
          f"({args.repeat} clicks/connects, 3 loads)")
    print(f"{'nodes':>5} | {'load med':>7} {'p90':>7} | {'click med':>7} {'p90':>7} | {'connect med':>7} {'p90':>7}")
    for n, res in rows:
        print(f"{n:>5} | {fmt(res['load'])} | {fmt(res['click'])}   | {fmt(res['connect'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
