"""API serving cost: `chainloom serve` (store and API keys on) against a bare FastAPI app and in-process runs.

    python benchmarks/serve.py [--seconds 8] [--clients 20]

Saves flows/hello.json in a fresh SQLite data dir, makes an API key, then measures:

  in-process      the same saved flow run by one thread with the default Runner and
                  the same store (no HTTP): ms per run and runs/s (the floor)
  bare FastAPI    a FastAPI app whose POST route parses the same JSON body and answers
                  a small JSON object at once, under the same uvicorn: the HTTP floor
  chainloom serve `chainloom serve` (1 worker) answering `POST /flows/hello/run`

At 1 client it prints p50 latency (overhead = p50 minus the in-process run time); at
`--clients` clients, requests/s and p99, and throughput as a share of the in-process
single-thread rate. Clients are threads with keep-alive `http.client` connections in
this process (cheaper than httpx, so the client eats less of the 2 cores). Rounds
alternate the two servers. Prints the load average and the targets as met / NOT met.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BODY = json.dumps({"inputs": {"question": "Where do secrets live?"}}).encode()

try:  # the bare app, served by uvicorn as `serve:bare_app` (this file, imported from benchmarks/)
    from fastapi import FastAPI
    from pydantic import BaseModel

    class _RunRequest(BaseModel):
        inputs: dict[str, Any] = {}

    bare_app = FastAPI()

    @bare_app.post("/flows/{flow_id}/run")
    async def _bare_run(flow_id: str, body: _RunRequest) -> dict[str, Any]:
        return {"run_id": "0" * 32, "flow_id": flow_id, "status": "succeeded", "outputs": body.inputs}
except ImportError:  # pragma: no cover - fastapi is a dependency
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(home: Path) -> str:
    """Save hello.json in `home`'s store and return a fresh API key."""
    from engine.flow import load_flow
    from engine.store import open_store
    from server.keys import create_key
    from server.tables import create_tables

    store = open_store(home)
    create_tables(store.engine)
    store.save_flow(load_flow(ROOT / "flows" / "hello.json"), None)
    return create_key(store.engine, "bench")[1]


def in_process(home: Path, seconds: float) -> float:
    """Median seconds per run of the saved hello flow, run by one thread with the store on."""
    import chainloom

    runner = chainloom.runner(home=home, trace=False)
    flow, _ = runner.store.get_flow("hello")
    inputs = json.loads(BODY)["inputs"]
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(times) < 20:
        t0 = time.perf_counter()
        result = runner.run(flow, inputs)
        times.append(time.perf_counter() - t0)
        if not result.ok:
            raise RuntimeError(result.error)
    return statistics.median(times[5:])


def start(argv: list[str], env: dict[str, str], port: int, cwd: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(argv, cwd=cwd, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.1)
    stop(proc)
    raise RuntimeError(f"{argv[0]} did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def load(port: int, key: str, clients: int, seconds: float) -> dict[str, float]:
    """`clients` threads posting runs back to back for `seconds`; latencies and rate."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    start_gate = threading.Barrier(clients + 1)
    deadline = [0.0]

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine: list[float] = []
        start_gate.wait()
        while time.perf_counter() < deadline[0]:
            t0 = time.perf_counter()
            conn.request("POST", "/flows/hello/run", body=BODY, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            mine.append(time.perf_counter() - t0)
            if resp.status != 200 or b'"succeeded"' not in data:
                with lock:
                    errors[0] += 1
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    deadline[0] = time.perf_counter() + seconds
    t0 = time.perf_counter()
    start_gate.wait()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    latencies.sort()
    return {"n": len(latencies), "rps": len(latencies) / wall, "p50": pct(latencies, 50),
            "p99": pct(latencies, 99), "errors": errors[0]}


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds per measured cell")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per server")
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory(prefix="chainloom-serve-") as tmp:
        home = Path(tmp)
        key = prepare(home)
        floor = in_process(home, args.seconds / 2)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "CHAINLOOM_HOME": str(home)}
        env.pop("CHAINLOOM_DATABASE_URL", None)
        ports = {"bare FastAPI": free_port(), "chainloom serve": free_port()}
        cli = Path(sys.executable).with_name("chainloom")
        commands = {
            "bare FastAPI": ([sys.executable, "-m", "uvicorn", "serve:bare_app", "--port",
                              str(ports["bare FastAPI"]), "--log-level", "warning", "--no-access-log"],
                             ROOT / "benchmarks"),
            "chainloom serve": ([str(cli) if cli.exists() else sys.executable, *([] if cli.exists() else
                                 ["-m", "chainloom"]), "serve", "--port", str(ports["chainloom serve"]),
                                 "--log-level", "warning"], ROOT),
        }
        procs = {name: start(argv, env, ports[name], cwd) for name, (argv, cwd) in commands.items()}
        one: dict[str, list[dict[str, float]]] = {name: [] for name in procs}
        many: dict[str, list[dict[str, float]]] = {name: [] for name in procs}
        try:
            for name in procs:
                load(ports[name], key, 4, 1.0)  # warm-up: imports, plan cache, connections
            for _ in range(args.rounds):
                for name in procs:
                    one[name].append(load(ports[name], key, 1, args.seconds / 2))
                    many[name].append(load(ports[name], key, args.clients, args.seconds / 2))
        finally:
            for proc in procs.values():
                stop(proc)
        report(floor, one, many, args.clients)
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def merged(rows: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def report(floor: float, one: dict[str, list[dict[str, float]]], many: dict[str, list[dict[str, float]]],
           clients: int) -> None:
    rate = 1 / floor
    print(f"\nhello.json saved flow; in-process, one thread, store on: {floor * 1e3:.2f} ms/run = "
          f"{rate:.0f} runs/s\n")
    print(f"{'server':<16}{'p50 1 client ms':>16}{'over in-proc ms':>16}{f'req/s @{clients}':>12}"
          f"{f'p99 @{clients} ms':>14}{'vs in-proc rate':>16}{'errors':>8}")
    for name in one:
        p50 = merged(one[name], "p50")
        rps, p99 = merged(many[name], "rps"), merged(many[name], "p99")
        errors = sum(r["errors"] for r in one[name] + many[name])
        over = p50 - floor if name == "chainloom serve" else float("nan")
        print(f"{name:<16}{p50 * 1e3:>16.2f}{over * 1e3:>16.2f}{rps:>12.0f}{p99 * 1e3:>14.1f}"
              f"{rps / rate:>15.0%}{errors:>8}")
    p50 = merged(one["chainloom serve"], "p50")
    rps, p99 = merged(many["chainloom serve"], "rps"), merged(many["chainloom serve"], "p99")
    print("\ntargets (issue 12, SQLite)")
    print(f"  {'p50 over the in-process run ≤ 1 ms (1 client)':<52}{(p50 - floor) * 1e3:>8.2f} ms  "
          f"{verdict(p50 - floor <= 0.001)}")
    print(f"  {f'{clients} clients: ≥ 60% of the in-process rate':<52}{rps / rate:>8.0%}     "
          f"{verdict(rps >= 0.6 * rate)}")
    print(f"  {f'{clients} clients: p99 ≤ 50 ms':<52}{p99 * 1e3:>8.1f} ms  {verdict(p99 <= 0.05)}")


if __name__ == "__main__":
    main()
