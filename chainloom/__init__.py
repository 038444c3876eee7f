"""chainloom's Python API: run a flow file in two lines.

    import chainloom
    result = chainloom.run("flows/hello.json", question="What is chainloom?")

`result.status` is succeeded / failed / timeout / cancelled, `result.outputs` maps
output names to values, `result.error` says which node failed and why, and
`result.events` is the run's trace. A failing node does not raise; a flow that
cannot run at all does: FlowLoadError or NotFound (no such file or saved flow),
ValidationFailed (`.issues` lists every problem) and FlowInputError. The run is
recorded in the store and as `<home>/traces/<run_id>.jsonl`. The CLI, the UI and
the server are thin layers over `runner()` and `run()`. Importing this is cheap:
the engine, the node catalog and the database load on first use.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.events import Handler
    from engine.flow import Flow
    from engine.registry import Registry
    from engine.runner import Runner
    from engine.scheduler import RunResult
    from engine.store import Store

__all__ = ["data_dir", "load", "resolve", "run", "runner", "tweak"]

PathLike = str | os.PathLike[str]

# Engine names reachable as chainloom.<name> without importing the engine up front.
_LAZY = {
    "Flow": "engine.flow", "RunResult": "engine.scheduler", "Runner": "engine.runner",
    "ChainloomError": "engine.errors", "FlowLoadError": "engine.errors",
    "FlowInputError": "engine.errors", "NotFound": "engine.errors",
    "ValidationFailed": "engine.errors", "StaleVersion": "engine.errors",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'chainloom' has no attribute '{name}'")
    import importlib  # noqa: PLC0415

    return getattr(importlib.import_module(module), name)


def data_dir(home: PathLike | None = None) -> Path:
    """The data dir: `home`, else $CHAINLOOM_HOME, else ~/.chainloom."""
    from engine.home import default_home  # noqa: PLC0415

    return Path(home).expanduser() if home is not None else default_home()


def load(path: PathLike) -> Flow:
    """Read a flow file (executes nothing; FlowLoadError names the file, node and field)."""
    from engine.flow import load_flow  # noqa: PLC0415

    return load_flow(path)


def _looks_like_path(ref: str) -> bool:
    return ref.endswith(".json") or "/" in ref or os.sep in ref


def resolve(flow: Flow | PathLike, store: Store | None = None) -> tuple[Flow, int | None]:
    """A Flow from a Flow, a flow file, or a saved flow's id or name; with its saved version."""
    from engine.errors import NotFound  # noqa: PLC0415
    from engine.flow import Flow  # noqa: PLC0415

    if isinstance(flow, Flow):
        return flow, None
    ref = os.fspath(flow)
    if Path(ref).is_file():
        return load(ref), None
    from engine.store import open_store  # noqa: PLC0415 - a saved flow: only now open the store

    try:
        return (store or open_store()).get_flow(ref)
    except NotFound as err:
        if _looks_like_path(ref):
            load(ref)  # raises FlowLoadError: no such file
        raise NotFound(f"'{ref}' is neither a flow file nor a saved flow",
                       hint=f"check the path, or see the saved flows with `chainloom flows list` ({err.hint})"
                       ) from err


def runner(*, home: PathLike | None = None, registry: Registry | None = None, store: bool = True,
           trace: bool = True, services: Mapping[str, Any] | None = None,
           max_concurrency: int = 16) -> Runner:
    """An engine Runner with the default node catalog, the run store and trace files.

    Nodes find the data dir as `ctx.services["home"]` and the store as
    `ctx.services["store"]` (when `store` is on); `services` adds or overrides entries.
    """
    from engine.recording import StoreHandle  # noqa: PLC0415
    from engine.runner import Runner  # noqa: PLC0415
    from nodes.registry import default_registry  # noqa: PLC0415

    base = data_dir(home)
    # The store opens (SQLAlchemy, schema) only if something reads it; recording needs no more
    # than the process's writer thread.
    run_store = StoreHandle(home) if store else None
    injected: dict[str, Any] = {"home": base}
    if run_store is not None:
        injected["store"] = run_store
    injected.update(services or {})
    return Runner(registry or default_registry(), store=run_store,
                  trace_dir=base / "traces" if trace else None, services=injected,
                  max_concurrency=max_concurrency)


def tweak(flow: Flow, tweaks: Mapping[str, Mapping[str, Any]] | None, registry: Registry) -> Flow:
    """`flow` with per-run config changes; ValidationFailed lists every refused one.

    Only fields the flow marks `tweakable` may change, and never one that decides
    where data or credentials go (see engine.tweaks).
    """
    from engine.errors import ValidationFailed  # noqa: PLC0415
    from engine.tweaks import apply_tweaks  # noqa: PLC0415

    tweaked, issues = apply_tweaks(flow, tweaks, registry)
    if issues:
        raise ValidationFailed(issues)
    return tweaked


def run(flow: Flow | PathLike, inputs: Mapping[str, Any] | None = None, /, *,
        session_id: str | None = None, timeout: float | None = None,
        handlers: Sequence[Handler] = (), run_id: str | None = None,
        home: PathLike | None = None, tweaks: Mapping[str, Mapping[str, Any]] | None = None,
        **named_inputs: Any) -> RunResult:
    """Run a flow (a path, a Flow, or a saved flow's id or name) and return its RunResult.

    Inputs come as a dict, as keywords, or both (keywords win). An input whose name
    is one of this function's own keywords can only be given in the dict. `tweaks`
    ({node id: {field: value}}) changes fields the flow marks tweakable, for this run.
    """
    engine_runner = _default_runner(home)
    resolved, version = resolve(flow, engine_runner.store)  # type: ignore[arg-type]
    resolved = tweak(resolved, tweaks, engine_runner.registry)
    values = {**(inputs or {}), **named_inputs}
    return engine_runner.run(resolved, values, handlers=handlers, run_id=run_id,
                             session_id=session_id, timeout=timeout, flow_version=version)


_RUNNERS: dict[tuple[str | None, str | None, str | None], Runner] = {}


def _default_runner(home: PathLike | None) -> Runner:
    """`runner(home=home)`, made once per data dir and database (what `run` needs each call)."""
    key = (None if home is None else os.fspath(home), os.environ.get("CHAINLOOM_HOME"),
           os.environ.get("CHAINLOOM_DATABASE_URL"))
    made = _RUNNERS.get(key)
    if made is None:
        made = _RUNNERS[key] = runner(home=home)
    return made
