"""Calling allowlisted web APIs, and nothing else (shared by `tool.http` and `chain.api`).

Every request goes through `nodes.support.safe_http.fetch`: http(s) only, the resolved
address must be public on every redirect hop, and the host must be in the
node's allowlist on every hop too (an empty allowlist refuses everything).
GET is the default; methods with side effects (POST, PUT, PATCH, DELETE) work
only when the flow author turns them on. Bodies and time are capped, and an
optional auth header is filled from an environment variable, never the flow.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode, urljoin, urlsplit

from pydantic import Field, field_validator

from engine.fields import Where
from engine.node import NodeConfig, SecretRef
from nodes.support.safe_http import FetchPolicy, FetchResult, fetch
from nodes.support.tools import ToolError

if TYPE_CHECKING:
    from engine.context import RunContext

Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
SAFE_METHODS = ("GET", "HEAD")
HOST = re.compile(r"^[A-Za-z0-9.-]{1,253}$|^\[?[0-9A-Fa-f:.]+\]?$")


class HttpSettings(NodeConfig):
    """Where and how a node may send HTTP requests (the HTTP tool and the API chain share these)."""

    allowed_hosts: list[str] = Where(kind="host", default_factory=list, max_length=100,
                                     description="Hosts the tool may call (e.g. api.example.com). Empty = "
                                     "every request is refused.")
    base_url: str = Where(kind="url", default="", max_length=2000,
                          description="Relative paths from the model are joined to "
                          "this URL (e.g. https://api.example.com/v1/).")
    allow_side_effects: bool = Where(kind="capability", default=False,
                                     description="Allow POST, PUT, PATCH and DELETE (they can change "
                                     "things on the server). Off: GET and HEAD only.")
    auth_header: str = Where(kind="capability", default="", max_length=100, pattern=r"^$|^[A-Za-z0-9-]{1,100}$",
                             description="Header that carries a credential, e.g. Authorization.")
    auth_env: str = SecretRef("", description="Variable holding the credential for `auth_header` "
                              "(for Authorization, include the scheme: 'Bearer ...').")
    max_bytes: int = Field(1_000_000, ge=1, le=50_000_000, description="Largest response body read.")
    max_chars: int = Field(4000, ge=100, le=200_000, description="Longest response text shown to the model.")
    timeout: float = Field(15.0, gt=0, le=300, description="Seconds a request may take, redirects included.")

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, hosts: list[str]) -> list[str]:
        for host in hosts:
            if not HOST.match(host):
                raise ValueError(f"allowed host {host!r} is not a host name; write it without scheme, port "
                                 "or path, e.g. api.example.com")
        return [h.lower().strip("[]").rstrip(".") for h in hosts]

    @field_validator("base_url")
    @classmethod
    def _base(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("base_url must start with http:// or https://")
        return value

    def methods(self) -> list[str]:
        return ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] if self.allow_side_effects else list(SAFE_METHODS)


class HttpClient:
    """The allowlisted, capped requests one HTTP tool (or API chain) may make."""

    def __init__(self, config: HttpSettings, ctx: RunContext) -> None:
        self.config = config
        self.policy = FetchPolicy(max_bytes=config.max_bytes, timeout=config.timeout,
                                  allowed_hosts=tuple(config.allowed_hosts))
        self.headers: dict[str, str] = {}
        if config.auth_header and config.auth_env:
            self.headers[config.auth_header] = ctx.secret(config.auth_env, field="auth_env")

    def url(self, raw: str, params: Mapping[str, Any] | None = None) -> str:
        url = urljoin(self.config.base_url, raw.strip()) if self.config.base_url else raw.strip()
        if params:
            url += ("&" if "?" in url else "?") + urlencode({k: _param(v) for k, v in params.items()})
        return url

    async def request(self, method: str, url: str, body: Any = None) -> FetchResult:
        method = method.upper()
        if method not in self.config.methods():
            raise ToolError(f"method {method} is not allowed; this tool may use {', '.join(self.config.methods())}",
                            hint="the flow author can turn on allow_side_effects for POST/PUT/PATCH/DELETE")
        if not self.config.allowed_hosts:
            raise ToolError("this HTTP tool has no allowed hosts, so every request is refused",
                            hint="list the API's host in the node's allowed_hosts")
        headers = dict(self.headers)
        data: bytes | None = None
        if body is not None and method not in SAFE_METHODS:
            data = (body if isinstance(body, str) else json.dumps(body)).encode("utf-8")
            headers["Content-Type"] = "application/json" if not isinstance(body, str) else "text/plain; charset=utf-8"
        return await asyncio.to_thread(fetch, url, method=method, headers=headers, body=data, policy=self.policy)


def _param(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def describe_response(result: FetchResult) -> str:
    """Status line, content type and body text (JSON pretty-printed compactly)."""
    body = result.text()
    if result.content_type.endswith("json"):
        try:
            body = json.dumps(json.loads(body), ensure_ascii=False)
        except ValueError:
            pass
    return f"HTTP {result.status} ({result.content_type or 'no content type'})\n{body}"
