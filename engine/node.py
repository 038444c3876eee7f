"""The node contract: a node type is four things and nothing else.

A stable type id with a version, a pydantic config model, typed input and output
ports (fixed, or computed from the config), and one `run(config, inputs, ctx)`
function, sync or async, that returns a dict of outputs. Retries, timeouts,
caching, streaming plumbing and tracing belong to the engine, not to nodes.
"""

from __future__ import annotations

import builtins
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.ports import Port

if TYPE_CHECKING:
    from engine.context import RunContext
    from engine.issues import Issue

Outputs = dict[str, Any]
RunFunction = Callable[[Any, dict[str, Any], "RunContext"], Outputs | Awaitable[Outputs]]
PortList = Sequence[Port] | Callable[[Any], Sequence[Port]]
Migration = Callable[[dict[str, Any]], dict[str, Any]]
# (config, {input port: config of the node wired into it}, secret lookup) -> design-time warnings
Advice = Callable[[Any, Mapping[str, Any], Callable[[str], str | None]], Sequence["Issue"]]
NodePorts = tuple[tuple[Port, ...], tuple[Port, ...]]  # (inputs, outputs)

SECRET_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"  # noqa: S105 - a variable NAME, not a secret


class NodeConfig(BaseModel):
    """Base of every node's config: unknown fields and NaN/inf are refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, validate_default=True)


def SecretRef(default: str = "", *, description: str, allow_empty: bool | None = None) -> Any:  # noqa: N802
    """A config field that holds the *name* of an environment variable, never a secret.

    The UI shows it as a variable-name box; exports and traces carry only the name.
    An empty name is allowed when `allow_empty` (default: when the default is empty),
    for providers such as local servers that need no key.
    """
    empty_ok = not default if allow_empty is None else allow_empty
    return Field(
        default,
        description=description,
        pattern=(r"^$|" if empty_ok else "") + SECRET_NAME_PATTERN,
        json_schema_extra={"secret": True},
    )


class FlowInputConfig(NodeConfig):
    """Config shared by every `input.*` node: the flow input's name and default."""

    name: str = Field(description="Name of this flow input, used by callers to pass a value.",
                      pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    description: str = Field("", description="Shown to the person who runs the flow.", max_length=2000)
    required: bool = Field(True, description="Refuse to run when no value is given.")
    default: Any = Field(None, description="Value used when the caller gives none.")


class FlowOutputConfig(NodeConfig):
    """Config shared by every `output.*` node: the flow output's name."""

    name: str = Field(description="Name under which this value is returned to the caller.",
                      pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


@dataclass(frozen=True)
class NodeSpec:
    """Everything the engine knows about a node type.

    `blocking` sync functions run in a thread pool; cheap sync functions
    (`blocking=False`) run inline on the event loop. A `router` may leave some of
    its outputs out of the returned dict: edges from those are skipped.
    `side_effects` nodes are never retried or cached. `migrations[v]` turns a
    version-`v` config dict into a version-`v+1` one. `advice(config, upstream,
    secrets)` gives design-time warnings (engine.issues.Issue; node and severity are
    filled in by validation): `upstream` maps each connected input port to the
    config of the node wired into it, `secrets` looks variables up.
    """

    type: str
    version: int
    title: str
    description: str
    config: builtins.type[NodeConfig]
    run: RunFunction
    inputs: PortList = ()
    outputs: PortList = ()
    role: Literal["input", "output"] | None = None
    router: bool = False
    blocking: bool = True
    side_effects: bool = False
    cacheable: bool = True
    migrations: Mapping[int, Migration] = field(default_factory=dict)
    advice: Advice | None = None

    @property
    def family(self) -> str:
        return self.type.split(".", 1)[0]

    is_async: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "is_async", inspect.iscoroutinefunction(self.run))

    def input_ports(self, config: NodeConfig) -> tuple[Port, ...]:
        ports = self.inputs(config) if callable(self.inputs) else self.inputs
        return tuple(ports)

    def output_ports(self, config: NodeConfig) -> tuple[Port, ...]:
        ports = self.outputs(config) if callable(self.outputs) else self.outputs
        return tuple(ports)

    def parse_config(self, raw: Mapping[str, Any], version: int | None = None) -> NodeConfig:
        """A config as written in a flow (for `version`, default: this one), migrated and
        validated; raises pydantic's ValidationError when it does not fit."""
        return self.config.model_validate(self.migrate(version or self.version, dict(raw)))

    def ports_for(self, raw: Mapping[str, Any], version: int | None = None) -> NodePorts:
        """The (inputs, outputs) of a node whose config is `raw`, even a half-edited one.

        From the validated config; else from the config without its failing fields
        (their defaults are used); else the fixed ports, and none where ports are computed
        from a config that cannot be made.
        """
        try:
            return self.ports(self.parse_config(raw, version))
        except ValidationError as err:
            bad = {e["loc"][0] for e in err.errors() if e["loc"]}
            partial = {k: v for k, v in raw.items() if k not in bad}
        except Exception:  # noqa: BLE001 - a broken migration or port function: try the fixed ports
            partial = None
        if partial is not None:
            try:
                return self.ports(self.parse_config(partial, version))
            except Exception:  # noqa: BLE001 - a required field is missing: try the fixed ports
                pass
        return (() if callable(self.inputs) else tuple(self.inputs),
                () if callable(self.outputs) else tuple(self.outputs))

    def ports(self, config: NodeConfig) -> NodePorts:
        """(inputs, outputs) for a valid config."""
        return self.input_ports(config), self.output_ports(config)

    def migrate(self, version: int, config: dict[str, Any]) -> dict[str, Any]:
        """Bring a config written for `version` up to this spec's version."""
        for v in range(version, self.version):
            step = self.migrations.get(v)
            if step is not None:
                config = step(dict(config))
        return config

    def describe(self) -> dict[str, Any]:
        """Machine-readable description, as printed by `chainloom nodes --json`."""
        try:
            default_config = self.config()
        except Exception:  # noqa: BLE001 - a config with required fields has no default instance
            default_config = None
        dynamic_in, dynamic_out = callable(self.inputs), callable(self.outputs)
        return {
            "type": self.type,
            "family": self.family,
            "version": self.version,
            "title": self.title,
            "description": self.description,
            "config_schema": self.config.model_json_schema(),
            "inputs": _port_dicts(self.inputs, default_config),
            "outputs": _port_dicts(self.outputs, default_config),
            "dynamic_inputs": dynamic_in,
            "dynamic_outputs": dynamic_out,
            "role": self.role,
            "router": self.router,
            "side_effects": self.side_effects,
        }


def _port_dicts(ports: PortList, config: NodeConfig | None) -> list[dict[str, object]]:
    """Ports as dicts; dynamic ports are shown for the default config, if there is one."""
    if callable(ports):
        return [] if config is None else [p.to_dict() for p in ports(config)]
    return [p.to_dict() for p in ports]


def node(
    type: str,  # noqa: A002 - the type id, as in flow files ("type": "prompt.template")
    *,
    version: int = 1,
    title: str,
    description: str,
    config: type[NodeConfig],
    inputs: PortList = (),
    outputs: PortList = (),
    **flags: Any,
) -> Callable[[RunFunction], NodeSpec]:
    """Decorator that turns a run function into a NodeSpec (registration stays explicit)."""

    def wrap(fn: RunFunction) -> NodeSpec:
        return NodeSpec(type=type, version=version, title=title, description=description,
                        config=config, run=fn, inputs=inputs, outputs=outputs, **flags)

    return wrap
