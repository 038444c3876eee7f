"""The scheduler: runs a Plan, starting each node as soon as its inputs are resolved.

The main loop reads like its description: take the ready nodes, resolve their
inputs from the board, run each (`engine.node_run`: policy, retries, fallback),
record how it ended and pass its outputs along its edges (or mark them skipped).
Inline nodes run right in the loop, the others in tasks that re-enter it when they
end. A failure stops the run and cancels in-flight nodes; every node ends the
trace with a terminal event.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

from engine.board import Board
from engine.context import SecretResolver, env_secret
from engine.errors import ChainloomError, NodeError, RunCancelled, RunTimeout
from engine.events import (
    Event,
    EventLog,
    Handler,
    NodeCancelled,
    NodeFinished,
    NodeSkipped,
    RunFinished,
    RunStarted,
    preview,
)
from engine.node_run import NodeCache, NodeRunner, Outcome, RunScope
from engine.plan import Plan, PlannedNode

__all__ = ["Execution", "NodeCache", "RunOptions", "RunResult", "execute"]


@dataclass
class RunOptions:
    run_id: str | None = None
    max_concurrency: int = 16
    timeout: float | None = None
    trace: bool = True           # False: only run.started / run.finished are emitted
    session_id: str | None = None
    services: Mapping[str, Any] = field(default_factory=dict)
    secrets: SecretResolver = env_secret
    cache: NodeCache | None = None
    executor: Executor | None = None


@dataclass(repr=False)
class RunResult:
    run_id: str
    flow_id: str
    status: str  # succeeded | failed | timeout | cancelled
    outputs: dict[str, Any]
    error: ChainloomError | None
    duration: float
    node_status: dict[str, str]
    events: list[Event]
    usage: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"

    def __repr__(self) -> str:
        # Short on purpose: asyncio formats the repr of a finished run's task on the way
        # out of asyncio.run, and a repr holding every event took milliseconds.
        return (f"RunResult(run_id={self.run_id!r}, flow_id={self.flow_id!r}, status={self.status!r}, "
                f"outputs=<{len(self.outputs)}>, events=<{len(self.events)}>)")

    def raise_for_status(self) -> RunResult:
        if self.error is not None:
            raise self.error
        return self

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON types, as the CLI's --json and the API return it.

        Outputs that are not JSON (documents, messages) become their pydantic dump, else text.
        """
        error = self.error
        return {"run_id": self.run_id, "flow_id": self.flow_id, "status": self.status,
                "outputs": json.loads(json.dumps(self.outputs, default=_json_default, ensure_ascii=False)),
                "error": error.message if error else None, "hint": error.hint if error else "",
                "failed_node": error.node_id if isinstance(error, NodeError) else None,
                "usage": self.usage, "duration": round(self.duration, 6)}


def _json_default(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    return dump(mode="json") if callable(dump) else str(value)


class Execution:
    """One run of one plan. Use `await Execution(...).execute()`, once."""

    def __init__(self, plan: Plan, inputs: Mapping[str, Any], handlers: Sequence[Handler] = (),
                 options: RunOptions | None = None) -> None:
        self.plan = plan
        self.inputs = dict(inputs)
        self.options = opts = options or RunOptions()
        self.run_id = opts.run_id or uuid.uuid4().hex
        self.log = EventLog(list(handlers))
        scope = RunScope(self.run_id, self.inputs, opts.services, opts.session_id, opts.secrets,
                         opts.cache, opts.executor, opts.trace)
        self.nodes = NodeRunner(scope, self.log, opts.max_concurrency)
        self.board = Board(plan)
        self.status: dict[str, str] = dict.fromkeys(plan.nodes, "queued")
        self.outputs: dict[str, Any] = {}
        self.usage: dict[str, Any] = {}
        self.running: dict[str, asyncio.Task[None]] = {}
        self.finished: asyncio.Future[None]  # set when nothing is left to run, or the run must end

    async def execute(self) -> RunResult:
        self.plan.check_inputs(self.inputs)
        self.log.start()
        self.log.record(RunStarted(run_id=self.run_id, flow_id=self.plan.flow.id,
                                   flow_name=self.plan.flow.name, inputs=preview(self.inputs),
                                   nodes=list(self.plan.nodes), session_id=self.options.session_id))
        status, error = await self.drive()
        await self.stop_in_flight(error)
        return self.finish(status, error)

    async def drive(self) -> tuple[str, ChainloomError | None]:
        """Run nodes until none is left or the run must end; say how it ended."""
        self.finished = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(self.options.timeout) as limit:
                self.nodes.scope.clock.limit = limit  # approvals pause it while a person decides
                self.run_ready()
                await self.finished
        except NodeError as err:
            return "failed", err
        except TimeoutError as err:
            error = RunTimeout(f"run passed its time limit of {self.options.timeout}s",
                               hint="raise the run timeout or make the slow node faster")
            error.__cause__ = err
            return "timeout", error
        except asyncio.CancelledError:
            return "cancelled", RunCancelled("run was cancelled")
        return "succeeded", None

    # ------------------------------------------- the loop: ready nodes, inputs, run, record
    def run_ready(self) -> None:
        """Start every ready node. Inline nodes run to their end right here, the others
        in a task that records its node and calls this again when it ends."""
        ready = self.board.ready
        try:
            while ready and not self.finished.done():
                node = self.plan.nodes[ready.popleft()]
                inputs, skip_reason = self.board.inputs(node)
                if skip_reason is not None:
                    self.record(node, Outcome(None, skip_reason=skip_reason))
                elif node.inline:
                    self.record(node, self.nodes.run_inline(node, inputs))
                else:
                    self.status[node.id] = "running"
                    self.running[node.id] = asyncio.create_task(self.run_in_task(node, inputs))
        except BaseException as err:  # noqa: BLE001 - a bug (engine, handler): end the run with it, loudly
            self.end(err)
            return
        if not self.running:
            self.end(None)

    async def run_in_task(self, node: PlannedNode, inputs: dict[str, Any]) -> None:
        try:
            outcome = await self.nodes.run(node, inputs)
            del self.running[node.id]
            self.record(node, outcome)
        except asyncio.CancelledError:
            raise
        except BaseException as err:  # noqa: BLE001 - a bug: end the run with it
            self.end(err)
            return
        self.run_ready()

    def record(self, node: PlannedNode, outcome: Outcome) -> None:
        """Note how `node` ended and pass its outputs along its edges; a failure ends the run."""
        self.status[node.id] = outcome.status
        if outcome.outputs is not None:
            self.finished_node(node, outcome, outcome.outputs)
        elif outcome.skip_reason is not None:
            self.log.record(NodeSkipped(run_id=self.run_id, node=node.id, type=node.spec.type,
                                        reason=outcome.skip_reason))
            self.board.skip(node.id)
        else:
            self.end(outcome.error)

    def finished_node(self, node: PlannedNode, outcome: Outcome, outputs: dict[str, Any]) -> None:
        if outcome.usage:
            add_usage(self.usage, outcome.usage)
        if node.spec.role == "output":
            self.outputs[getattr(node.config, "name", node.id)] = outputs.get("value")
        if self.options.trace:
            fallback_error = outcome.error.reason if outcome.error is not None else None
            self.log.record(NodeFinished(run_id=self.run_id, node=node.id, type=node.spec.type,
                                         outputs=preview(outputs), duration=round(outcome.duration, 6),
                                         usage=outcome.usage or None, cached=outcome.cached,
                                         fallback_error=fallback_error))
        self.board.deliver(node.id, outputs)

    def end(self, error: BaseException | None) -> None:
        """Settle the run: nothing left to do (None), or stop with `error`."""
        if self.finished.done():
            return
        if error is None:
            self.finished.set_result(None)
        else:
            self.finished.set_exception(error)

    # ------------------------------------------------------------------ the end
    async def stop_in_flight(self, error: ChainloomError | None) -> None:
        """Cancel running nodes and give every unfinished node a terminal event."""
        self.nodes.scope.cancelled.set()
        tasks = list(self.running.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self.running.clear()
        why = f"run stopped: {error.message}" if error else "run stopped"
        for nid, state in self.status.items():
            if state in ("queued", "running"):
                self.status[nid] = "cancelled"
                self.log.record(NodeCancelled(run_id=self.run_id, node=nid,
                                              type=self.plan.nodes[nid].spec.type,
                                              reason=why if state == "running" else "not started: " + why))

    def finish(self, status: str, error: ChainloomError | None) -> RunResult:
        duration = perf_counter() - self.log.t0
        failed_node = error.node_id if isinstance(error, NodeError) else None
        order = list(self.plan.output_nodes)
        self.outputs = {k: self.outputs[k] for k in sorted(self.outputs, key=order.index)}
        self.log.record(RunFinished(run_id=self.run_id, status=status,
                                    outputs=preview(self.outputs, 100_000),
                                    error=error.message if error else None,
                                    hint=error.hint if error else "", failed_node=failed_node,
                                    duration=round(duration, 6), usage=dict(self.usage)))
        return RunResult(self.run_id, self.plan.flow.id, status, self.outputs, error, duration,
                         dict(self.status), self.log.events, dict(self.usage))


def add_usage(total: dict[str, Any], usage: Mapping[str, Any]) -> None:
    """Add one node's token usage (and cost) to the run's total."""
    for k in ("prompt_tokens", "completion_tokens", "total_tokens"):
        total[k] = total.get(k, 0) + int(usage.get(k, 0))
    if "cost" in usage:
        total["cost"] = round(total.get("cost", 0.0) + usage["cost"], 8)


async def execute(plan: Plan, inputs: Mapping[str, Any], handlers: Sequence[Handler] = (),
                  options: RunOptions | None = None) -> RunResult:
    """Run `plan` with `inputs`; never raises for node failures (see RunResult.error)."""
    return await Execution(plan, inputs, handlers, options).execute()
