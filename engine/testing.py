"""`check_spec`: does a node spec keep the node contract? For node and plugin authors' tests.

It checks what the engine and the UI rely on and a typo would break only at run
time: the type id's form, the version, the config model (descriptions, defaults,
JSON schema), the port declarations, the ports computed for the default config,
and the migrations chain. It never calls the node's run function.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError

from engine.errors import InvalidSpec
from engine.flow import TYPE_PATTERN
from engine.node import NodeConfig, NodeSpec
from engine.ports import Port, PortType

PORT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_VERSION = 1000  # the flow format's limit on a node's version


def check_spec(spec: NodeSpec) -> None:
    """Raise InvalidSpec listing every way `spec` breaks the node contract."""
    problems = spec_problems(spec)
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise InvalidSpec(f"node type '{spec.type}' breaks the node contract:\n{lines}",
                          hint="see engine/node.py for what a node type is")


def spec_problems(spec: NodeSpec) -> list[str]:
    """Every problem of `spec`, each a sentence naming the field or port at fault."""
    problems = [*_identity(spec), *_config(spec), *_run(spec)]
    default = _default_config(spec)
    for side, ports in (("inputs", spec.inputs), ("outputs", spec.outputs)):
        problems += _ports(side, ports, default)
    problems += _roles(spec)
    problems += _migrations(spec)
    return problems


def _identity(spec: NodeSpec) -> list[str]:
    out = []
    if not re.match(TYPE_PATTERN, spec.type) or len(spec.type) > 100:
        out.append(f"type id '{spec.type}' must be lower-case words joined by dots, "
                   "family first (e.g. 'llm.chat'), at most 100 characters")
    if isinstance(spec.version, bool) or not isinstance(spec.version, int) or not 1 <= spec.version <= MAX_VERSION:
        out.append(f"version {spec.version!r} must be a whole number from 1 to {MAX_VERSION}")
    if not spec.title.strip():
        out.append("title is empty; the palette shows it")
    return out


def _config(spec: NodeSpec) -> list[str]:
    model = spec.config
    if not (isinstance(model, type) and issubclass(model, NodeConfig)):
        return [f"config {model!r} must be a NodeConfig subclass (unknown fields refused)"]
    out = [f"config field '{name}' has no description; the UI form and the docs show it"
           for name, info in model.model_fields.items() if not (info.description or "").strip()]
    try:
        model.model_json_schema()
    except Exception as err:  # noqa: BLE001 - any failure here breaks the UI form
        out.append(f"config has no JSON schema (the UI form needs one): {type(err).__name__}: {err}")
    if not any(info.is_required() for info in model.model_fields.values()):
        try:
            model()
        except ValidationError as err:  # a whole-config rule (e.g. "set one of a or b") may fail
            out += [f"config field '{'.'.join(map(str, e['loc']))}': its default is not valid: {e['msg']}"
                    for e in err.errors() if e["loc"]]
    return out


def _run(spec: NodeSpec) -> list[str]:
    if not callable(spec.run):
        return ["run is not callable"]
    try:
        inspect.signature(spec.run).bind(None, {}, None)
    except TypeError:
        return ["run must take three arguments: (config, inputs, ctx)"]
    except ValueError:
        pass  # builtins without a signature cannot be checked
    return []


def _default_config(spec: NodeSpec) -> NodeConfig | None:
    try:
        return spec.config()
    except Exception:  # noqa: BLE001 - required fields: no default config to compute ports for
        return None


def _ports(side: str, declared: Sequence[Port] | Callable[[Any], Sequence[Port]],
           default: NodeConfig | None) -> list[str]:
    if callable(declared):
        if default is None:
            return []  # computed from a config that has no default: checked when a flow sets it
        try:
            ports = list(declared(default))
        except Exception as err:  # noqa: BLE001
            return [f"{side} cannot be computed for the default config: {type(err).__name__}: {err}"]
        where = f"{side} (computed for the default config)"
    else:
        ports, where = list(declared), side
    out: list[str] = []
    seen: set[str] = set()
    for port in ports:
        if not isinstance(port, Port):
            out.append(f"{where}: {port!r} is not a Port")
            continue
        out += _port(side, where, port, seen)
    return out


def _port(side: str, where: str, port: Port, seen: set[str]) -> list[str]:
    out = []
    if not PORT_NAME.match(port.name):
        out.append(f"{where}: port name '{port.name}' must be letters, digits and '_', not starting with a digit")
    if port.name in seen:
        out.append(f"{where}: port '{port.name}' is declared twice")
    seen.add(port.name)
    if not isinstance(port.type, PortType):
        out.append(f"{where}: port '{port.name}' has type {port.type!r}; use a PortType")
    if side == "inputs" and port.static:
        out.append(f"{where}: input '{port.name}' is static; only outputs can be")
    if side == "outputs" and port.multiple:
        out.append(f"{where}: output '{port.name}' is multiple; only inputs gather many edges")
    if port.static and port.default is None:
        out.append(f"{where}: static output '{port.name}' has no default, so it would send nothing")
    return out


def _roles(spec: NodeSpec) -> list[str]:
    out = []
    fields = spec.config.model_fields
    if spec.role in ("input", "output") and "name" not in fields:
        out.append(f"a flow {spec.role} node needs a 'name' config field (use Flow{spec.role.title()}Config)")
    if spec.router and not callable(spec.outputs) and len(spec.outputs) < 2:
        out.append("a router needs at least two outputs to choose between")
    return out


def _migrations(spec: NodeSpec) -> list[str]:
    out = []
    for step, migrate in sorted(spec.migrations.items()):
        if not isinstance(step, int) or not 1 <= step < spec.version:
            out.append(f"migration from version {step!r} never runs: steps go from 1 to "
                       f"{spec.version - 1} (version {spec.version} is the current one)")
        elif not callable(migrate):
            out.append(f"migration from version {step} is not callable")
    return out
