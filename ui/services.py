"""What the UI needs from the rest of chainloom, behind one small adapter.

`open_services()` gives the node registry, the store (flows with versions, runs
with events) and a Runner wired like `chainloom.runner()`; `read_import` parses and
validates an uploaded file without executing or saving anything and lists every
problem; `examples()` lists the example flows and `templates()` the starter
templates, both shipped as package data of the `flows` package (so every install
has them); `gallery()` is the list the empty canvas shows as cards.
"""

from __future__ import annotations

import getpass
import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from sqlalchemy import select

from engine.approvals import ApprovalRequest, StoreApprovals, decide
from engine.errors import FlowLoadError
from engine.flow import Flow, dumps_flow, load_flow, parse_flow, redacted_flow
from engine.registry import Registry
from engine.runner import Runner
from engine.store import Store, open_store
from engine.validate import Issue, check

EXAMPLES_ENV = "CHAINLOOM_EXAMPLES"
MAX_IMPORT_BYTES = 10 * 1024 * 1024


TEMPLATE_PREFIX = "template:"


def examples_dir() -> Path:
    """$CHAINLOOM_EXAMPLES, else the installed example flows (one resolver: nodes.support.paths)."""
    from nodes.support.paths import examples_dir as resolve  # noqa: PLC0415 - keeps ui start-up light

    return resolve()


def templates_dir() -> Path:
    return Path(str(resources.files("flows") / "templates"))


@dataclass
class Services:
    registry: Registry
    store: Store
    home: Path
    _runner: Runner | None = field(default=None, repr=False)

    def runner(self) -> Runner:
        """The engine Runner (default catalog, this store, trace files), made once."""
        if self._runner is None:
            import chainloom  # noqa: PLC0415 - keeps `import ui.services` light

            # Calls a policy gates wait in the store for a decision (the Run panel's Approve/Reject).
            gate = StoreApprovals(self.store.engine)
            self._runner = chainloom.runner(home=self.home, registry=self.registry,
                                            services={"approvals": gate})
        return self._runner

    def pending_approvals(self, run_id: str) -> list[PendingCall]:
        """The run's calls waiting for a person, oldest first."""
        from engine.store import approvals_table as a  # noqa: PLC0415 - sqlalchemy only when asked

        query = (select(a.c.id, a.c.node, a.c.tool, a.c.call)
                 .where(a.c.run_id == run_id, a.c.status == "pending").order_by(a.c.requested_at))
        with self.store.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [PendingCall(r.id, r.node, ApprovalRequest(run_id, r.node, r.tool, json.loads(r.call)).describe())
                for r in rows]

    def decide(self, approval_id: str, approved: bool, reason: str = "") -> bool:
        """Approve or reject a pending call from the UI; False when it was decided already."""
        return decide(self.store.engine, approval_id, status="approved" if approved else "rejected",
                      by=f"{_user()} in the UI", reason=reason)


@dataclass(frozen=True)
class PendingCall:
    """A call waiting for Approve/Reject: its approval id, node, and the call as people read it."""

    approval_id: str
    node: str
    shown: str


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "someone"


def open_services(home: str | os.PathLike[str] | None = None, registry: Registry | None = None) -> Services:
    import chainloom  # noqa: PLC0415
    from nodes.registry import default_registry  # noqa: PLC0415 - the whole catalog loads on first use

    base = chainloom.data_dir(home)
    return Services(registry or default_registry(), open_store(base), base)


@dataclass(frozen=True)
class Example:
    path: Path
    flow: Flow | None
    error: str = ""

    @property
    def title(self) -> str:
        if self.flow is None:
            return f"{self.path.stem} (cannot be read)"
        return self.flow.name or self.flow.id

    @property
    def key(self) -> str:
        """The gallery id: the file name without .json (templates: `template:<name>`)."""
        return (TEMPLATE_PREFIX if self.path.parent.name == "templates" else "") + self.path.stem


def examples(folder: Path | None = None) -> list[Example]:
    """Every *.json flow directly in the examples folder, sorted by file name."""
    folder = folder or examples_dir()
    out = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            out.append(Example(path, load_flow(path)))
        except FlowLoadError as err:
            out.append(Example(path, None, str(err)))
    return out


def templates() -> list[Example]:
    """The starter templates (RAG, chat with memory, agent with tools), sorted by file name."""
    return examples(templates_dir())


def find_example(key: str) -> Example | None:
    """An example or template by its gallery id."""
    pool = templates() if key.startswith(TEMPLATE_PREFIX) else examples()
    return next((e for e in pool if e.key == key and e.flow is not None), None)


def gallery() -> list[dict[str, str]]:
    """The cards of the empty canvas: templates first, then every readable example."""
    out = []
    for kind, pool in (("template", templates()), ("example", examples())):
        for e in pool:
            if e.flow is not None:
                out.append({"id": e.key, "name": e.title, "description": _first_sentence(e.flow.description),
                            "kind": kind})
    return out


def _first_sentence(text: str, limit: int = 160) -> str:
    head = text.split(". ")[0].rstrip(".") + "." if text else ""
    return head if len(head) <= limit else head[: limit - 1] + "…"


@dataclass(frozen=True)
class ImportResult:
    """An uploaded file, read and checked. `flow` is None when it could not be parsed."""

    flow: Flow | None
    problems: tuple[str, ...]    # parse errors, or validation issues of a parsed flow
    issues: tuple[Issue, ...] = ()

    @property
    def ok(self) -> bool:
        return self.flow is not None and not self.problems


def read_import(data: bytes, registry: Registry, name: str = "upload") -> ImportResult:
    """Parse and validate an uploaded flow file; executes and saves nothing."""
    if len(data) > MAX_IMPORT_BYTES:
        return ImportResult(None, (f"{name}: the file is {len(data)} bytes, over the {MAX_IMPORT_BYTES} limit",))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return ImportResult(None, (f"{name}: not UTF-8 text; save the flow as UTF-8 JSON",))
    try:
        flow = parse_flow(text, source=name)
    except FlowLoadError as err:
        return ImportResult(None, tuple(_load_problems(err, text, name)))
    issues = tuple(check(flow, registry)[1])
    return ImportResult(flow, tuple(str(i) for i in issues), issues)


def _load_problems(err: FlowLoadError, text: str, name: str) -> list[str]:
    """One line per problem (the engine words each one, naming the node by id)."""
    return [f"{name}: {i.message}" for i in err.issues] or [str(err)]


def export_text(flow: Flow) -> str:
    """The canonical flow file (secrets are variable names only; URL credentials masked)."""
    return dumps_flow(redacted_flow(flow))


def free_flow_id(base: str, store: Store) -> str:
    """`base`, or `base_2`, `base_3`, ... whichever no saved flow uses (ids stay <= 64 chars)."""
    taken = {f.id for f in store.list_flows()}
    if base not in taken:
        return base
    stem, n = base[:56], 2
    while f"{stem}_{n}" in taken:
        n += 1
    return f"{stem}_{n}"
