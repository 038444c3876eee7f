"""Start-up: a cold `chainloom run flows/hello.json` and `chainloom --help`, beside `python -c pass`.

    python benchmarks/startup.py [--repeats 7]

Each command runs as a fresh process (the console script from this checkout's
venv, PYTHONPATH = this checkout), interleaved round by round; the table shows
the median and the best wall time. The data dir is a temporary one that already
holds a database (as it does after the first run on any machine); the first run
in an empty data dir is shown separately. Also lists which heavy packages the hello
run imports (`-X importtime`). Prints the load average and the targets as met / NOT met.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("chromadb", "networkx", "numpy", "httpx", "jsonschema", "openai", "cohere", "sqlalchemy")


def console_script() -> list[str]:
    script = Path(sys.executable).with_name("chainloom")
    return [str(script)] if script.exists() else [sys.executable, "-m", "chainloom"]


def wall(argv: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"{argv} failed: {done.stderr.decode()[-2000:]}")
    return elapsed


def heavy_imports(env: dict[str, str]) -> list[str]:
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "chainloom", "run", "flows/hello.json"],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    names = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    return [name for name in HEAVY if name in names]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    home = Path(tempfile.mkdtemp(prefix="chainloom-startup-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CHAINLOOM_HOME": str(home)}
    env.pop("CHAINLOOM_DATABASE_URL", None)
    cli = console_script()
    first = wall([*cli, "run", "flows/hello.json"], env)  # empty data dir: creates the database
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "chainloom --help": [*cli, "--help"],
        "chainloom run flows/hello.json": [*cli, "run", "flows/hello.json"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.repeats):
        for name, argv in commands.items():
            times[name].append(wall(argv, env))
    floor = statistics.median(times["python -c pass"])
    print(f"\n{'command':<34}{'median s':>10}{'best s':>10}{'vs python':>11}")
    for name, samples in times.items():
        med = statistics.median(samples)
        print(f"{name:<34}{med:>10.3f}{min(samples):>10.3f}{med / floor:>10.1f}x")
    print(f"{'first run, empty data dir':<34}{first:>10.3f}")
    heavy = heavy_imports(env)
    print(f"\nheavy packages imported by the hello run: {', '.join(heavy) or 'none'}")
    print("\ntargets (issue 12)")
    checks = [("cold hello ≤ 0.5 s", statistics.median(times["chainloom run flows/hello.json"]), 0.5),
              ("chainloom --help ≤ 0.2 s", statistics.median(times["chainloom --help"]), 0.2)]
    for label, value, limit in checks:
        print(f"  {label:<30} {value:>7.3f} s  {'met' if value <= limit else 'NOT met'}")
    banned = [h for h in heavy if h != "sqlalchemy"]
    verdict = "met" if not banned else "NOT met: " + ", ".join(banned)
    print(f"  {'hello imports none of ' + ', '.join(HEAVY[:-1]):<30} {verdict}")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
