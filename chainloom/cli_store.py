"""The `chainloom` commands over stored things: runs, saved flows, and upgrading flow files.

`runs` lists recorded runs (`--status`, `--json`) and `runs show` replays one from
its stored events with the same lines and summary as a live run. `flows` lists,
saves (a new version; a stale base is refused), exports (canonical JSON), lists
versions of, deletes and diffs saved flows. `upgrade` migrates a flow file's nodes to the current node versions.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chainloom.term import EXIT_FAILED, EXIT_OK, EXIT_UNRUNNABLE, Term, print_error

if TYPE_CHECKING:
    from engine.flow import Flow
    from engine.store import RunRecord, Store


def _store() -> Store:
    from engine.store import open_store  # noqa: PLC0415

    return open_store()


def _when(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else ""


# ---------------------------------------------------------------- runs
def cmd_runs(args: argparse.Namespace, term: Term) -> int:
    if args.runs_command == "show":
        return cmd_runs_show(args, term)
    from rich.table import Table  # noqa: PLC0415

    from chainloom.live import ICONS, STYLES, fmt_duration, fmt_tokens  # noqa: PLC0415

    store = _store()
    store.sweep_orphans()  # a run whose process died is shown as interrupted, not running
    runs = store.list_runs(args.flow, args.limit if not args.status else max(args.limit, 1) * 50)
    if args.status:
        runs = [r for r in runs if r.status == args.status][:args.limit]
    if args.json:
        term.json([r.to_dict() for r in runs])
        return EXIT_OK
    if not runs:
        term.line("no runs recorded yet" + (f" for flow '{args.flow}'" if args.flow else "")
                  + (f" with status {args.status}" if args.status else ""))
        return EXIT_OK
    table = Table(header_style="bold")
    for column in ("run", "flow", "status", "started", "duration", "tokens"):
        table.add_column(column, justify="right" if column in ("duration", "tokens") else "left")
    for r in runs:
        status = r.status.replace("succeeded", "done")
        table.add_row(r.id[:12], r.flow_id + (f" v{r.flow_version}" if r.flow_version else ""),
                      f"[{STYLES.get(status, '')}]{ICONS.get(status, '▶')} {r.status}[/]",
                      _when(r.started_at), fmt_duration(r.duration),
                      fmt_tokens(r.usage.get("total_tokens") or None))
    term.out.print(table)
    return EXIT_OK


def cmd_runs_show(args: argparse.Namespace, term: Term) -> int:
    from chainloom.live import LinePrinter, RunView, print_outputs, summary_table  # noqa: PLC0415
    from engine.events import event_from_dict  # noqa: PLC0415

    store = _store()
    store.sweep_orphans()
    if len(args.run_id) < MIN_PREFIX and not _exact_run(store, args.run_id):
        term.line(f"✗ run id prefix '{args.run_id}' is too short: give the whole id or at least {MIN_PREFIX} "
                  f"characters of it", err=True)
        term.line("  hint: list recent runs and their ids with `chainloom runs`", err=True)
        return EXIT_FAILED
    record = store.get_run(args.run_id)
    term.line(_run_header(record))
    view, printer = RunView(), LinePrinter(term.out.file)
    for data in store.run_events(record.id):
        event = event_from_dict(data)
        view.apply(event)
        printer(event)
    term.out.print(summary_table(view))
    print_outputs(term.out, record.outputs)
    if record.error:
        term.line(f"✗ {record.error}", err=True)
        if record.hint:
            term.line(f"  hint: {record.hint}", err=True)
    return EXIT_OK


MIN_PREFIX = 6  # the store's rule for run id prefixes


def _exact_run(store: Store, run_id: str) -> bool:
    from engine.errors import NotFound  # noqa: PLC0415

    try:
        return store.get_run(run_id).id == run_id
    except NotFound:
        return False


def _run_header(r: RunRecord) -> str:
    version = f" v{r.flow_version}" if r.flow_version else ""
    session = f" · session {r.session_id}" if r.session_id else ""
    return f"stored run of flow {r.flow_id}{version} · {r.status} · started {_when(r.started_at)}{session}"


# ---------------------------------------------------------------- flows
def cmd_flows(args: argparse.Namespace, term: Term) -> int:
    commands = {"list": flows_list, "save": flows_save, "export": flows_export,
                "versions": flows_versions, "delete": flows_delete, "diff": flows_diff}
    return commands[args.flows_command](args, term)


def flows_list(args: argparse.Namespace, term: Term) -> int:
    from rich.table import Table  # noqa: PLC0415

    flows = _store().list_flows()
    if args.json:
        term.json([{"id": f.id, "name": f.name, "version": f.latest_version,
                    "updated": f.updated_at.isoformat() if f.updated_at else None} for f in flows])
        return EXIT_OK
    if not flows:
        term.line("no flows saved yet; save one with `chainloom flows save FILE`")
        return EXIT_OK
    table = Table(header_style="bold")
    for column in ("id", "name", "version", "updated"):
        table.add_column(column)
    for f in flows:
        table.add_row(f.id, f.name, str(f.latest_version), _when(f.updated_at))
    term.out.print(table)
    return EXIT_OK


def flows_save(args: argparse.Namespace, term: Term) -> int:
    import chainloom  # noqa: PLC0415
    from engine.errors import ChainloomError, ValidationFailed  # noqa: PLC0415
    from engine.validate import saving_issues  # noqa: PLC0415
    from nodes.registry import default_registry  # noqa: PLC0415

    try:
        flow = chainloom.load(args.file)
        issues = saving_issues(flow, default_registry())
        if issues:
            raise ValidationFailed(issues)
    except ChainloomError as err:
        print_error(term, err)
        if isinstance(err, ValidationFailed):
            term.line(f"{args.file} was not saved; fix every problem listed and save again", err=True)
        return EXIT_UNRUNNABLE
    store = _store()
    latest = _latest(store, flow.id)
    if latest is not None and args.base is None:
        term.line(f"✗ flow '{flow.id}' is already saved (version {latest})", err=True)
        term.line(f"  hint: if {args.file} is based on version {latest}, save it with --base {latest}; "
                  f"to keep both, give the file another id", err=True)
        return EXIT_FAILED
    if latest is not None and latest == args.base and _unchanged(store, flow):
        term.line(f"flow '{flow.id}' is unchanged; still version {latest}")
        return EXIT_OK
    version = store.save_flow(flow, args.base, message=args.message)
    term.line(f"✓ saved flow '{flow.id}' as version {version}")
    return EXIT_OK


def _latest(store: Store, flow_id: str) -> int | None:
    return next((f.latest_version for f in store.list_flows() if f.id == flow_id), None)


def _unchanged(store: Store, flow: Flow) -> bool:
    from engine.flow import dumps_flow  # noqa: PLC0415

    return dumps_flow(store.get_flow(flow.id)[0]) == dumps_flow(flow)


def flows_export(args: argparse.Namespace, term: Term) -> int:
    from engine.flow import atomic_write, dumps_flow, redacted_flow  # noqa: PLC0415

    flow, version = _store().get_flow(args.flow, args.version)
    text = dumps_flow(redacted_flow(flow))
    if args.output:
        atomic_write(args.output, text)
        term.line(f"✓ wrote flow '{flow.id}' version {version} to {args.output}", err=True)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def flows_versions(args: argparse.Namespace, term: Term) -> int:
    from rich.table import Table  # noqa: PLC0415

    table = Table(header_style="bold")
    for column in ("version", "saved", "message"):
        table.add_column(column)
    for v in _store().flow_versions(args.flow):
        table.add_row(str(v.version), _when(v.created_at), v.message)
    term.out.print(table)
    return EXIT_OK


def flows_delete(args: argparse.Namespace, term: Term) -> int:
    store = _store()
    flow_id = store.resolve_flow_id(args.flow)
    if not args.yes:
        if not sys.stdin.isatty():
            term.line(f"✗ not deleting flow '{flow_id}' without confirmation", err=True)
            term.line("  hint: pass --yes to delete it and all its versions", err=True)
            return EXIT_FAILED
        answer = input(f"delete flow '{flow_id}' and all its versions? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            term.line("not deleted")
            return EXIT_FAILED
    store.delete_flow(flow_id)
    term.line(f"✓ deleted flow '{flow_id}' and its versions (its recorded runs stay)")
    return EXIT_OK


def flows_diff(args: argparse.Namespace, term: Term) -> int:
    """A unified diff of two flows' canonical JSON: files, saved flows, or FLOW@VERSION."""
    import difflib  # noqa: PLC0415

    from engine.flow import dumps_flow  # noqa: PLC0415

    store = _store()
    texts = []
    for ref in (args.a, args.b):
        flow = _flow_at(ref, store)
        texts.append(dumps_flow(flow).splitlines(keepends=True))
    diff = list(difflib.unified_diff(texts[0], texts[1], fromfile=args.a, tofile=args.b))
    if not diff:
        term.line(f"{args.a} and {args.b} are the same flow")
        return EXIT_OK
    sys.stdout.writelines(diff)
    return EXIT_FAILED if args.exit_code else EXIT_OK


def _flow_at(ref: str, store: Store) -> Flow:
    import chainloom  # noqa: PLC0415

    name, at, version = ref.rpartition("@") if "@" in ref else (ref, "", "")
    if at and version.isdigit():
        return store.get_flow(name, int(version))[0]
    return chainloom.resolve(ref, store)[0]


# ---------------------------------------------------------------- upgrade
def cmd_upgrade(args: argparse.Namespace, term: Term) -> int:
    import chainloom  # noqa: PLC0415
    from chainloom.upgrade import upgrade_flow  # noqa: PLC0415
    from engine.errors import ChainloomError  # noqa: PLC0415
    from engine.flow import save_flow  # noqa: PLC0415
    from nodes.registry import default_registry  # noqa: PLC0415

    try:
        result = upgrade_flow(chainloom.load(args.file), default_registry())
    except ChainloomError as err:
        print_error(term, err)
        return EXIT_UNRUNNABLE
    for problem in result.problems:
        term.line(f"✗ {problem}", err=True)
    if result.problems:
        term.line(f"{args.file} was not changed", err=True)
        return EXIT_UNRUNNABLE
    for change in result.changes:
        term.line(f"~ {change}")
    if not result.changes:
        term.line(f"{args.file} is up to date")
    elif args.dry_run:
        term.line(f"{len(result.changes)} node(s) would be upgraded (dry run: nothing written)")
    else:
        save_flow(result.flow, args.file)
        term.line(f"✓ upgraded {len(result.changes)} node(s) in {args.file}")
    return EXIT_OK


# ---------------------------------------------------------------- parsers
def add_parsers(sub: Any) -> None:
    add_runs_parser(sub)
    add_flows_parser(sub)
    p = sub.add_parser("upgrade", help="migrate a flow file's nodes to the current node versions")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--dry-run", action="store_true", help="print what would change, write nothing")
    p.set_defaults(handler=cmd_upgrade)


def add_runs_parser(sub: Any) -> None:
    p = sub.add_parser("runs", help="list recorded runs; `runs show ID` replays one")
    p.add_argument("--flow", metavar="ID", help="only runs of this flow id")
    p.add_argument("--limit", type=int, default=20, metavar="N", help="how many (default 20)")
    p.add_argument("--status", choices=["running", "waiting_approval", "succeeded", "failed", "timeout",
                                        "cancelled", "interrupted"],
                   help="only runs that ended this way")
    p.add_argument("--json", action="store_true", help="print the runs as a JSON list")
    p.set_defaults(handler=cmd_runs, runs_command=None)
    runs_sub = p.add_subparsers(dest="runs_command", metavar="show")
    show = runs_sub.add_parser("show", help="replay a stored run: its node lines, summary and outputs")
    show.add_argument("run_id", metavar="RUN_ID", help="run id (a unique prefix of 6+ characters will do)")


def add_flows_parser(sub: Any) -> None:
    p = sub.add_parser("flows", help="saved flows with version history")
    flows_sub = p.add_subparsers(dest="flows_command", required=True,
                                 metavar="list|save|export|versions|delete|diff")
    p.set_defaults(handler=cmd_flows)
    listing = flows_sub.add_parser("list", help="list saved flows")
    listing.add_argument("--json", action="store_true", help="print them as a JSON list")
    delete = flows_sub.add_parser("delete", help="delete a saved flow and all its versions")
    delete.add_argument("flow", metavar="ID", help="saved flow id or name")
    delete.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    diff = flows_sub.add_parser("diff", help="show what changed between two flows")
    diff.add_argument("a", metavar="A", help="a flow file, a saved flow's id or name, or ID@VERSION")
    diff.add_argument("b", metavar="B")
    diff.add_argument("--exit-code", action="store_true", help="exit 1 when they differ (like git diff)")
    save = flows_sub.add_parser("save", help="save a flow file as a new version")
    save.add_argument("file", metavar="FILE")
    save.add_argument("--base", type=int, metavar="N",
                      help="the saved version FILE was based on (needed when the flow is already saved)")
    save.add_argument("--message", "-m", default="", help="a note kept with this version")
    export = flows_sub.add_parser("export", help="print a saved flow as canonical JSON")
    export.add_argument("flow", metavar="ID", help="saved flow id or name")
    export.add_argument("--version", type=int, metavar="N", help="a past version (default: latest)")
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE (atomically) instead")
    versions = flows_sub.add_parser("versions", help="list a saved flow's versions")
    versions.add_argument("flow", metavar="ID")
