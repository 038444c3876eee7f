"""The `chainloom` command: run, validate, nodes, runs, flows, upgrade, init, examples, completion.

A thin layer over the Python API (`chainloom.runner`, `chainloom.resolve`). Exit
codes: 0 success; 1 the run failed or a store command was refused; 2 nothing was
run (or, for `validate`, could run) because the flow or its inputs could not be
loaded or validated - and then every problem is printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from chainloom.term import EXIT_FAILED, EXIT_OK, EXIT_UNRUNNABLE, Term, issues_of, print_error

if TYPE_CHECKING:
    from chainloom.live import RunView
    from engine.events import Handler
    from engine.plan import Plan
    from engine.runner import Runner
    from engine.scheduler import RunResult

Command = Callable[[argparse.Namespace, Term], int]


# ---------------------------------------------------------------- inputs
def read_input_value(name: str, value: str) -> str:
    """`@file` reads a file, `@-` reads stdin, `@@text` is the literal `@text`."""
    from engine.errors import FlowInputError  # noqa: PLC0415

    if value.startswith("@@") or not value.startswith("@"):
        return value[1:] if value.startswith("@@") else value
    source = value[1:]
    if source == "-":
        return sys.stdin.read()
    try:
        return Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise FlowInputError(f"--input {name}=@{source}: cannot read the file: {err}",
                             hint="give a readable UTF-8 text file, or @@ for a value starting with @") from err


def parse_inputs(pairs: Sequence[str]) -> dict[str, str]:
    from engine.errors import FlowInputError  # noqa: PLC0415

    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise FlowInputError(f"--input '{pair}' is not NAME=VALUE",
                                 hint="e.g. --input question='What is chainloom?' or --input doc=@notes.txt")
        if name in values:
            raise FlowInputError(f"--input '{name}' is given twice", hint="give each input once")
        values[name] = read_input_value(name, value)
    return values


def parse_tweaks(pairs: Sequence[str]) -> dict[str, dict[str, Any]]:
    """`--tweak node.field=value` pairs; a value that parses as JSON is taken as JSON, else as text."""
    import json  # noqa: PLC0415

    from engine.errors import FlowInputError  # noqa: PLC0415

    tweaks: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        target, sep, raw = pair.partition("=")
        node_id, dot, field = target.strip().partition(".")
        if not sep or not dot or not node_id or not field:
            raise FlowInputError(f"--tweak '{pair[:100]}' is not NODE.FIELD=VALUE",
                                 hint="e.g. --tweak answer.temperature=0.2 or --tweak prompt.template='Hi {name}'")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        fields = tweaks.setdefault(node_id, {})
        if field in fields:
            raise FlowInputError(f"--tweak '{node_id}.{field}' is given twice", hint="give each field once")
        fields[field] = value
    return tweaks


# ---------------------------------------------------------------- run
def unrunnable(error: Any, args: argparse.Namespace, term: Term) -> int:
    if getattr(args, "json", False):
        term.json({"run_id": None, "status": "invalid", "outputs": {}, "error": error.message,
                   "hint": error.hint, "usage": {}, "duration": 0.0,
                   "issues": [i.to_dict() for i in issues_of(error)]})
    else:
        print_error(term, error)
    return EXIT_UNRUNNABLE


def prepare(args: argparse.Namespace) -> tuple[Runner, Plan, int | None, dict[str, str]]:
    """Load, resolve and validate everything; raises before anything runs."""
    import chainloom  # noqa: PLC0415
    from engine.errors import ValidationFailed  # noqa: PLC0415

    inputs = parse_inputs(args.input)
    tweaks = parse_tweaks(args.tweak)
    runner = chainloom.runner()
    flow, version = chainloom.resolve(args.flow, runner.store)  # type: ignore[arg-type]
    plan = runner.plan(chainloom.tweak(flow, tweaks, runner.registry))
    issues = plan.input_issues(inputs)
    if issues:
        raise ValidationFailed(issues)
    from chainloom.approve import terminal_gate  # noqa: PLC0415

    gate = terminal_gate(plan)  # refuses a gated flow when stdin is no terminal
    if gate is not None:
        runner.services["approvals"] = gate
    return runner, plan, version, inputs


def handlers_for(args: argparse.Namespace, term: Term,
                 live: bool = True) -> tuple[RunView, list[Handler], Callable[[], None]]:
    """The view that collects the run, the handlers that show it, and how to close them."""
    from chainloom.live import LinePrinter, LiveView, RunView  # noqa: PLC0415

    view = RunView()
    if args.json:
        return view, [], lambda: None
    if getattr(args, "verbose", False):  # every input and output: plain lines, also on a terminal
        return view, [view, LinePrinter(term.out.file, verbose=True)], lambda: None
    if live and term.live:
        display = LiveView(term.out, view)
        return view, [display], display.close
    return view, [view, LinePrinter(term.out.file)], lambda: None


def cmd_run(args: argparse.Namespace, term: Term) -> int:
    from engine.errors import ChainloomError, FlowInputError  # noqa: PLC0415

    try:
        runner, plan, version, inputs = prepare(args)
    except ChainloomError as err:
        return unrunnable(err, args, term)
    # Approval questions are asked on the terminal: plain lines then, no redrawn live table.
    view, handlers, close = handlers_for(args, term, live="approvals" not in runner.services)
    try:
        result = runner.run(plan, inputs, handlers=handlers, session_id=args.session,
                            timeout=args.timeout, flow_version=version)
    except FlowInputError as err:
        return unrunnable(err, args, term)
    finally:
        close()
    from engine.trace import wait_for_traces  # noqa: PLC0415

    wait_for_traces()  # the trace file is complete before the command returns
    code = report_run(result, view, args, term)
    if getattr(args, "own_process", False):
        exit_if_work_lingers(code, term)
    return code


LINGER_GRACE = 3.0  # seconds for interrupted nodes to notice before the process leaves them


def exit_if_work_lingers(code: int, term: Term) -> None:
    """After a stopped run, a node that could not be interrupted must not keep the process alive.

    Interrupted work (a SQLite query, a killed subprocess) ends within the grace period;
    anything still running then is abandoned: the run's record and trace are already
    written, so the process flushes its output and exits at once with the run's code.
    """
    import time  # noqa: PLC0415

    from engine.node_run import blocking_work_in_flight  # noqa: PLC0415

    deadline = time.monotonic() + LINGER_GRACE
    while blocking_work_in_flight() and time.monotonic() < deadline:
        time.sleep(0.05)
    if not blocking_work_in_flight():
        return
    from engine.recording import flush_recordings  # noqa: PLC0415

    flush_recordings()
    term.line(f"note: {blocking_work_in_flight()} node call(s) could not be interrupted; exiting "
              "without waiting for them", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def report_run(result: RunResult, view: RunView, args: argparse.Namespace, term: Term) -> int:
    from chainloom.live import print_outputs, summary_table  # noqa: PLC0415

    error = result.error
    if args.json:
        term.json(result.to_dict())
        return EXIT_OK if result.ok else EXIT_FAILED
    term.out.print(summary_table(view))
    print_outputs(term.out, result.outputs)
    if error is not None:
        print_error(term, error)
        term.line(f"  run {result.run_id} {result.status}; see it again with "
                  f"`chainloom runs show {result.run_id[:12]}`", err=True)
    return EXIT_OK if result.ok else EXIT_FAILED


# ---------------------------------------------------------------- validate, nodes
def cmd_validate(args: argparse.Namespace, term: Term) -> int:
    import chainloom  # noqa: PLC0415
    from chainloom.term import print_issues  # noqa: PLC0415
    from engine.errors import ChainloomError  # noqa: PLC0415
    from engine.validate import check  # noqa: PLC0415
    from nodes.registry import default_registry  # noqa: PLC0415

    try:
        flow, _ = chainloom.resolve(args.flow)
        plan, issues = check(flow, default_registry())
    except ChainloomError as err:
        plan, issues = None, issues_of(err)
    failed = any(i.severity == "error" for i in issues)
    code = EXIT_UNRUNNABLE if failed else EXIT_OK  # like `run`: 2 = this flow cannot run
    if args.json:
        term.json({"flow": args.flow, "valid": not failed, "issues": [i.to_dict() for i in issues]})
        return code
    print_issues(term, issues)  # errors, or only warnings: those do not stop a run
    if failed:
        term.line(f"{len(issues)} problem{'s' if len(issues) != 1 else ''} in {args.flow}")
    elif plan is not None:
        term.line(f"✓ {args.flow} is valid: {len(plan.nodes)} nodes, {len(plan.wires)} edges; "
                  f"inputs: {', '.join(plan.input_nodes) or 'none'}; "
                  f"outputs: {', '.join(plan.output_nodes) or 'none'}")
    return code


def cmd_nodes(args: argparse.Namespace, term: Term) -> int:
    from rich.table import Table  # noqa: PLC0415

    from nodes.registry import default_registry  # noqa: PLC0415

    registry = default_registry()
    families = registry.families()
    if args.family and args.family not in families:
        term.line(f"✗ no node family '{args.family}'; families are: {', '.join(families)}", err=True)
        return EXIT_FAILED
    chosen = {f: specs for f, specs in families.items() if args.family in (None, f)}
    if args.json:
        term.json([spec.describe() | {"source": registry.source(spec.type).to_dict()}
                   for specs in chosen.values() for spec in specs])
        return EXIT_OK
    for family, specs in chosen.items():
        table = Table(title=family, title_justify="left", title_style="bold", header_style="bold")
        for column in ("type", "v", "title", "inputs", "outputs", "from"):
            table.add_column(column, overflow="fold")
        for spec in specs:
            d = spec.describe()
            table.add_row(spec.type, str(spec.version), spec.title, _ports(d, "inputs"), _ports(d, "outputs"),
                          registry.source(spec.type).label())
        term.out.print(table)
    return EXIT_OK


def _ports(described: dict[str, Any], key: str) -> str:
    ports = ", ".join(f"{p['name']}: {p['type']}{'' if p['required'] or key == 'outputs' else '?'}"
                      for p in described[key])
    if described[f"dynamic_{key}"]:
        return f"{ports} (set by config)" if ports else "(set by config)"
    return ports


# ---------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    from chainloom import cli_store  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="chainloom", description="Build, run and inspect LLM flows.")
    parser.add_argument("--version", action=VersionAction)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_run_parser(sub)
    p = sub.add_parser("validate", help="check a flow and print every problem")
    p.add_argument("flow", metavar="FLOW", help="flow file, or a saved flow's id or name")
    p.add_argument("--json", action="store_true", help="print the issues as JSON")
    p.set_defaults(handler=cmd_validate)
    p = sub.add_parser("nodes", help="list the node catalog")
    p.add_argument("--json", action="store_true", help="print every node type's full description")
    p.add_argument("--family", help="only this family (e.g. llm, prompt, input)")
    p.set_defaults(handler=cmd_nodes)
    cli_store.add_parsers(sub)
    from chainloom import cli_tools  # noqa: PLC0415 - `init`, `examples`, `completion`

    cli_tools.add_parsers(sub)
    from server import cli as server_cli  # noqa: PLC0415 - `serve` and `keys`

    server_cli.add_parsers(sub)
    from ui import launch as ui_launch  # noqa: PLC0415 - `ui`

    ui_launch.add_parsers(sub)
    return parser


def add_run_parser(sub: Any) -> None:
    p = sub.add_parser("run", help="run a flow with a live trace",
                       description="Run a flow. Exit 0: succeeded; 1: the run failed; "
                                   "2: nothing ran (bad flow or inputs; every problem is printed).")
    p.add_argument("flow", metavar="FLOW", help="flow file, or a saved flow's id or name")
    p.add_argument("--input", "-i", action="append", default=[], metavar="NAME=VALUE",
                   help="a flow input; NAME=@file.txt reads a file, NAME=@- reads stdin")
    p.add_argument("--json", action="store_true",
                   help="print only a JSON object: run_id, flow_id, status, outputs, error, hint, "
                        "failed_node, usage, duration")
    p.add_argument("--tweak", "-t", action="append", default=[], metavar="NODE.FIELD=VALUE",
                   help="change a config field the flow marks tweakable, for this run (VALUE: JSON or text)")
    p.add_argument("--timeout", type=positive_float, metavar="S", help="stop the run after S seconds")
    p.add_argument("--session", metavar="ID", type=session_id,
                   help="session id (chat memory and history): letters, digits, _ . : @ -, up to 200")
    p.add_argument("--verbose", "-v", action="store_true", help="show each node's inputs and outputs, and every "
                   "agent step (tool, arguments, result)")
    p.set_defaults(handler=cmd_run)


class VersionAction(argparse.Action):
    """`--version`, looked up only when asked for: reading the installed distribution's
    metadata scans site-packages, which cost every command (even `--help`) ~0.1-0.2 s."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS,
                 default: str = argparse.SUPPRESS, help: str = "show the version and exit") -> None:  # noqa: A002
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        sys.stdout.write(f"chainloom {package_version()}\n")
        parser.exit()


def package_version() -> str:
    """The installed distribution's version (a checkout that is not installed says so)."""
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        return version("chainloom")
    except PackageNotFoundError:
        return "(not installed)"


def session_id(text: str) -> str:
    """--session under the API's session id rule."""
    from nodes.support.sessions import check_session  # noqa: PLC0415

    try:
        return check_session(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from err
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"'{text}' must be a positive number of seconds")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """The command. Called without `argv` (the console script) it is its own process, which
    may exit at once after a stopped run rather than wait for work it could not interrupt."""
    args = build_parser().parse_args(argv)
    args.own_process = argv is None
    term = Term.default()
    from engine.errors import ChainloomError  # noqa: PLC0415

    shown = warnings.showwarning
    warnings.showwarning = _plugin_warnings(term, shown)
    try:
        handler: Command = args.handler
        return handler(args, term)
    except ChainloomError as err:
        print_error(term, err)
        return EXIT_FAILED
    except KeyboardInterrupt:
        term.line("interrupted", err=True)
        return 130
    except BrokenPipeError:
        # The reader went away (`chainloom runs show ID | head`): stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    finally:
        warnings.showwarning = shown


def _plugin_warnings(term: Term, default: Callable[..., None]) -> Callable[..., None]:
    """A skipped plugin is one plain line on stderr, not Python's warning with a source line."""

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: TextIO | None = None, line: str | None = None) -> None:
        from nodes.plugins import PluginWarning  # noqa: PLC0415 - only when a warning is shown

        if issubclass(category, PluginWarning):
            term.line(f"⚠ {message}", err=True)
        else:
            default(message, category, filename, lineno, file, line)

    return show


if __name__ == "__main__":
    sys.exit(main())
