"""How fast the visual builder feels, in a real browser, at 20, 100 and 500 nodes.

Starts `chainloom ui` on a free port with a temporary data dir, saves a generated
flow of N nodes (a chain of text transforms on a 10-column grid plus a merge node
`sink` at the top left), and drives Debian's chromium with Playwright to measure:

  load      warm page load (a first, untimed load warms the caches) until the canvas
            component says it is ready (graph drawn, laid out, nodes measured)
  select    a node click (mouse down) until the side panel shows that node's form
  connect   the end of a drag between two port handles (mouse up) until the edge is
            drawn on the canvas (client), and until Python has applied it (the
            component's ack catches up with the seq it sent)
  drag      frame interval (ms) while a node is dragged across the canvas

Interactions are timed inside the browser (the page's own clock), so the time
Playwright takes to simulate the mouse is not counted; load is wall time. The
streamlit-flow figures of the canvas this one replaced (recorded on the same
machine before the switch, benchmarks/results/ui_canvas_streamlit_flow.json) are
printed beside them, with the load average.

    python benchmarks/ui_canvas.py [--sizes 20 100 500] [--repeat 8] [--shots DIR]

Targets at 100 nodes: select ≤ 150 ms, connect ≤ 50 ms on the client and ≤ 300 ms
until Python has it, warm load ≤ 2 s; at 500 nodes every interaction ≤ 500 ms.
Needs /usr/bin/chromium (never `playwright install`).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import FrameLocator, Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.flow import parse_flow
from engine.store import open_store
from ui.launch import serve, stop

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
IFRAME = 'iframe[title="ui.canvas_component.chainloom_canvas"]'
TIMEOUT_MS = 60_000
BASELINE = ROOT / "benchmarks" / "results" / "ui_canvas_streamlit_flow.json"


def bench_flow(n: int) -> dict[str, Any]:
    """q -> t1 -> ... -> t(n-3) -> out on a 10-column grid, plus a merge node `sink` at the top left."""
    ids = ["q", *[f"t{i}" for i in range(1, n - 2)], "out"]
    types = {"q": "input.text", "out": "output.text"}
    nodes = []
    for k, nid in enumerate(ids):
        config: dict[str, Any] = {"name": nid} if nid in ("q", "out") else {"steps": [{"op": "strip"}]}
        nodes.append({"id": nid, "type": types.get(nid, "transform.text"), "config": config,
                      "position": [40 + (k % 10) * 300, 240 + (k // 10) * 200]})
    nodes.append({"id": "sink", "type": "flow.merge", "config": {}, "position": [40, 20]})
    edges = [{"from": f"{a}.text", "to": f"{b}.{'value' if b == 'out' else 'text'}"}
             for a, b in itertools.pairwise(ids)]
    return {"schema_version": 1, "id": f"bench{n}", "name": f"Benchmark, {n} nodes", "nodes": nodes, "edges": edges}


def frame(page: Page) -> FrameLocator:
    return page.frame_locator(IFRAME)


def wait_ready(page: Page) -> None:
    frame(page).locator('[data-testid="canvas-ready"]').wait_for(state="attached", timeout=TIMEOUT_MS)


def centre(box: dict[str, float] | None) -> tuple[float, float]:
    if box is None:
        raise RuntimeError("element is not on screen")
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def visible_nodes(page: Page, prefix: str = "t") -> list[str]:
    """Ids of nodes fully inside the canvas iframe's viewport (top left first)."""
    return list(page.evaluate("""([sel, prefix]) => {
      const f = document.querySelector(sel); const d = f.contentDocument; const w = f.contentWindow;
      const flow = d.querySelector('.react-flow').getBoundingClientRect();
      return [...d.querySelectorAll('.react-flow__node')].filter(n => {
        const r = n.getBoundingClientRect();
        return n.dataset.id.startsWith(prefix) && r.left > flow.left + 5 && r.top > flow.top + 60 &&
               r.right < Math.min(flow.right, w.innerWidth) - 5 && r.bottom < Math.min(flow.bottom, w.innerHeight) - 5;
      }).map(n => n.dataset.id);
    }""", [IFRAME, prefix]))


# In-browser stopwatches: start on a mouse event inside the canvas iframe, stop when
# the page shows the result; the results land in window.__t (milliseconds).
WATCH_SELECT = """([sel, id]) => {
  window.__t = null;
  const f = document.querySelector(sel);
  const now = () => performance.timeOrigin + performance.now();
  let t0 = null;
  f.contentDocument.addEventListener('mousedown', () => { t0 = now(); }, {capture: true, once: true});
  const tick = () => {
    const shown = [...document.querySelectorAll('input[aria-label="Id"]')].some(e => e.value === id);
    if (t0 !== null && shown) { window.__t = {select: now() - t0}; } else { requestAnimationFrame(tick); }
  };
  requestAnimationFrame(tick);
}"""
WATCH_CONNECT = """([sel, testid]) => {
  window.__t = null;
  const f = document.querySelector(sel); const d = f.contentDocument; const w = f.contentWindow;
  const root = d.querySelector('[data-testid="canvas-root"]');
  const seq0 = Number(root.dataset.seq);
  let t0 = null, client = null;
  d.addEventListener('mouseup', () => { t0 = w.performance.now(); }, {capture: true, once: true});
  const tick = () => {
    const r = d.querySelector('[data-testid="canvas-root"]');
    const drawn = d.querySelector(`[data-testid="${testid}"]`);
    if (t0 !== null && client === null && drawn) client = w.performance.now() - t0;
    const seq = Number(r.dataset.seq), ack = Number(r.dataset.ack);
    if (client !== null && seq > seq0 && ack >= seq) {
      window.__t = {client, python: w.performance.now() - t0}; return;
    }
    w.requestAnimationFrame(tick);
  };
  w.requestAnimationFrame(tick);
}"""
WATCH_FRAMES = """(sel) => {
  const w = document.querySelector(sel).contentWindow;
  window.__frames = []; window.__framing = true;
  let last = w.performance.now();
  const tick = (t) => {
    window.__frames.push(t - last); last = t; if (window.__framing) w.requestAnimationFrame(tick);
  };
  w.requestAnimationFrame(tick);
}"""


def result(page: Page) -> dict[str, float]:
    page.wait_for_function("() => window.__t !== null", timeout=TIMEOUT_MS)
    return dict(page.evaluate("() => window.__t"))


def handle(page: Page, node_id: str, side: str, port: str) -> tuple[float, float]:
    return centre(frame(page).locator(f'[data-testid="handle-{node_id}-{side}-{port}"]').bounding_box())


def settle(page: Page) -> None:
    """Wait until Python has acknowledged every batch the component sent."""
    page.wait_for_function("""(sel) => { const f = document.querySelector(sel);
        const r = f && f.contentDocument && f.contentDocument.querySelector('[data-testid="canvas-root"]');
        return r && Number(r.dataset.ack) >= Number(r.dataset.seq); }""", arg=IFRAME, timeout=TIMEOUT_MS)


def measure_load(page: Page, url: str, n: int) -> list[float]:
    page.goto(f"{url}/?flow=bench{n}")   # cold: untimed
    wait_ready(page)
    loads = []
    for _ in range(3):
        t0 = time.perf_counter()
        page.goto(f"{url}/?flow=bench{n}")
        wait_ready(page)
        loads.append(time.perf_counter() - t0)
    return loads


def measure_select(page: Page, repeat: int) -> list[float]:
    targets = visible_nodes(page)
    out = []
    for k in range(repeat):
        nid = targets[(k * 2 + 1) % len(targets)] if len(targets) % 2 else targets[(k * 3 + 1) % len(targets)]
        page.evaluate(WATCH_SELECT, [IFRAME, nid])
        page.mouse.click(*centre(frame(page).locator(f'[data-testid="node-{nid}"] .cl-title').bounding_box()))
        out.append(result(page)["select"])
        settle(page)
    return out


def measure_connect(page: Page, repeat: int) -> tuple[list[float], list[float]]:
    targets = visible_nodes(page)
    client, python = [], []
    for nid in targets[:repeat]:   # each connects once: a second identical edge is refused
        page.evaluate(WATCH_CONNECT, [IFRAME, f"edge-{nid}.text->sink.values"])
        page.mouse.move(*handle(page, nid, "out", "text"))
        page.mouse.down()
        page.mouse.move(*handle(page, "sink", "in", "values"), steps=6)
        page.mouse.up()
        got = result(page)
        client.append(got["client"])
        python.append(got["python"])
        settle(page)
    return client, python


def measure_drag(page: Page) -> list[float]:
    nid = visible_nodes(page)[0]
    x, y = centre(frame(page).locator(f'[data-testid="node-{nid}"] .cl-title').bounding_box())
    page.mouse.move(x, y)
    page.mouse.down()
    page.evaluate(WATCH_FRAMES, IFRAME)
    for i in range(1, 41):
        page.mouse.move(x + i * 6, y + i * 3)
    page.evaluate("() => { window.__framing = false; }")
    page.mouse.up()
    settle(page)
    frames = list(page.evaluate("() => window.__frames"))[1:]
    return [float(f) for f in frames if f > 0]


def measure(page: Page, url: str, n: int, repeat: int, shots: Path | None) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"load": [x * 1000 for x in measure_load(page, url, n)]}
    settle(page)
    out["select"] = measure_select(page, repeat)
    out["connect_client"], out["connect_python"] = measure_connect(page, repeat)
    out["drag_frame"] = measure_drag(page)
    if shots is not None:
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / f"bench_{n}.png"))
    return out


def stats(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(values), ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def cell(values: list[float] | None) -> str:
    if not values:
        return f"{'—':>13}"
    med, p90 = stats(values)
    return f"{med:6.0f} {p90:6.0f}"


def old_cell(base: dict[str, Any], n: int, key: str) -> str:
    got = base.get("sizes", {}).get(str(n), {}).get(key, "missing")
    if got == "missing":
        return f"{'not measured':>13}"
    if got is None:
        return f"{'> 30000':>13}"
    return f"{got[0] * 1000:6.0f} {got[1] * 1000:6.0f}"


def report(rows: list[tuple[int, dict[str, list[float]]]], repeat: int, loads: tuple[str, str]) -> None:
    base = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    print(f"chainloom ui canvas, chromium {os.uname().machine}: median and p90 in ms "
          f"({repeat} selects/connects, 3 warm loads, one 40-step drag); load average {loads[0]} → {loads[1]}")
    print(f"streamlit-flow figures: {base.get('commit', '?')} of {base.get('date', '?')}, "
          f"load average {base.get('loadavg_1min', '?')}")
    head = (f"{'nodes':>5} {'canvas':<15}| {'warm load':>13} | {'select→props':>13} | {'connect→edge':>13} |"
            f" {'→ Python has it':>15} | {'drag frame':>13}")
    print(head)
    print("-" * len(head))
    for n, res in rows:
        print(f"{n:>5} {'chainloom':<15}| {cell(res['load'])} | {cell(res['select'])} | {cell(res['connect_client'])} |"
              f"   {cell(res['connect_python'])} | {cell(res['drag_frame'])}")
        print(f"{'':>5} {'streamlit-flow':<15}| {old_cell(base, n, 'load')} |"
              f" {old_cell(base, n, 'select_to_properties')} | {'(same as →)':>13} |"
              f"   {old_cell(base, n, 'connect_to_edge_from_python')} | {'not measured':>13}")
    print("targets at 100 nodes: select ≤ 150, connect ≤ 50 client / ≤ 300 Python, warm load ≤ 2000; "
          "at 500 nodes every interaction ≤ 500")


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[20, 100, 500])
    ap.add_argument("--repeat", type=int, default=8)
    ap.add_argument("--shots", type=Path, default=None, help="save a screenshot per size here")
    args = ap.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: apt-get install -y chromium", file=sys.stderr)
        return 2
    start = loadavg()
    with tempfile.TemporaryDirectory(prefix="chainloom-bench-") as home:
        store = open_store(home)
        for n in args.sizes:
            store.save_flow(parse_flow(bench_flow(n)), None)
        proc, url = serve(env={"CHAINLOOM_HOME": home}, log=Path(home) / "ui.log")
        try:
            rows = []
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                try:
                    for n in args.sizes:
                        page = browser.new_page(viewport={"width": 1600, "height": 1000})
                        rows.append((n, measure(page, url, n, args.repeat, args.shots)))
                        page.close()
                finally:
                    browser.close()
        finally:
            stop(proc)
    report(rows, args.repeat, (start, loadavg()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
