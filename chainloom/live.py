"""How the CLI shows a run: one event handler that keeps per-node state, and its renderers.

`RunView` folds events (with the engine's `RunState`) into one row per node
(status, duration, tokens, streamed text) and draws nothing. `LiveView` draws it with rich.Live on a terminal;
`LinePrinter` writes one plain line per node event and streams tokens as they come
(pipes, logs, and replays of stored runs). `summary_table` and `print_outputs`
draw the end of a run. Everything here works the same on live and stored events.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from engine.events import (
    Event,
    NodeCancelled,
    NodeFailed,
    NodeFinished,
    NodeSkipped,
    NodeStarted,
    NodeStep,
    NodeToken,
    RunFinished,
    RunStarted,
)
from engine.run_state import NodeState, RunState

ICONS = {"queued": "·", "running": "▶", "done": "✓", "cached": "✓", "failed": "✗",
         "skipped": "↷", "cancelled": "⊘", "interrupted": "⚠", "waiting_approval": "⏸"}
STYLES = {"queued": "dim", "running": "bold cyan", "done": "green", "cached": "green",
          "failed": "bold red", "skipped": "yellow", "cancelled": "dim", "interrupted": "bold yellow",
          "waiting_approval": "bold magenta"}
STREAM_TAIL = 600  # characters of a running node's streamed text shown live


@dataclass
class NodeRow:
    id: str
    type: str = ""
    status: str = "queued"
    duration: float | None = None
    usage_tokens: int | None = None
    chunks: int = 0
    streamed: str = ""
    note: str = ""
    attempt: int = 1
    cost: float | None = None
    step: str = ""  # the latest step: a progress bar, a tool call or its result

    @property
    def tokens(self) -> int | None:
        """Tokens the provider reported, else the number of streamed chunks, else None."""
        return self.usage_tokens if self.usage_tokens is not None else (self.chunks or None)


class RunView:
    """Pure state: feed it events (it is a handler), read `rows` and `finished`.

    The fold itself is the engine's `RunState`; this turns its nodes into table rows.
    """

    def __init__(self) -> None:
        self.state = RunState("", "starting", {}, {})
        self.finished: RunFinished | None = None

    def __call__(self, event: Event) -> None:
        self.apply(event)

    def apply(self, event: Event) -> None:
        self.state.apply(event)
        if isinstance(event, RunFinished):
            self.finished = event

    @property
    def run_id(self) -> str:
        return self.state.run_id

    @property
    def flow_id(self) -> str:
        return self.state.flow_id

    @property
    def rows(self) -> dict[str, NodeRow]:
        return {nid: node_row(nid, n) for nid, n in self.state.nodes.items()}

    def running(self) -> list[NodeRow]:
        return [r for r in self.rows.values() if r.status == "running"]


def node_row(node_id: str, n: NodeState) -> NodeRow:
    usage = n.usage or {}
    steps = [text for text in (step_text(str(s.get("name", "")), s) for s in n.steps) if text]
    return NodeRow(node_id, n.type, n.status, n.duration,
                   int(usage["total_tokens"]) if "total_tokens" in usage else None,
                   n.chunks, n.tokens, _note(n), max(n.attempts, 1),
                   float(usage["cost"]) if usage.get("cost") is not None else None, steps[-1] if steps else "")


def _note(n: NodeState) -> str:
    """Why a node is where it is: skip reason, failure, or the error its fallback replaced."""
    if n.status == "skipped":
        return n.reason
    if n.status == "cancelled":
        return cancel_note(n.reason)
    if n.status in ("done", "cached"):
        return f"fallback after: {n.error}" if n.fallback else ""
    return n.error


# ---------------------------------------------------------------- formatting
def cancel_note(reason: str) -> str:
    """The scheduler's cancel reason repeats the run's error; the error is shown once, apart."""
    return "not started" if reason.startswith("not started") else "stopped when the run stopped"


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 0.001:
        return f"{seconds * 1_000_000:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    return f"{int(seconds // 60)}m {seconds % 60:04.1f}s"


def fmt_tokens(tokens: int | None) -> str:
    return "" if tokens is None else f"{tokens:,}"


def fmt_cost(cost: float | None) -> str:
    """US dollars: cents for big sums, more digits for the small ones a call costs."""
    if cost is None:
        return ""
    return f"${cost:,.2f}" if cost >= 1 else f"${cost:.6f}".rstrip("0").rstrip(".")


BAR = 20


def progress_bar(done: int, total: int) -> str:
    filled = BAR * done // total if total else BAR
    return f"[{'#' * filled}{'-' * (BAR - filled)}] {done:,}/{total:,}"


def _short(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def step_text(name: str, d: Mapping[str, Any]) -> str:
    """A node step in a few words: ingest progress as a bar; an agent's tool calls, results and answers."""
    if name == "progress" and "done" in d and "total" in d:
        return f"{progress_bar(int(d['done']), int(d['total']))} chunks"
    if name == "tool_call":
        return f"calls {d.get('tool')}({_short(d.get('arguments', {}))})"
    if name == "observation":
        return f"{d.get('tool')} → {'' if d.get('ok', True) else 'error: '}{_short(d.get('text', ''))}"
    if name in ("thought", "final_answer"):
        return f"{name.replace('_', ' ')}: {_short(d.get('text', ''))}"
    if name in ("plan", "replan"):
        return f"{name}: " + "; ".join(map(str, d.get("steps", [])))[:300]
    if name == "step":
        return f"step {d.get('index')}: {_short(d.get('task', ''))}"
    if name == "stopped":
        return f"stopped: {d.get('reason')}"
    return ""


def _status_text(row: NodeRow) -> Text:
    label = f"{ICONS.get(row.status, '?')} {row.status}"
    if row.status == "running" and row.attempt > 1:
        label += f" (attempt {row.attempt})"
    return Text(label, style=STYLES.get(row.status, ""))


def progress(view: RunView) -> RenderableType:
    """The live picture: the node table, then the streamed text of running nodes."""
    table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
    for name, justify in (("", "left"), ("node", "left"), ("type", "left"),
                          ("time", "right"), ("tokens", "right"), ("", "left")):
        table.add_column(name, justify=justify, overflow="ellipsis", no_wrap=name == "")  # type: ignore[arg-type]
    for row in view.rows.values():
        icon = Text(ICONS.get(row.status, "?"), style=STYLES.get(row.status, ""))
        table.add_row(icon, row.id, Text(row.type, style="dim"), fmt_duration(row.duration),
                      fmt_tokens(row.tokens), Text(row.step if row.status == "running" else "", style="cyan"))
    streams = [Panel(Text(r.streamed[-STREAM_TAIL:]), title=r.id, title_align="left",
                     border_style="cyan") for r in view.running() if r.streamed]
    return Group(table, *streams)


def summary_table(view: RunView) -> Table:
    """node, type, status, duration, tokens (and why, for skips and failures)."""
    notes = any(r.note for r in view.rows.values())
    costs = any(r.cost is not None for r in view.rows.values())
    table = Table(title="Run summary", title_justify="left", header_style="bold", show_footer=costs)
    total_cost = sum(r.cost or 0.0 for r in view.rows.values())
    total_tokens = sum(r.usage_tokens or 0 for r in view.rows.values())
    for name in ("node", "type", "status", "duration", "tokens", *(["cost"] if costs else [])):
        footer = {"node": "total", "tokens": fmt_tokens(total_tokens), "cost": fmt_cost(total_cost)}.get(name, "")
        table.add_column(name, justify="right" if name in ("duration", "tokens", "cost") else "left",
                         footer=footer)
    if notes:
        table.add_column("detail", overflow="fold")
    for row in view.rows.values():
        cells: list[Any] = [row.id, row.type, _status_text(row), fmt_duration(row.duration),
                            fmt_tokens(row.tokens), *([fmt_cost(row.cost)] if costs else [])]
        table.add_row(*cells, *([Text(row.note)] if notes else []))
    return table


def jsonable(value: Any) -> Any:
    """Values as JSON can carry them (pydantic models dumped, others as text)."""
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    return str(value)


def print_outputs(console: Console, outputs: Mapping[str, Any]) -> None:
    for name, value in outputs.items():
        body = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False,
                                                                default=jsonable)
        console.print(Panel(Text(body), title=Text(name, style="bold"), title_align="left",
                            border_style="green", expand=False))


# ---------------------------------------------------------------- plain lines
def event_line(event: Event) -> str | None:
    """One line for a node or run event; None for tokens (streamed separately)."""
    if isinstance(event, RunStarted):
        return f"run {event.run_id} · flow {event.flow_id} · {len(event.nodes)} nodes"
    if isinstance(event, NodeStarted):
        again = f" (attempt {event.attempt})" if event.attempt > 1 else ""
        return f"▶ {event.node} ({event.type}){again}"
    if isinstance(event, NodeStep):
        return f"  · {event.node}: {step_text(event.name, event.data) or event.name}"
    if isinstance(event, NodeFinished):
        return _finished_line(event)
    if isinstance(event, NodeFailed):
        then = "; retrying" if event.will_retry else ""
        hint = f" (hint: {event.hint})" if event.hint else ""
        return (f"✗ {event.node} ({event.type}) failed after {fmt_duration(event.duration)}: "
                f"{event.error}{hint}{then}")
    if isinstance(event, NodeSkipped):
        return f"↷ {event.node} skipped: {event.reason}"
    if isinstance(event, NodeCancelled):
        return f"⊘ {event.node} cancelled: {cancel_note(event.reason)}"
    if isinstance(event, RunFinished):
        tokens = event.usage.get("total_tokens")
        extra = f" · {tokens:,} tokens" if tokens else ""
        if event.usage.get("cost") is not None:
            extra += f" · {fmt_cost(float(event.usage['cost']))}"
        return f"■ run {event.status} in {fmt_duration(event.duration)}{extra}"
    return None


def _finished_line(event: NodeFinished) -> str:
    parts = [f"✓ {event.node} ({event.type}) {fmt_duration(event.duration)}"]
    if event.usage and event.usage.get("total_tokens"):
        parts.append(f"{int(event.usage['total_tokens']):,} tokens")
    if event.usage and event.usage.get("cost") is not None:
        parts.append(fmt_cost(float(event.usage["cost"])))
    if event.cached:
        parts.append("cached")
    if event.fallback_error:
        parts.append(f"fallback used after: {event.fallback_error}")
    return " · ".join(parts)


def detail_lines(event: Event) -> list[str]:
    """--verbose: a node's inputs when it starts, its outputs when it finishes (previews, one a line)."""
    if isinstance(event, NodeStarted):
        values, arrow = event.inputs, "in "
    elif isinstance(event, NodeFinished):
        values, arrow = event.outputs, "out"
    else:
        return []
    return [f"    {arrow} {name} = {_short(value, 400)}" for name, value in values.items()]


class LinePrinter:
    """Handler printing `event_line`s and streaming tokens, for pipes and replays.

    `verbose` adds each node's inputs and outputs (the previews the trace keeps).
    """

    def __init__(self, out: IO[str], *, verbose: bool = False) -> None:
        self.out = out
        self.verbose = verbose
        self.streaming: str | None = None  # node whose tokens are being written on this line

    def __call__(self, event: Event) -> None:
        if isinstance(event, NodeToken):
            self.token(event)
            return
        line = event_line(event)
        if line is not None:
            self.end_stream()
            self.write(line + "\n")
            for detail in detail_lines(event) if self.verbose else ():
                self.write(detail + "\n")

    def token(self, event: NodeToken) -> None:
        if self.streaming != event.node:
            self.end_stream()
            self.write(f"  {event.node} │ ")
            self.streaming = event.node
        self.write(event.text.replace("\n", f"\n  {event.node} │ "))

    def end_stream(self) -> None:
        if self.streaming is not None:
            self.write("\n")
            self.streaming = None

    def write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()


class LiveView:
    """Handler drawing a RunView with rich.Live until the run finishes (then it vanishes)."""

    def __init__(self, console: Console, view: RunView | None = None) -> None:
        self.view = view or RunView()
        self._lock = threading.Lock()  # Live redraws from its own thread
        self._live = Live(console=console, get_renderable=self.render, refresh_per_second=12,
                          transient=True)

    def __call__(self, event: Event) -> None:
        with self._lock:
            self.view.apply(event)
        if isinstance(event, RunStarted):
            self._live.start()
        elif isinstance(event, RunFinished):
            self.close()

    def render(self) -> RenderableType:
        with self._lock:
            return progress(self.view)

    def close(self) -> None:
        if self._live.is_started:
            self._live.stop()
