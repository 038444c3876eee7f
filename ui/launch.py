"""`chainloom ui`: start the visual builder (Streamlit) on this machine.

`main(argv)` runs `python -m streamlit run <ui/app.py>` headless, on 127.0.0.1 by
default, forwards SIGTERM/SIGINT to it, waits for it and returns its exit code (so
`kill` of `chainloom ui` never leaves a server holding the port); `command(...)`
builds that command line (Streamlit's own options: the minimal toolbar without
Deploy and the developer menu, the real 10 MB upload limit), and `serve(...)`
starts it in the background and waits until it answers (tests and benchmarks).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

APP = Path(__file__).resolve().parent / "app.py"
DEFAULT_PORT = 8501
UPLOAD_LIMIT_MB = 10     # ui.services.MAX_IMPORT_BYTES: what the uploader says is what we accept
STREAMLIT_OPTIONS = ("--server.headless", "true", "--browser.gatherUsageStats", "false",
                     "--server.fileWatcherType", "none", "--client.toolbarMode", "minimal",
                     "--server.maxUploadSize", str(UPLOAD_LIMIT_MB))
FORWARDED = (signal.SIGTERM, signal.SIGINT)


def command(port: int = DEFAULT_PORT, address: str = "127.0.0.1", extra: Sequence[str] = ()) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(APP), *STREAMLIT_OPTIONS,
            "--server.port", str(port), "--server.address", address, *extra]


DESCRIPTION = "Open the visual flow builder in a browser."


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chainloom ui", description=DESCRIPTION)
    add_arguments(p)
    return p


def add_parsers(sub: Any) -> None:
    """Register `ui` on the `chainloom` CLI's subparsers (handler(args, term) -> exit code)."""
    p = sub.add_parser("ui", help="open the visual flow builder in a browser", description=DESCRIPTION)
    add_arguments(p)
    p.set_defaults(handler=lambda args, term=None: run(args))


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=int(os.environ.get("CHAINLOOM_UI_PORT", DEFAULT_PORT)),
                   help=f"port to listen on (default {DEFAULT_PORT}, or $CHAINLOOM_UI_PORT)")
    p.add_argument("--address", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; use 0.0.0.0 to share on your network)")
    p.add_argument("--home", help="data dir for saved flows and runs (default $CHAINLOOM_HOME or ~/.chainloom)")


def main(argv: Sequence[str] | None = None) -> int:
    return run(parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    if args.home:
        env["CHAINLOOM_HOME"] = str(Path(args.home).expanduser())
    print(f"chainloom ui: open http://{'localhost' if args.address in ('127.0.0.1', '0.0.0.0') else args.address}"  # noqa: S104 - only compared
          f":{args.port} in your browser (Ctrl+C stops it)", file=sys.stderr)
    return supervise(command(args.port, args.address), env)


def supervise(cmd: list[str], env: Mapping[str, str]) -> int:
    """Run `cmd`, pass SIGTERM/SIGINT on to it, and return its exit code once it ended."""
    proc = subprocess.Popen(cmd, env=dict(env))

    def forward(signum: int, _frame: FrameType | None) -> None:
        if proc.poll() is None:
            proc.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED}
    try:
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:   # a handler installed over ours: still stop the child
                forward(signal.SIGINT, None)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(port: int | None = None, env: Mapping[str, str] | None = None, timeout: float = 60.0,
          log: Path | None = None, cwd: Path | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """Start the app in the background (in `cwd`: the folder flows' paths are relative to);
    returns (process, base URL) once it answers."""
    import urllib.error  # noqa: PLC0415 - here, so that `chainloom --help` does not load http.client
    import urllib.request  # noqa: PLC0415

    port = port or free_port()
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(command(port), env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT,
                            cwd=cwd)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the UI server exited with code {proc.returncode}" + (f"; see {log}" if log else ""))
        try:
            # `url` is the http:// address this function started the server on, never user input.
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:  # noqa: S310
                if resp.status == 200:
                    return proc, url
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError(f"the UI server did not answer on {url} within {timeout:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


if __name__ == "__main__":
    raise SystemExit(main())
