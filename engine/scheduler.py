"""The scheduler: runs a Plan, starting each node as soon as its inputs are resolved.

The main loop reads like its description: launch every ready node, wait for any
running one to finish, record it, pass its outputs along its edges (or mark those
edges skipped), repeat. Async nodes run on the loop, blocking ones in a thread
pool, cheap ones inline; a semaphore bounds concurrency. A failure stops the run
and cancels in-flight nodes; every node ends the trace with a terminal event.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any, Protocol

from engine.context import Redactor, RunContext, SecretResolver, env_secret
from engine.errors import (ChainloomError, FlowInputError, NodeError, NodeTimeout, PermanentError,
                           RunCancelled, RunTimeout)
from engine.events import (Event, Handler, NodeCancelled, NodeFailed, NodeFinished, NodeSkipped,
                           NodeStarted, RunFinished, RunStarted, dispatch, preview)
from engine.board import Board
from engine.validate import Plan, PlannedNode

_SHARED_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def shared_executor() -> ThreadPoolExecutor:
    """One process-wide pool for blocking nodes, made on first use."""
    global _SHARED_POOL
    with _POOL_LOCK:
        if _SHARED_POOL is None:
            _SHARED_POOL = ThreadPoolExecutor(max_workers=64, thread_name_prefix="chainloom-node")
        return _SHARED_POOL


class NodeCache(Protocol):
    def get(self, key: str) -> dict[str, Any] | None: ...
    def put(self, key: str, outputs: dict[str, Any]) -> None: ...


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


@dataclass
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

    def raise_for_status(self) -> RunResult:
        if self.error is not None:
            raise self.error
        return self


class _Fallback(Exception):
    """Internal: the node failed and its policy supplied fallback outputs."""

    def __init__(self, outputs: dict[str, Any], error: NodeError) -> None:
        self.outputs = outputs
        self.error = error


class Execution:
    """One run of one plan. Use `await Execution(...).execute()`, once."""

    def __init__(self, plan: Plan, inputs: Mapping[str, Any], handlers: Sequence[Handler] = (),
                 options: RunOptions | None = None) -> None:
        self.plan = plan
        self.inputs = dict(inputs)
        self.handlers = list(handlers)
        self.options = options or RunOptions()
        self.run_id = self.options.run_id or uuid.uuid4().hex
        self.trace = self.options.trace
        self.events: list[Event] = []
        self.status: dict[str, str] = dict.fromkeys(plan.nodes, "queued")
        self.board = Board(plan)
        self.outputs: dict[str, Any] = {}
        self.usage: dict[str, Any] = {}
        self.running: dict[str, asyncio.Task[None]] = {}
        self.finished: asyncio.Future[None] | None = None
        self.state: dict[str, dict[str, Any]] = {nid: {} for nid in plan.nodes}
        self.cancelled = threading.Event()
        self.redactor = Redactor()
        self.started_at: dict[str, float] = {}
        self.seq = 0
        self.t0 = perf_counter()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.loop_thread = 0
        self.semaphore = asyncio.Semaphore(max(1, self.options.max_concurrency))

    # ---------------------------------------------------------------- events
    def emit(self, event: Event) -> None:
        """Record an event; safe from worker threads (hops onto the loop)."""
        if self.loop is not None and threading.get_ident() != self.loop_thread:
            self.loop.call_soon_threadsafe(self._record, event)
        else:
            self._record(event)

    def _record(self, event: Event) -> None:
        self.seq += 1
        event.seq = self.seq
        event.t = perf_counter() - self.t0
        self.events.append(event)
        if self.handlers:
            dispatch(self.handlers, event)

    # ---------------------------------------------------------------- the run
    async def execute(self) -> RunResult:
        self.loop = asyncio.get_running_loop()
        self.loop_thread = threading.get_ident()
        self.check_flow_inputs()
        self.t0 = perf_counter()
        self._record(RunStarted(run_id=self.run_id, flow_id=self.plan.flow.id,
                                flow_name=self.plan.flow.name, inputs=preview(self.inputs),
                                nodes=list(self.plan.nodes), session_id=self.options.session_id))
        error: ChainloomError | None = None
        status = "succeeded"
        try:
            async with asyncio.timeout(self.options.timeout):
                await self.drive()
        except NodeError as err:
            status, error = "failed", err
        except TimeoutError as err:
            status = "timeout"
            error = RunTimeout(f"run passed its time limit of {self.options.timeout}s",
                               hint="raise the run timeout or make the slow node faster")
            error.__cause__ = err
        except asyncio.CancelledError:
            status, error = "cancelled", RunCancelled("run was cancelled")
        await self.stop_in_flight(error)
        return self.finish(status, error)

    async def drive(self) -> None:
        """Launch what is ready; each node task, when it ends, records itself and launches
        what became ready, so a finished node costs one event-loop step, not three."""
        assert self.loop is not None
        self.finished = self.loop.create_future()
        self.pump()
        await self.finished

    def pump(self) -> None:
        """Launch every ready node; settle `finished` when nothing is left running."""
        if self.finished is not None and self.finished.done():
            return  # the run is ending (failure, timeout): start nothing new
        ready = self.board.ready
        try:
            while ready:
                self.launch(ready.popleft())
        except BaseException as err:  # a failed inline node (NodeError), or a bug
            self.settle(err)
            return
        if not self.running:
            self.settle(None)

    def settle(self, error: BaseException | None) -> None:
        if self.finished is None or self.finished.done():
            return
        if error is None:
            self.finished.set_result(None)
        else:
            self.finished.set_exception(error)

    def launch(self, nid: str) -> None:
        node = self.plan.nodes[nid]
        inputs, skip_reason = self.board.inputs(node)
        if skip_reason is not None:
            self.skip(nid, skip_reason)
            return
        spec, policy = node.spec, node.policy
        if not (spec.is_async or spec.blocking or policy.timeout or policy.retries):
            outputs, usage, cached = self.run_inline(node, inputs)
            self.complete(nid, outputs, usage, cached=cached)
            return
        assert self.loop is not None
        self.status[nid] = "running"
        self.running[nid] = self.loop.create_task(self.node_task(node, inputs))

    async def node_task(self, node: PlannedNode, inputs: dict[str, Any]) -> None:
        try:
            outputs, usage, cached = await self.run_node(node, inputs)
            del self.running[node.id]
            self.complete(node.id, outputs, usage, cached=cached)
        except asyncio.CancelledError:
            raise
        except BaseException as err:  # NodeError, or a bug: either ends the run
            self.settle(err)
            return
        self.pump()

    # ---------------------------------------------------------------- inputs
    def check_flow_inputs(self) -> None:
        names = self.plan.input_nodes
        unknown = [k for k in self.inputs if k not in names]
        if unknown:
            takes = ", ".join(names) or "no inputs"
            raise FlowInputError(f"unknown flow input '{unknown[0]}'; this flow takes: {takes}")
        for name, nid in names.items():
            cfg = self.plan.nodes[nid].config
            if name not in self.inputs and getattr(cfg, "required", False) and getattr(cfg, "default", None) is None:
                raise FlowInputError(f"flow input '{name}' (node '{nid}') is required",
                                     hint=f"pass it, e.g. --input {name}=...")

    # ---------------------------------------------------------------- running
    def context(self, node: PlannedNode, attempt: int) -> RunContext:
        return RunContext(run_id=self.run_id, node_id=node.id, node_type=node.spec.type,
                          emit=self.emit, flow_inputs=self.inputs, services=self.options.services,
                          state=self.state[node.id], session_id=self.options.session_id,
                          secrets=self.options.secrets, redactor=self.redactor,
                          cancelled=self.cancelled, attempt=attempt)

    def started(self, node: PlannedNode, inputs: dict[str, Any], attempt: int) -> None:
        self.status[node.id] = "running"
        self.started_at[node.id] = perf_counter()
        if self.trace:
            self._record(NodeStarted(run_id=self.run_id, node=node.id, type=node.spec.type,
                                     inputs=preview(inputs), attempt=attempt))

    def run_inline(self, node: PlannedNode, inputs: dict[str, Any]
                   ) -> tuple[dict[str, Any], dict[str, Any], bool]:
        key = self.cache_key(node, inputs)
        if key is not None and (hit := self.options.cache.get(key)) is not None:  # type: ignore[union-attr]
            return hit, {}, True
        self.started(node, inputs, 1)
        ctx = self.context(node, 1)
        start = perf_counter()
        try:
            outputs = self.checked(node, node.spec.run(node.config, inputs, ctx))
        except Exception as err:  # noqa: BLE001 - every node failure becomes a NodeError
            error = self.node_error(node, err)
            self.failed(node, error, perf_counter() - start, 1, will_retry=False)
            if node.policy.on_error == "fallback":
                return self.fallback(node, error), ctx.usage_record, False
            raise error from err
        self.remember(key, outputs)
        return outputs, ctx.usage_record, False

    async def run_node(self, node: PlannedNode, inputs: dict[str, Any]
                       ) -> tuple[dict[str, Any], dict[str, Any], bool]:
        key = self.cache_key(node, inputs)
        if key is not None and (hit := self.options.cache.get(key)) is not None:  # type: ignore[union-attr]
            return hit, {}, True
        policy = node.policy
        attempts = 1 if node.spec.side_effects else 1 + policy.retries
        delay = policy.backoff
        for attempt in range(1, attempts + 1):
            ctx = self.context(node, attempt)
            async with self.semaphore:
                self.started(node, inputs, attempt)
                start = perf_counter()
                try:
                    outputs = self.checked(node, await self.call(node, inputs, ctx))
                except asyncio.CancelledError:
                    raise
                except Exception as err:  # noqa: BLE001
                    error = self.node_error(node, err)
                    retry = attempt < attempts and not isinstance(err, PermanentError)
                    self.failed(node, error, perf_counter() - start, attempt, will_retry=retry)
                    if retry:
                        await asyncio.sleep(delay)
                        delay *= 2
                        continue
                    if policy.on_error == "fallback":
                        return self.fallback(node, error), ctx.usage_record, False
                    raise error from err
            self.remember(key, outputs)
            return outputs, ctx.usage_record, False
        raise AssertionError("unreachable")  # pragma: no cover

    async def call(self, node: PlannedNode, inputs: dict[str, Any], ctx: RunContext) -> Any:
        spec = node.spec
        if spec.is_async:
            work: Any = spec.run(node.config, inputs, ctx)
        elif spec.blocking:
            assert self.loop is not None
            pool = self.options.executor or shared_executor()
            work = self.loop.run_in_executor(pool, spec.run, node.config, inputs, ctx)
        else:
            return spec.run(node.config, inputs, ctx)
        if node.policy.timeout is None:
            return await work
        try:
            return await asyncio.wait_for(work, node.policy.timeout)
        except TimeoutError as err:
            raise NodeTimeout(node.id, spec.type, f"took longer than its {node.policy.timeout}s limit",
                              hint="raise policy.timeout for this node, or make it faster") from err

    def checked(self, node: PlannedNode, outputs: Any) -> dict[str, Any]:
        if not isinstance(outputs, dict):
            raise TypeError(f"run() returned {type(outputs).__name__}, expected a dict of outputs")
        if not node.spec.router and node.spec.role is None:
            missing = [p for p in node.outputs if p not in outputs]
            if missing:
                raise TypeError(f"run() returned no value for output '{missing[0]}'")
        return outputs

    def node_error(self, node: PlannedNode, err: Exception) -> NodeError:
        if isinstance(err, NodeError) and err.node_id == node.id:
            return err
        hint = err.hint if isinstance(err, ChainloomError) else ""
        text = err.message if isinstance(err, ChainloomError) else f"{type(err).__name__}: {err}"
        error = NodeError(node.id, node.spec.type, self.redactor(text), hint=hint)
        error.__cause__ = err
        return error

    def failed(self, node: PlannedNode, error: NodeError, duration: float, attempt: int,
               *, will_retry: bool) -> None:
        self.status[node.id] = "failed"
        self._record(NodeFailed(run_id=self.run_id, node=node.id, type=node.spec.type,
                                error=error.reason, hint=error.hint, duration=round(duration, 6),
                                attempt=attempt, will_retry=will_retry))

    def fallback(self, node: PlannedNode, error: NodeError) -> dict[str, Any]:
        self.state[node.id]["__fallback__"] = error.reason
        return dict(node.policy.fallback or {})

    # ---------------------------------------------------------------- cache
    def cache_key(self, node: PlannedNode, inputs: dict[str, Any]) -> str | None:
        spec = node.spec
        if (self.options.cache is None or not spec.cacheable or spec.side_effects
                or spec.role == "input" or not node.policy.cache):
            return None
        try:
            body = json.dumps([spec.type, spec.version, node.config.model_dump(mode="json"), inputs],
                              sort_keys=True, ensure_ascii=False)
        except (TypeError, ValueError):
            return None  # live objects (clients, stores) are not hashable by content
        return hashlib.sha256(body.encode()).hexdigest()

    def remember(self, key: str | None, outputs: dict[str, Any]) -> None:
        if key is not None and self.options.cache is not None:
            self.options.cache.put(key, outputs)

    # ---------------------------------------------------------------- results
    def complete(self, nid: str, outputs: dict[str, Any], usage: dict[str, Any],
                 *, cached: bool = False) -> None:
        node = self.plan.nodes[nid]
        self.status[nid] = "cached" if cached else "done"
        fallback_error = self.state[nid].pop("__fallback__", None)
        if usage:
            self.add_usage(usage)
        if node.spec.role == "output":
            self.outputs[getattr(node.config, "name", nid)] = outputs.get("value")
        if self.trace:
            start = self.started_at.get(nid)
            self._record(NodeFinished(run_id=self.run_id, node=nid, type=node.spec.type,
                                      outputs=preview(outputs),
                                      duration=0.0 if start is None else round(perf_counter() - start, 6),
                                      usage=usage or None, cached=cached,
                                      fallback_error=fallback_error))
        self.board.deliver(nid, outputs)

    def skip(self, nid: str, reason: str) -> None:
        node = self.plan.nodes[nid]
        self.status[nid] = "skipped"
        self._record(NodeSkipped(run_id=self.run_id, node=nid, type=node.spec.type, reason=reason))
        self.board.skip(nid)

    def add_usage(self, usage: dict[str, Any]) -> None:
        total = self.usage
        for k in ("prompt_tokens", "completion_tokens", "total_tokens"):
            total[k] = total.get(k, 0) + int(usage.get(k, 0))
        if "cost" in usage:
            total["cost"] = round(total.get("cost", 0.0) + usage["cost"], 8)

    async def stop_in_flight(self, error: ChainloomError | None) -> None:
        """Cancel running nodes and give every unfinished node a terminal event."""
        self.cancelled.set()
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
                self._record(NodeCancelled(run_id=self.run_id, node=nid,
                                           type=self.plan.nodes[nid].spec.type,
                                           reason=why if state == "running" else "not started: " + why))

    def finish(self, status: str, error: ChainloomError | None) -> RunResult:
        duration = perf_counter() - self.t0
        failed_node = error.node_id if isinstance(error, NodeError) else None
        order = list(self.plan.output_nodes)
        self.outputs = {k: self.outputs[k] for k in sorted(self.outputs, key=order.index)}
        self._record(RunFinished(run_id=self.run_id, status=status, outputs=preview(self.outputs, 100_000),
                                 error=error.message if error else None,
                                 hint=error.hint if error else "", failed_node=failed_node,
                                 duration=round(duration, 6), usage=dict(self.usage)))
        return RunResult(self.run_id, self.plan.flow.id, status, self.outputs, error, duration,
                         dict(self.status), self.events, dict(self.usage))


async def execute(plan: Plan, inputs: Mapping[str, Any], handlers: Sequence[Handler] = (),
                  options: RunOptions | None = None) -> RunResult:
    """Run `plan` with `inputs`; never raises for node failures (see RunResult.error)."""
    return await Execution(plan, inputs, handlers, options).execute()
