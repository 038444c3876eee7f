"""Running one node under its policy, and the Outcome that comes back.

`NodeRunner.run(node, inputs)` looks in the cache, emits node.started, calls the
node (inline, on the loop, or in the thread pool, within its time limit), retries
with backoff where the policy allows it, falls back or fails, and returns an
`Outcome`. It never raises for a node failure; it records started/failed events,
while the scheduler records how the node ended (finished, failed, skipped).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections.abc import Coroutine, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any, Protocol, TypeVar

from engine.approvals import ApprovalRejected, ApprovalRequest, rejection_text
from engine.context import Redactor, RunContext, SecretResolver
from engine.errors import ChainloomError, NodeError, NodeTimeout, PermanentError
from engine.events import EventLog, NodeFailed, NodeStarted, preview
from engine.plan import PlannedNode
from engine.ports import PortType

T = TypeVar("T")

_SHARED_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def shared_executor() -> ThreadPoolExecutor:
    """One process-wide pool for blocking nodes, made on first use."""
    global _SHARED_POOL
    with _POOL_LOCK:
        if _SHARED_POOL is None:
            _SHARED_POOL = ThreadPoolExecutor(max_workers=64, thread_name_prefix="chainloom-node")
        return _SHARED_POOL


_IN_FLIGHT = 0  # blocking node calls running in pool threads, across all runs of this process


def _tracked(fn: Any, *args: Any) -> Any:
    """Run a blocking node function, counted while it runs (see `blocking_work_in_flight`)."""
    global _IN_FLIGHT
    with _POOL_LOCK:
        _IN_FLIGHT += 1
    try:
        return fn(*args)
    finally:
        with _POOL_LOCK:
            _IN_FLIGHT -= 1


def blocking_work_in_flight() -> int:
    """How many blocking node calls are still running: after a run stopped, the ones that
    could not be interrupted. A command-line process exits without waiting for them."""
    return _IN_FLIGHT


class NodeCache(Protocol):
    def get(self, key: str) -> dict[str, Any] | None: ...
    def put(self, key: str, outputs: dict[str, Any]) -> None: ...


@dataclass(slots=True)
class Outcome:
    """How one node ended. `outputs` is None when it failed or was skipped.

    `error` is set when the node failed; with `outputs` also set, the outputs are
    the policy's fallback and `error` is why they were needed.
    """

    outputs: dict[str, Any] | None
    error: NodeError | None = None
    skip_reason: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    duration: float = 0.0
    attempts: int = 0
    cached: bool = False

    @property
    def status(self) -> str:
        """The node's final status: done, cached, skipped or failed."""
        if self.outputs is None:
            return "skipped" if self.skip_reason is not None else "failed"
        return "cached" if self.cached else "done"


class RunClock:
    """The run's time limit, which stands still while a person decides an approval."""

    def __init__(self) -> None:
        self.limit: asyncio.Timeout | None = None
        self.holds = 0
        self.deadline: float | None = None
        self.since = 0.0

    def hold(self) -> None:
        """Stop the clock (the first of any concurrent waits); on the event loop's thread."""
        limit = self.limit
        if limit is None or limit.expired():
            return
        if self.holds == 0:
            self.deadline, self.since = limit.when(), asyncio.get_running_loop().time()
            limit.reschedule(None)
        self.holds += 1

    def release(self) -> None:
        """Start it again once the last wait ended, with the waited time added to the deadline."""
        if self.holds == 0 or self.limit is None:
            return
        self.holds -= 1
        if self.holds == 0 and self.deadline is not None:
            waited = asyncio.get_running_loop().time() - self.since
            self.limit.reschedule(self.deadline + waited)


@dataclass(frozen=True, slots=True)
class RunScope:
    """What every node of one run shares: ids, inputs, services and the stop signal."""

    run_id: str
    flow_inputs: Mapping[str, Any]
    services: Mapping[str, Any]
    session_id: str | None
    secrets: SecretResolver
    cache: NodeCache | None
    executor: Executor | None
    trace: bool
    redactor: Redactor = field(default_factory=Redactor)
    cancelled: threading.Event = field(default_factory=threading.Event)
    clock: RunClock = field(default_factory=RunClock)


def run_now(work: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (an inline node) to its end, with no task.

    Inline nodes have no pool, time limit or retries, so nothing in `NodeRunner.run`
    awaits for real: this saves the event-loop round trip a task would cost.
    """
    try:
        work.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    work.close()
    raise RuntimeError("an inline node suspended; only nodes without pool, timeout or retries run inline")


def handles_tools(node: PlannedNode) -> bool:
    """Tool nodes and agents: their approval applies to each tool call, not to the node's run."""
    ports = [*node.inputs.values(), *node.outputs.values()]
    return any(port.type == PortType.TOOL for port in ports)


async def approved(node: PlannedNode, inputs: dict[str, Any], ctx: RunContext) -> None:
    """Ask a person before the node runs; ApprovalRejected (no retry) when they say no."""
    call = {"node": node.id, "inputs": preview(inputs, 500)}
    decision = await ctx.approve(node.spec.type, call)
    if not decision.approved:
        request = ApprovalRequest(ctx.run_id, node.id, node.spec.type, call)
        raise ApprovalRejected(rejection_text(request, decision),
                               hint="the node did not run; run the flow again to ask again")


class NodeRunner:
    """Runs the nodes of one run, one call per node, each under its own policy."""

    def __init__(self, scope: RunScope, log: EventLog, max_concurrency: int) -> None:
        self.scope = scope
        self.log = log
        self.semaphore = asyncio.Semaphore(max(1, max_concurrency))
        self.state: dict[str, dict[str, Any]] = {}

    async def run(self, node: PlannedNode, inputs: dict[str, Any]) -> Outcome:
        """Cache, then attempts until one succeeds, the retries run out or the error is permanent."""
        key = self.cache_key(node, inputs)
        if key is not None and (hit := self.scope.cache.get(key)) is not None:  # type: ignore[union-attr]
            return Outcome(hit, cached=True)
        attempts = 1 if node.spec.side_effects else 1 + node.policy.retries
        delay = node.policy.backoff
        attempt = 1
        while True:
            ctx = self.context(node, attempt)
            start = perf_counter()
            if not node.inline:  # inline nodes run on the loop one at a time: they take no slot
                await self.semaphore.acquire()
            try:
                start = self.started(node, inputs, attempt)
                outputs = checked(node, await self.call(node, inputs, ctx))
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: BLE001 - every node failure becomes a NodeError
                error = node_error(node, err, self.scope.redactor)
                retry = attempt < attempts and not isinstance(err, PermanentError)
                self.failed(node, error, perf_counter() - start, attempt, will_retry=retry)
                if not retry:
                    return self.gave_up(node, error, ctx, start, attempt)
            else:
                if key is not None:
                    self.scope.cache.put(key, outputs)  # type: ignore[union-attr]
                return Outcome(outputs, usage=ctx.usage_record, duration=perf_counter() - start,
                               attempts=attempt)
            finally:
                if not node.inline:
                    self.semaphore.release()
            await asyncio.sleep(delay)  # reached only to retry
            delay *= 2
            attempt += 1

    def run_inline(self, node: PlannedNode, inputs: dict[str, Any]) -> Outcome:
        """`run` for an inline node (no pool, time limit or retry: one attempt, no await),
        as a plain call: no coroutine to make and drive for the cheapest nodes."""
        cache = self.scope.cache
        key = None if cache is None else self.cache_key(node, inputs)
        if key is not None and (hit := cache.get(key)) is not None:  # type: ignore[union-attr]
            return Outcome(hit, cached=True)
        ctx = self.context(node, 1)
        start = self.started(node, inputs, 1)
        try:
            outputs = checked(node, node.spec.run(node.config, inputs, ctx))
        except Exception as err:  # noqa: BLE001 - every node failure becomes a NodeError
            error = node_error(node, err, self.scope.redactor)
            self.failed(node, error, perf_counter() - start, 1, will_retry=False)
            return self.gave_up(node, error, ctx, start, 1)
        if key is not None:
            cache.put(key, outputs)  # type: ignore[union-attr]
        return Outcome(outputs, usage=ctx.usage_record, duration=perf_counter() - start, attempts=1)

    def gave_up(self, node: PlannedNode, error: NodeError, ctx: RunContext, start: float,
                attempt: int) -> Outcome:
        """The last attempt failed: the policy's fallback outputs, or the failure."""
        fallback = dict(node.policy.fallback or {}) if node.policy.on_error == "fallback" else None
        return Outcome(fallback, error, usage=ctx.usage_record, duration=perf_counter() - start,
                       attempts=attempt)

    async def call(self, node: PlannedNode, inputs: dict[str, Any], ctx: RunContext) -> Any:
        spec = node.spec
        if node.policy.require_approval is True and not handles_tools(node):
            await approved(node, inputs, ctx)  # the wait for a person is outside the time limit
        if spec.is_async:
            work: Any = spec.run(node.config, inputs, ctx)
        elif spec.blocking:
            pool = self.scope.executor or shared_executor()
            work = asyncio.get_running_loop().run_in_executor(pool, _tracked, spec.run, node.config, inputs, ctx)
        else:
            return spec.run(node.config, inputs, ctx)
        try:
            if node.policy.timeout is None:
                return await work
            return await asyncio.wait_for(work, node.policy.timeout)
        except TimeoutError as err:
            ctx.stop()  # the work itself is interrupted, not only abandoned
            raise NodeTimeout(node.id, spec.type, f"took longer than its {node.policy.timeout}s limit",
                              hint="raise policy.timeout for this node, or make it faster") from err
        except asyncio.CancelledError:
            ctx.stop()  # the run timed out, failed elsewhere or was cancelled
            raise

    def context(self, node: PlannedNode, attempt: int) -> RunContext:
        scope = self.scope
        state = self.state.get(node.id)
        if state is None:
            state = self.state[node.id] = {}
        return RunContext(run_id=scope.run_id, node_id=node.id, node_type=node.spec.type,
                          emit=self.log.emit, flow_inputs=scope.flow_inputs, services=scope.services,
                          state=state, session_id=scope.session_id, secrets=scope.secrets,
                          redactor=scope.redactor, cancelled=scope.cancelled, attempt=attempt,
                          approval=node.policy.require_approval, clock=scope.clock)

    def started(self, node: PlannedNode, inputs: dict[str, Any], attempt: int) -> float:
        """Emit node.started (when tracing); the attempt's start time."""
        if self.scope.trace:
            self.log.record(NodeStarted(run_id=self.scope.run_id, node=node.id, type=node.spec.type,
                                        inputs=preview(inputs), attempt=attempt))
        return perf_counter()

    def failed(self, node: PlannedNode, error: NodeError, duration: float, attempt: int,
               *, will_retry: bool) -> None:
        self.log.record(NodeFailed(run_id=self.scope.run_id, node=node.id, type=node.spec.type,
                                   error=error.reason, hint=error.hint, duration=round(duration, 6),
                                   attempt=attempt, will_retry=will_retry))

    def cache_key(self, node: PlannedNode, inputs: dict[str, Any]) -> str | None:
        """hash(type, version, config, inputs), or None when this node's result is not reused."""
        spec = node.spec
        if (self.scope.cache is None or not spec.cacheable or spec.side_effects
                or spec.role == "input" or not node.policy.cache):
            return None
        try:
            body = json.dumps([spec.type, spec.version, node.config.model_dump(mode="json"), inputs],
                              sort_keys=True, ensure_ascii=False)
        except (TypeError, ValueError):
            return None  # live objects (clients, stores) are not hashable by content
        return hashlib.sha256(body.encode()).hexdigest()


def checked(node: PlannedNode, outputs: Any) -> dict[str, Any]:
    """The node's outputs, if they keep its contract: a dict of declared outputs only.

    A router may leave outputs out (those edges are skipped); other nodes return all of
    them. An output node returns its flow output as `value`.
    """
    if not isinstance(outputs, dict):
        raise PermanentError(f"run() returned {type(outputs).__name__}, expected a dict of outputs")
    declared = node.outputs
    if outputs.keys() == declared.keys():
        return outputs  # the common case: exactly the declared outputs
    for key in outputs:
        if key not in declared and not (key == "value" and node.spec.role == "output"):
            undeclared = [k for k in outputs if k not in declared]
            raise PermanentError(_undeclared_message(undeclared, declared),
                                 hint="return only the declared outputs, or declare the port")
    if not node.spec.router and node.spec.role is None and len(outputs) < len(declared):
        missing = [p for p in declared if p not in outputs]
        raise PermanentError(f"run() returned no value for output '{missing[0]}'")
    return outputs


def _undeclared_message(undeclared: list[str], declared: Mapping[str, Any]) -> str:
    names = ", ".join(f"'{k}'" if isinstance(k, str) else repr(k) for k in undeclared)
    noun = "output" if len(undeclared) == 1 else "outputs"
    return (f"returned undeclared {noun} {names}; declared outputs are: "
            f"{', '.join(declared) or 'none'}")


def node_error(node: PlannedNode, err: Exception, redact: Redactor) -> NodeError:
    """`err` as this node's NodeError (secret values masked), with `err` as its cause."""
    if isinstance(err, NodeError) and err.node_id == node.id:
        return err
    hint = err.hint if isinstance(err, ChainloomError) else ""
    text = err.message if isinstance(err, ChainloomError) else f"{type(err).__name__}: {err}"
    error = NodeError(node.id, node.spec.type, redact(text), hint=hint)
    error.__cause__ = err
    return error
