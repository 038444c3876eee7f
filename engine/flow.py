"""The flow file: schema_version 1, parsed without executing anything.

`parse_flow` and `load_flow` turn JSON into a `Flow` (errors name the file, the
node id and the field); `dumps_flow` writes the canonical form (sorted keys,
2-space indent) and `save_flow` writes it atomically (temp file, fsync, rename).
A flow holds node *type ids*, never import paths, and secret *names*, never values.
"""

from __future__ import annotations

import glob
import json
import math
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, field_validator

from engine.errors import FlowLoadError
from engine.issues import Issue
from engine.redact import redact_value

SCHEMA_VERSION = 1
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 64
ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"
TYPE_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, populate_by_name=True)


ToolNames = Annotated[list[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")]],
                      Field(min_length=1, max_length=100)]


class NodePolicy(_Strict):
    """How the engine treats one node: time limit, retries, what to do on failure."""

    timeout: float | None = Field(None, gt=0, le=86_400, description="Seconds before the node is stopped.")
    retries: int = Field(0, ge=0, le=5, description="Extra attempts after a failure (never for side effects).")
    backoff: float = Field(0.5, ge=0, le=60, description="Seconds before the first retry; doubles each time.")
    on_error: Literal["fail", "fallback"] = Field("fail", description="Stop the run, or use `fallback`.")
    fallback: dict[str, Any] | None = Field(None, description="Outputs to use when the node fails.")
    cache: bool = Field(True, description="Allow reusing an earlier result for identical inputs.")
    require_approval: StrictBool | ToolNames = Field(
        False, description="Ask a person before a side effect: true = every call this node (or the "
                           "tool it makes) sends; a list = an agent's tool calls with these tool names.")


class FlowNode(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    type: str = Field(pattern=TYPE_PATTERN, max_length=100)
    version: int = Field(1, ge=1, le=1000)
    name: str = Field("", max_length=200, description="Label shown on the canvas.")
    config: dict[str, Any] = Field(default_factory=dict)
    position: tuple[float, float] | None = None
    policy: NodePolicy = Field(default_factory=NodePolicy)
    tweakable: list[str] = Field(
        default_factory=list, max_length=200,
        description="Config fields a caller may change for one run (tweaks); none unless listed. "
                    "Fields that decide where data or credentials go can never be listed.")

    @field_validator("tweakable")
    @classmethod
    def _field_names(cls, v: list[str]) -> list[str]:
        for name in v:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,99}", name):
                raise ValueError("each entry must be a config field name (letters, digits, '_')")
        if len(set(v)) != len(v):
            raise ValueError("a field is listed twice")
        return v


class Edge(_Strict):
    """`from` and `to` are `node.port` references."""

    source: str = Field(alias="from", pattern=r"^[^.]+\.[^.]+$", max_length=200)
    target: str = Field(alias="to", pattern=r"^[^.]+\.[^.]+$", max_length=200)

    @property
    def source_node(self) -> str:
        return self.source.split(".", 1)[0]

    @property
    def source_port(self) -> str:
        return self.source.split(".", 1)[1]

    @property
    def target_node(self) -> str:
        return self.target.split(".", 1)[0]

    @property
    def target_port(self) -> str:
        return self.target.split(".", 1)[1]

    def __str__(self) -> str:
        return f"{self.source} -> {self.target}"


class Flow(_Strict):
    schema_version: Literal[1] = 1
    id: str = Field(pattern=ID_PATTERN)
    name: str = Field("", max_length=200)
    description: str = Field("", max_length=10_000)
    nodes: list[FlowNode] = Field(default_factory=list, max_length=5000)
    edges: list[Edge] = Field(default_factory=list, max_length=20_000)

    @field_validator("name")
    @classmethod
    def _no_control_chars(cls, v: str) -> str:
        if any(ord(c) < 32 for c in v):
            raise ValueError("must not contain control characters")
        return v

    def node(self, node_id: str) -> FlowNode | None:
        return next((n for n in self.nodes if n.id == node_id), None)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON (numbers must be finite)")


def json_depth(value: Any, limit: int) -> int:
    """Nesting depth of a decoded JSON value (a scalar is 1); stops counting past `limit`."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                return deepest
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


@dataclass(frozen=True, slots=True)
class ErrorPlace:
    """Where in a flow document a pydantic error points, in the user's words."""

    node: str | None           # id of the node the error is in, when it has a usable one
    entry: str | None          # "node #2" / "edge #1" when the error is in an entry without an id
    prefix: tuple[Any, ...]    # the location up to the nodes/edges list (e.g. ("flow",) in a request)
    rest: tuple[Any, ...]      # the location inside that node or edge (or the whole location)

    def words(self) -> str:
        """`node 'x' field 'config.y'`, `edge #1 field 'from'` or `field 'id'`."""
        field = ".".join(str(p) for p in self.rest)
        if self.node is not None:
            return f"node '{self.node}' field '{field or '(whole entry)'}'"
        if self.entry is not None:
            return f"{self.entry} field '{field or '(whole entry)'}'"
        return f"field '{field}'"


def locate_error(loc: Sequence[Any], raw: Any) -> ErrorPlace:
    """Find the node (by id, looked up in the `raw` document) or edge a pydantic error is in."""
    for i in range(len(loc) - 1):
        kind, index = loc[i], loc[i + 1]
        if kind in ("nodes", "edges") and isinstance(index, int):
            entry = _entry(raw, (*loc[:i], kind, index))
            node_id = entry.get("id") if kind == "nodes" and isinstance(entry, dict) else None
            usable = isinstance(node_id, str) and len(node_id) <= 64
            return ErrorPlace(node_id if usable else None, f"{kind[:-1]} #{index + 1}",
                              tuple(loc[:i]), tuple(loc[i + 2:]))
    return ErrorPlace(None, None, (), tuple(loc))


def _entry(raw: Any, path: Sequence[Any]) -> Any:
    value = raw
    for part in path:
        if isinstance(value, Mapping) and isinstance(part, str):
            value = value.get(part)
        elif isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
            value = value[part]
        else:
            return None
    return value


PATTERN_WORDS = {
    "id": "must be 1-64 letters, digits, '_' or '-', starting with a letter or '_'",
    "type": "must be a registered type id such as 'llm.chat' (lower-case words joined by dots)",
    "from": "must be 'node.port'",
    "to": "must be 'node.port'",
}


def error_words(err: Mapping[str, Any], *, echo: bool = True) -> str:
    """A pydantic error's message, with pattern errors on flow fields said in words.

    `echo` adds the value that was given (the API leaves it out: it never repeats input).
    """
    loc = err.get("loc") or ()
    if err.get("type") == "string_pattern_mismatch" and loc and loc[-1] in PATTERN_WORDS:
        words = PATTERN_WORDS[str(loc[-1])]
        return f"{words}, got {str(err.get('input'))[:80]!r}" if echo else words
    return str(err.get("msg", "invalid value"))


def parse_flow(data: str | bytes | dict[str, Any], *, source: str = "<flow>") -> Flow:
    """Parse a flow from JSON text or a decoded dict. Executes nothing."""
    if isinstance(data, (str, bytes)):
        if len(data) > MAX_FILE_BYTES:
            raise FlowLoadError(f"{source}: flow is {len(data)} bytes, over the {MAX_FILE_BYTES} limit")
        try:
            data = json.loads(data, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as err:
            raise FlowLoadError(f"{source}: not valid JSON: {err}",
                                hint="check the file with a JSON linter") from err
    if not isinstance(data, dict):
        raise FlowLoadError(f"{source}: a flow must be a JSON object, got {type(data).__name__}")
    if json_depth(data, MAX_DEPTH) > MAX_DEPTH:
        raise FlowLoadError(f"{source}: nested more than {MAX_DEPTH} levels deep")
    version = data.get("schema_version")
    if version is None:
        raise FlowLoadError(f"{source}: missing 'schema_version'", hint=f"add \"schema_version\": {SCHEMA_VERSION}")
    if version != SCHEMA_VERSION:
        raise FlowLoadError(
            f"{source}: schema_version {version!r} is not supported (this chainloom reads {SCHEMA_VERSION})",
            hint="upgrade chainloom to open flows written by a newer version")
    try:
        return Flow.model_validate(data)
    except ValidationError as err:
        issues = [_load_issue(e, data) for e in err.errors()]
        raise FlowLoadError(f"{source}: " + "; ".join(i.message for i in issues), issues=issues) from err


def _load_issue(err: Any, raw: dict[str, Any]) -> Issue:
    place = locate_error(err["loc"], raw)
    return Issue("load_error", f"{place.words()}: {error_words(err)}", place.node,
                 field=".".join(str(p) for p in place.rest) or None)


def load_flow(path: str | os.PathLike[str]) -> Flow:
    """Read and parse a flow file."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise FlowLoadError(f"{p}: file is {size} bytes, over the {MAX_FILE_BYTES} limit")
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise FlowLoadError(f"{p}: no such file", hint="check the path") from err
    except UnicodeDecodeError as err:
        raise FlowLoadError(f"{p}: not UTF-8 text", hint="save the flow as UTF-8 JSON") from err
    except OSError as err:
        raise FlowLoadError(f"{p}: cannot read: {err.strerror}") from err
    return parse_flow(text, source=str(p))


def flow_to_dict(flow: Flow) -> dict[str, Any]:
    """The canonical dict: defaults of policy and position left out, keys sorted on dump."""
    out = flow.model_dump(mode="json", by_alias=True)
    for n in out["nodes"]:
        if n.get("position") is None:
            n.pop("position", None)
        policy = {k: v for k, v in n["policy"].items() if v != NodePolicy.model_fields[k].default}
        if policy:
            n["policy"] = policy
        else:
            n.pop("policy")
        if not n.get("name"):
            n.pop("name", None)
        if not n.get("tweakable"):
            n.pop("tweakable", None)
    return out


def redacted_flow(flow: Flow) -> Flow:
    """`flow` with the user name and password of every URL in its configs masked (for showing
    and exporting a flow stored before such URLs were refused)."""
    nodes = [n.model_copy(update={"config": redact_value(n.config)}) for n in flow.nodes]
    return flow.model_copy(update={"nodes": nodes})


def dumps_flow(flow: Flow) -> str:
    """Canonical JSON text: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(flow_to_dict(flow), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def atomic_write(path: str | os.PathLike[str], text: str) -> None:
    """Write text so that readers see the old file or the new one, never a torn one."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(target)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.{os.getpid()}.",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:
        dir_fd = os.open(target.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def remove_stale_temps(target: Path) -> list[Path]:
    """Delete temp files that earlier saves of `target` left behind when their process was
    killed mid-write (`.NAME.PID.xxxx.tmp` whose PID no longer runs); return them."""
    removed: list[Path] = []
    for tmp in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        pid = tmp.name[len(target.name) + 2:].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_running(int(pid)):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists but belongs to someone else
    return True


def save_flow(flow: Flow, path: str | os.PathLike[str]) -> None:
    atomic_write(path, dumps_flow(flow))


def is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
