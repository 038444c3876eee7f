"""The server's settings: one frozen value, read from keyword arguments or the environment.

Every uvicorn worker builds its app from the environment (`Settings.from_env()`),
so `chainloom serve` writes its options there (`to_env()`) before starting the
workers. Defaults are the safe ones: keys required, CORS closed, bounded bodies,
bounded runs.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from engine.home import default_home
from engine.store import default_url

ENV_PREFIX = "CHAINLOOM_SERVER_"
MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_JSON_DEPTH = 64
RUN_TIMEOUT = 300.0
MAX_RUN_TIMEOUT = 3600.0
MAX_CONCURRENT_RUNS = 64
CANCEL_POLL = 0.25
SWEEP_INTERVAL = 10.0  # seconds between looks for runs whose process is gone


class SettingsError(ValueError):
    """A setting has a value the server refuses to start with."""


def is_loopback(host: str) -> bool:
    """True for localhost and every loopback address spelling (127.x, ::1)."""
    if host.strip().lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Settings:
    """What a server instance needs to know. Use `Settings(...)` in code, `from_env()` in workers."""

    database_url: str = ""            # empty: $CHAINLOOM_DATABASE_URL, else SQLite in `home`
    home: str = ""                    # empty: $CHAINLOOM_HOME, else ~/.chainloom
    host: str = "127.0.0.1"           # the address served; auth may be off only on loopback
    auth: bool = True                 # False: no key needed, and only loopback clients served
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = MAX_BODY_BYTES
    max_json_depth: int = MAX_JSON_DEPTH
    run_timeout: float = RUN_TIMEOUT          # a run's limit when the request names none
    max_run_timeout: float = MAX_RUN_TIMEOUT  # the most a request may ask for
    max_concurrent_runs: int = MAX_CONCURRENT_RUNS  # per worker; more wait their turn
    cancel_poll: float = CANCEL_POLL  # seconds between checks of a run's cancel flag
    sweep_interval: float = SWEEP_INTERVAL  # seconds between sweeps for orphaned runs
    lease_seconds: float = 0.0        # 0: $CHAINLOOM_LEASE_SECONDS, else 30 (a run's claim without heartbeat)
    traces: bool = False              # also write <home>/traces/<run>.jsonl (the store records anyway)
    public_docs: bool = True          # /docs, /redoc and /openapi.json need no key
    enable_code: bool = False         # allow code.python nodes (sandboxed user code); off by default
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.auth and not is_loopback(self.host):
            raise SettingsError(f"auth can be turned off only on a loopback address, not on "
                                f"'{self.host}'; serve on 127.0.0.1 or create a key with "
                                "`chainloom keys create NAME`")
        for name in ("max_body_bytes", "max_json_depth", "max_concurrent_runs"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name} must be at least 1")
        if not 0 < self.run_timeout <= self.max_run_timeout:
            raise SettingsError("run_timeout must be positive and at most max_run_timeout")
        if not 0 < self.sweep_interval <= 3600 or not 0 <= self.lease_seconds <= 3600:
            raise SettingsError("sweep_interval must be in (0, 3600] seconds and lease_seconds in "
                                "[0, 3600] (0: the default)")
        if "*" in self.cors_origins and len(self.cors_origins) > 1:
            raise SettingsError("cors origin '*' cannot be combined with other origins")

    @property
    def home_path(self) -> Path:
        return Path(self.home).expanduser() if self.home else default_home()

    @property
    def url(self) -> str:
        """The database URL in force."""
        if self.database_url:
            return self.database_url
        return default_url(self.home or None)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    # ------------------------------------------------------------ environment
    def to_env(self) -> dict[str, str]:
        """Environment variables from which `from_env()` rebuilds these settings."""
        out: dict[str, str] = {}
        for f in fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = ",".join(value)
            elif isinstance(value, bool):
                value = "1" if value else "0"
            out[ENV_PREFIX + f.name.upper()] = str(value)
        return out

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is None or f.name == "extra":
                continue
            kwargs[f.name] = _convert(f.name, str(f.type), raw)
        return cls(**kwargs)


def _convert(name: str, kind: str, raw: str) -> Any:
    try:
        if kind == "bool":
            if raw.strip().lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise ValueError(raw)
            return raw.strip().lower() in ("1", "true", "yes", "on")
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind.startswith("tuple"):
            return tuple(p.strip() for p in raw.split(",") if p.strip())
        return raw
    except ValueError as err:
        raise SettingsError(f"{ENV_PREFIX}{name.upper()}={raw!r} is not a valid {kind}") from err
