"""HTTP serving cost: a 5-node offline flow run through `POST /flows/{id}/run` under load.

    python benchmarks/serve.py [--requests 300] [--seconds 15]

Starts uvicorn on 127.0.0.1 (free port, fresh SQLite data dir in WAL mode, an API key)
with one and then two workers, and for 1, 10 and 50 concurrent clients prints
requests/s and p50/p99 latency of blocking JSON runs, beside the engine's own time
per run (the `duration` each response reports) and the same flow run in-process by
the Runner with the same store (no HTTP) as the floor. The load generator (httpx,
asyncio) shares the machine with the server, so figures are a lower bound. Each
cell is bounded in requests and seconds; nothing is sent off this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.flow import parse_flow
from engine.runner import Runner
from nodes.registry import default_registry
from server.app import connect_store
from server.keys import create_key
from server.settings import Settings
from server.tables import create_tables

FLOW = {
    "schema_version": 1, "id": "bench", "name": "five-node offline chain",
    "nodes": [
        {"id": "question", "type": "input.text", "config": {"name": "question"}},
        {"id": "prompt", "type": "prompt.template", "config": {"template": (
            "Answer from the facts.\nFacts:\n- Flows are JSON files.\n- Runs are traced.\n"
            "- Secrets are names of environment variables.\nQuestion: {question}")}},
        {"id": "llm", "type": "llm.chat", "config": {"provider": "offline"}},
        {"id": "clean", "type": "transform.text", "config": {"steps": [{"op": "strip"}]}},
        {"id": "answer", "type": "output.text", "config": {"name": "answer"}},
    ],
    "edges": [{"from": "question.text", "to": "prompt.question"}, {"from": "prompt.prompt", "to": "llm.prompt"},
              {"from": "llm.text", "to": "clean.text"}, {"from": "clean.text", "to": "answer.value"}],
}
BODY = {"inputs": {"question": "Where do secrets live?"}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(home: Path, slots: int) -> tuple[Settings, str]:
    settings = Settings(home=str(home), max_concurrent_runs=slots)
    store = connect_store(settings.url)
    try:
        create_tables(store.engine)
        store.save_flow(parse_flow(FLOW), None)
        return settings, create_key(store.engine, "bench")[1]
    finally:
        store.close()


def start(settings: Settings, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, **settings.to_env(), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "server.app:app_from_env", "--factory",
                             "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                             "--log-level", "warning", "--no-access-log"],
                            cwd=ROOT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    stop(proc)
    raise RuntimeError("server did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


async def load(url: str, key: str, clients: int, requests: int, seconds: float) -> dict[str, Any]:
    """`clients` loops sending runs until `requests` are done or `seconds` pass."""
    latencies: list[float] = []
    engine: list[float] = []
    failures = 0
    sent = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"},
                                 limits=limits, timeout=60) as http:
        async def client() -> None:
            nonlocal sent, failures
            while sent < requests and time.perf_counter() < deadline:
                sent += 1
                t0 = time.perf_counter()
                r = await http.post("/flows/bench/run", json=BODY)
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 200 or r.json()["status"] != "succeeded":
                    failures += 1
                    continue
                engine.append(r.json()["duration"])

        t0 = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        wall = time.perf_counter() - t0
    latencies.sort()
    return {"n": len(latencies), "rps": len(latencies) / wall, "p50": pct(latencies, 50),
            "p99": pct(latencies, 99), "engine": statistics.median(engine) if engine else float("nan"),
            "failures": failures}


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def in_process(home: Path, runs: int) -> float:
    """Median wall time of the same flow run by the Runner with the same store, no HTTP."""
    store = connect_store(Settings(home=str(home)).url)
    runner = Runner(default_registry(), store=store)
    flow, _ = store.get_flow("bench")
    plan = runner.plan(flow)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        runner.run(plan, BODY["inputs"])
        times.append(time.perf_counter() - t0)
    store.close()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per cell (at most)")
    parser.add_argument("--seconds", type=float, default=15.0, help="seconds per cell (at most)")
    parser.add_argument("--slots", type=int, default=Settings.max_concurrent_runs,
                        help="runs at once per worker (the server's max_concurrent_runs)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chainloom-bench-") as tmp:
        home = Path(tmp)
        settings, key = prepare(home, args.slots)
        floor = in_process(home, 200)
        print(f"5-node offline flow; in-process Runner with the store (no HTTP): {floor * 1000:.2f} ms/run\n")
        print(f"{'workers':>7} {'clients':>7} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'engine ms':>9} {'http+queue ms':>13} {'errors':>6}")
        for workers in (1, 2):
            proc, url = start(settings, workers)
            try:
                asyncio.run(load(url, key, 4, 40, 10))  # warm-up: imports, plan cache, connections
                for clients in (1, 10, 50):
                    row = asyncio.run(load(url, key, clients, max(args.requests, clients * 4), args.seconds))
                    print(f"{workers:>7} {clients:>7} {row['n']:>8} {row['rps']:>8.1f} {row['p50'] * 1000:>8.1f} "
                          f"{row['p99'] * 1000:>8.1f} {row['engine'] * 1000:>9.2f} "
                          f"{(row['p50'] - row['engine']) * 1000:>13.1f} {row['failures']:>6}", flush=True)
            finally:
                stop(proc)
        print("\nengine ms: median of the run durations the engine reported; http+queue: p50 minus that.")


if __name__ == "__main__":
    main()
