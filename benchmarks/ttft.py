"""Time to first token: through chainloom, side by side with the provider SDK's own.

    python benchmarks/ttft.py [rounds]

A fake OpenAI-compatible server on 127.0.0.1 streams a short answer. Each round
measures, in turn on one event loop, the time from "ask" to the first streamed
piece of text for: the real `openai` client reused across calls (the floor: what
a hand-written script gets), the same client made per call (as chainloom's provider
does, on a shared TLS context), chainloom's provider layer (ConfiguredModel with
retries and pricing), and a whole flow (input -> prompt.template -> llm.chat ->
output) run by the engine, from `Runner.arun` to the first `node.token` event a
handler receives - once with the plan compiled in advance (as the server caches
it) and once compiling the flow in the call. Prints medians, p90s and the added
milliseconds over the floor.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import openai

from engine.events import Event
from engine.flow import parse_flow
from engine.runner import Runner
from nodes.registry import default_registry
from nodes.support.messages import Message
from nodes.support.providers.base import ChatRequest
from nodes.support.providers.config import ModelConfig
from nodes.support.providers.model import ConfiguredModel
from nodes.support.providers.openai_compat import OpenAICompatModel
from tests.fakes.openai_server import TEST_KEY, FakeOpenAIServer

KEY_ENV = "CHAINLOOM_BENCH_KEY"
MODEL = "fake-model"
Probe = Callable[[], Awaitable[float]]


def flow_body(url: str) -> dict[str, Any]:
    return {"schema_version": 1, "id": "ttft", "nodes": [
        {"id": "q", "type": "input.text", "config": {"name": "q", "default": "Say hello"}},
        {"id": "p", "type": "prompt.template", "config": {"template": "Answer briefly: {q}"}},
        {"id": "llm", "type": "llm.chat", "config": {"provider": "openai", "base_url": url, "model": MODEL,
                                                     "api_key_env": KEY_ENV}},
        {"id": "out", "type": "output.text", "config": {"name": "answer"}}],
        "edges": [{"from": "q.text", "to": "p.q"}, {"from": "p.prompt", "to": "llm.prompt"},
                  {"from": "llm.text", "to": "out.value"}]}


async def sdk_first_token(client: openai.AsyncOpenAI) -> float:
    t0 = time.perf_counter()
    stream = await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}],
                                                  stream=True)
    first = 0.0
    async for chunk in stream:
        if not first and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter() - t0
    return first


def probes(url: str) -> dict[str, Probe]:
    reused = openai.AsyncOpenAI(api_key=TEST_KEY, base_url=url, max_retries=0)

    async def sdk_reused() -> float:
        return await sdk_first_token(reused)

    async def sdk_per_call() -> float:
        from nodes.support.providers.http import openai_http_client

        async with openai.AsyncOpenAI(api_key=TEST_KEY, base_url=url, max_retries=0,
                                      http_client=openai_http_client(60)) as client:
            return await sdk_first_token(client)

    config = ModelConfig(provider="openai", base_url=url, model=MODEL, api_key_env=KEY_ENV)

    async def provider_layer() -> float:
        model = ConfiguredModel(OpenAICompatModel(api_key=TEST_KEY, base_url=url), config, MODEL)
        return await first_piece(lambda sink: model.complete(ChatRequest((Message("user", "hi"),), MODEL), sink))

    runner = Runner(default_registry())
    flow = parse_flow(flow_body(url))
    plan = runner.plan(flow)

    async def engine(target: Any) -> float:
        t0 = time.perf_counter()
        first = 0.0

        def on_event(event: Event) -> None:
            nonlocal first
            if not first and event.kind == "node.token":
                first = time.perf_counter() - t0

        result = await runner.arun(target, {}, handlers=[on_event])
        assert result.ok, result.error
        return first

    return {"openai SDK, client reused (floor)": sdk_reused,
            "openai SDK, client per call": sdk_per_call,
            "chainloom provider layer": provider_layer,
            "chainloom flow, plan compiled once": lambda: engine(plan),
            "chainloom flow, compiled per run": lambda: engine(flow)}


async def first_piece(call: Callable[[Callable[[str], None]], Awaitable[Any]]) -> float:
    t0 = time.perf_counter()
    first = 0.0

    def sink(piece: str) -> None:
        nonlocal first
        if not first and piece:
            first = time.perf_counter() - t0

    await call(sink)
    return first


async def measure(url: str, rounds: int) -> dict[str, list[float]]:
    table = probes(url)
    times: dict[str, list[float]] = {name: [] for name in table}
    for _ in range(5):  # warm up: imports, connections, first-call caches
        for probe in table.values():
            await probe()
    for _ in range(rounds):
        for name, probe in table.items():
            times[name].append(await probe() * 1000)
    return times


def report(times: dict[str, list[float]]) -> None:
    floor = statistics.median(next(iter(times.values())))
    print(f"{'time to first token':40} {'median ms':>10} {'p90 ms':>10} {'added ms':>10}")
    for name, values in times.items():
        values = sorted(values)
        median = statistics.median(values)
        p90 = values[int(0.9 * (len(values) - 1))]
        print(f"{name:40} {median:10.2f} {p90:10.2f} {median - floor:10.2f}")


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    os.environ[KEY_ENV] = TEST_KEY
    with FakeOpenAIServer() as server:
        times = asyncio.run(measure(server.url, rounds))
    print(f"{rounds} rounds against a fake OpenAI-compatible server on 127.0.0.1 (real openai client)\n")
    report(times)


if __name__ == "__main__":
    main()
