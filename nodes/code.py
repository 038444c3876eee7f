"""`code.python`: the user's own Python function, off unless the operator enables it.

Enabled by CHAINLOOM_ENABLE_CODE=1 (or the server setting `enable_code`); otherwise
validation refuses the node and says how to enable it. Validation only parses the
code with `ast`: nothing in it (decorators, default arguments) runs. A run starts
a fresh interpreter (`python -I -S`, stdlib only) in a temporary folder with an
empty environment (no secrets), a new network namespace (no network; the run is
refused where the OS cannot give one), no inherited file descriptors, and rlimits
on CPU, memory, file size, open files and processes. The function gets the input
as JSON and must return JSON; its output is capped, and the process group is
killed at the time limit or when the run stops.
"""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator

from engine.errors import PermanentError
from engine.node import NodeConfig, NodeSpec, node
from engine.ports import Port, PortType

if TYPE_CHECKING:
    from engine.context import RunContext

ENABLE_VARIABLE = "CHAINLOOM_ENABLE_CODE"
DISABLED = (f"code.python is disabled here: it runs Python code written into the flow. An operator "
            f"enables it with {ENABLE_VARIABLE}=1 in the environment (or the server setting enable_code, "
            "CHAINLOOM_SERVER_ENABLE_CODE=1)")
_ENABLED = False


def enable_code(on: bool = True) -> None:
    """Turn the code node on (or off) for this process: the server's `enable_code` setting."""
    global _ENABLED
    _ENABLED = on


def code_enabled() -> bool:
    return _ENABLED or os.environ.get(ENABLE_VARIABLE, "").strip().lower() in ("1", "true", "yes", "on")


class CodeConfig(NodeConfig):
    code: str = Field("def main(value):\n    return value\n", min_length=1, max_length=100_000,
                      json_schema_extra={"widget": "textarea", "where": "capability"},
                      description="Python source defining the function; it gets the input (JSON) and "
                                  "returns JSON. Only the standard library is available; no network.")
    function: str = Field("main", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", json_schema_extra={"where": "capability"},
                          description="Name of the function to call.")
    timeout: float = Field(10.0, gt=0, le=300, description="Seconds (wall and CPU) before the process is killed.")
    memory_mb: int = Field(256, ge=64, le=4096, description="Most memory the process may use, in MB.")
    max_output_bytes: int = Field(1_000_000, ge=100, le=50_000_000, description="Largest JSON result accepted.")

    @model_validator(mode="after")
    def _parses_without_running(self) -> CodeConfig:
        if not code_enabled():
            raise ValueError(DISABLED)
        try:
            tree = ast.parse(self.code, filename="<code>", mode="exec")  # parsed, never executed
        except (SyntaxError, ValueError) as err:
            line = f" (line {err.lineno})" if isinstance(err, SyntaxError) and err.lineno else ""
            raise ValueError(f"the code is not valid Python{line}: {getattr(err, 'msg', err)}") from err
        names = [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        if self.function not in names:
            raise ValueError(f"the code defines no top-level function '{self.function}'; it defines: "
                             f"{', '.join(names) or 'none'}")
        return self


# The child process: isolate itself, limit itself, then run the function. Stdlib only.
CHILD = r'''
import ctypes, json, os, resource, signal, sys
limits = json.loads(sys.argv[1])
result_fd = os.dup(1)
devnull = os.open(os.devnull, os.O_RDWR)
os.dup2(devnull, 1)  # the function's prints go nowhere; only the result reaches the parent
libc = ctypes.CDLL(None, use_errno=True)
# The standard library is loaded now: after dropping to nobody, a Python installed in a
# private folder (e.g. /root/.pyenv) could not be read any more.
for name in ("math", "cmath", "re", "json", "datetime", "time", "calendar", "collections", "itertools",
             "functools", "statistics", "decimal", "fractions", "string", "textwrap", "random",
             "hashlib", "hmac", "base64", "binascii", "urllib.parse", "csv", "io", "typing",
             "dataclasses", "heapq", "bisect", "operator", "unicodedata", "difflib", "uuid", "copy",
             "pprint", "enum", "html", "zlib", "struct", "array", "socket", "ssl", "encodings.idna"):
    try:
        __import__(name)
    except ImportError:
        pass
if os.getuid() == 0:
    isolated = libc.unshare(0x40000000) == 0
    os.setgroups([]); os.setgid(65534); os.setuid(65534)
else:
    isolated = libc.unshare(0x10000000 | 0x40000000) == 0
if not isolated and not limits["allow_network"]:
    sys.stderr.write("chainloom-sandbox: no network namespace available")
    sys.exit(3)
cpu = int(limits["cpu"]) + 1
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
mem = limits["memory"]
resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
resource.setrlimit(resource.RLIMIT_FSIZE, (limits["fsize"], limits["fsize"]))
resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-big file write raises, not kills
request = json.loads(sys.stdin.read())
sys.stdin.close()
def answer(body):
    data = json.dumps(body).encode()
    os.write(result_fd, data[: limits["output"] + 1])
try:
    scope = {"__name__": "__chainloom_code__"}
    exec(compile(request["code"], "<code>", "exec"), scope)
    value = scope[request["function"]](request["value"])
    try:
        text = json.dumps({"result": value})
    except (TypeError, ValueError) as err:
        answer({"error": "the function returned %s, which is not JSON: %s" % (type(value).__name__, err)})
    else:
        os.write(result_fd, text.encode()[: limits["output"] + 1])
except MemoryError:
    answer({"error": "the function ran out of memory (limit %d MB)" % (mem // 1048576)})
except BaseException as err:
    answer({"error": "%s: %s" % (type(err).__name__, str(err)[:2000])})
'''


class CodeError(PermanentError):
    """The user's function failed, was stopped, or returned something that is not JSON."""


def _read_capped(stream: Any, cap: int, into: bytearray, over: threading.Event) -> None:
    while chunk := stream.read(65536):
        if len(into) + len(chunk) > cap:
            into.extend(chunk[: cap + 1 - len(into)])
            over.set()
            return
        into.extend(chunk)


def run_code(config: CodeConfig, value: Any, ctx: RunContext | None = None) -> Any:
    """The function's JSON result, computed in a sandboxed child process."""
    limits = {"cpu": config.timeout, "memory": config.memory_mb * 1024 * 1024, "fsize": 10 * 1024 * 1024,
              "output": config.max_output_bytes,
              "allow_network": os.environ.get("CHAINLOOM_CODE_ALLOW_NETWORK") == "1"}
    request = json.dumps({"code": config.code, "function": config.function, "value": value}).encode()
    with tempfile.TemporaryDirectory(prefix="chainloom-code-") as folder:
        os.chmod(folder, 0o777)  # noqa: S103 - the child runs as nobody and may write scratch files here
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", CHILD, json.dumps(limits)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=folder, close_fds=True,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}, start_new_session=True)
        if ctx is not None:
            ctx.on_stop(lambda: _kill(proc))
        out, err, over = bytearray(), bytearray(), threading.Event()
        readers = [threading.Thread(target=_read_capped, args=(proc.stdout, config.max_output_bytes, out, over)),
                   threading.Thread(target=_read_capped, args=(proc.stderr, 4000, err, threading.Event()))]
        for r in readers:
            r.start()
        _send(proc, request)
        try:
            proc.wait(timeout=config.timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            raise CodeError(f"the function took longer than {config.timeout:g}s and was killed",
                            hint="make it faster, or raise config.timeout") from None
        finally:
            for r in readers:
                r.join(timeout=5)
            if over.is_set():
                _kill(proc)
    return _answer(proc.returncode, bytes(out), bytes(err), over.is_set(), config)


def _send(proc: subprocess.Popen[bytes], request: bytes) -> None:
    if proc.stdin is None:  # never: stdin is a pipe
        raise RuntimeError("the code process has no stdin")
    try:
        proc.stdin.write(request)
        proc.stdin.close()
    except BrokenPipeError:
        pass  # it died at once (a limit); its exit code says why


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _answer(code: int, out: bytes, err: bytes, over: bool, config: CodeConfig) -> Any:
    if over or len(out) > config.max_output_bytes:
        raise CodeError(f"the function's output is over {config.max_output_bytes} bytes",
                        hint="return less, or raise config.max_output_bytes")
    if code == 3 and b"no network namespace" in err:
        raise CodeError("this machine cannot give the code its own network namespace, so it is not run",
                        hint="run chainloom where user or network namespaces are allowed, or set "
                             "CHAINLOOM_CODE_ALLOW_NETWORK=1 to accept code with network access")
    if code < 0:
        why = {int(signal.SIGXCPU): f"used more than {config.timeout:g}s of CPU",
               int(signal.SIGKILL): "was killed (CPU or memory limit)"}.get(-code, f"died of signal {-code}")
        raise CodeError(f"the function {why}", hint="make it faster or smaller")
    try:
        body = json.loads(out.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise CodeError(f"the function gave no result (exit code {code}): "
                        f"{err.decode('utf-8', 'replace')[-500:] or 'no error text'}") from None
    if "error" in body:
        raise CodeError(f"the function failed: {body['error']}", hint="fix the code")
    return body.get("result")


@node("code.python", title="Python function (sandboxed)", config=CodeConfig, cacheable=False,
      inputs=[Port("value", PortType.ANY, "Passed to the function as its argument (JSON).", required=False)],
      outputs=[Port("result", PortType.JSON, "What the function returned (JSON).")],
      description="Runs your Python function in a separate, limited process: no secrets, no network, CPU, "
                  "memory, time and output limits. Off unless the operator enables it.")
def python_node(config: CodeConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    if not code_enabled():
        raise CodeError(DISABLED)
    value = inputs.get("value")
    try:
        json.dumps(value)
    except (TypeError, ValueError) as err:
        raise CodeError(f"node '{ctx.node_id}': input 'value' is not JSON ({type(value).__name__})",
                        hint="connect a Text or JSON output") from err
    return {"result": run_code(config, value, ctx)}


SPECS: tuple[NodeSpec, ...] = (python_node,)
