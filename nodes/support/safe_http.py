"""SSRF-safe HTTP fetching, shared by the URL loader and the HTTP tool.

`fetch(url)` allows only http and https, resolves the host itself and refuses any
address that is not public (loopback, private, link-local and cloud metadata,
CGNAT, reserved, multicast, unspecified, and IPv6 forms that embed such an IPv4,
whatever way the address is spelled), then connects to the very address it
checked (the Host header and TLS server name keep the original name, so there is
no second lookup to race). Redirects are followed by hand and every hop is
checked the same way. Bodies are capped in size and the whole fetch in time.
Loopback can be allowed only by tests, through `allow_loopback_for_tests()`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx

from engine.errors import PermanentError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
REDIRECTS = {301, 302, 303, 307, 308}
_EMBEDS_V4 = [ipaddress.ip_network(n) for n in ("::/96", "::ffff:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48")]
_RESOLVER = ThreadPoolExecutor(max_workers=4, thread_name_prefix="chainloom-dns")
_loopback_ports: frozenset[int] = frozenset()


class FetchRefused(PermanentError):
    """The URL, an address it resolves to, or a redirect target is not allowed."""


class FetchFailed(PermanentError):
    """The fetch was allowed but did not succeed (too big, too slow, unreachable)."""


@contextlib.contextmanager
def allow_loopback_for_tests(*ports: int) -> Iterator[None]:
    """Tests only: let fetches reach loopback on these ports (their fake servers). Never from flow config."""
    global _loopback_ports
    before, _loopback_ports = _loopback_ports, frozenset(ports)
    try:
        yield
    finally:
        _loopback_ports = before


@dataclass(frozen=True)
class FetchPolicy:
    """Caps for one fetch. `allowed_hosts` None = any public host; () = none at all."""

    max_bytes: int = 5 * 1024 * 1024
    timeout: float = 20.0
    max_redirects: int = 5
    allowed_hosts: tuple[str, ...] | None = None
    user_agent: str = "chainloom/0.1 (+https://github.com/chainloom)"


@dataclass
class FetchResult:
    url: str                      # the final URL, after redirects
    status: int
    headers: dict[str, str]
    content: bytes
    address: str                  # the IP actually connected to
    redirects: list[str] = field(default_factory=list)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def charset(self) -> str | None:
        for part in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                return value.strip("\"'")
        return None

    def text(self) -> str:
        return self.content.decode(self.charset or "utf-8", errors="replace")


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    for net in _EMBEDS_V4:
        if ip in net:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_problem(ip: IPAddress, port: int | None = None) -> str | None:
    """Why `ip` may not be fetched from, or None when it is a public unicast address."""
    if ip.is_loopback:
        return None if port in _loopback_ports else "is a loopback address"
    if isinstance(ip, ipaddress.IPv6Address) and not ip.is_unspecified:
        inner = _embedded_v4(ip)
        if inner is not None:
            problem = address_problem(inner, port)
            return f"embeds {inner}, which {problem}" if problem else None
    checks = (("is_unspecified", "is unspecified"), ("is_link_local", "is link-local (cloud metadata lives here)"),
              ("is_multicast", "is multicast"), ("is_private", "is a private address"),
              ("is_reserved", "is reserved"))
    for attr, why in checks:
        if getattr(ip, attr):
            return why
    if not ip.is_global:
        return "is not a public address"
    return None


def check_url(url: str, policy: FetchPolicy) -> tuple[str, str, int]:
    """(scheme, host, port) of an allowed URL, or FetchRefused saying why not."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise FetchRefused(f"'{url[:200]}' is not a valid URL") from err
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchRefused(f"scheme '{scheme or '(none)'}' is not allowed", hint="use an http:// or https:// URL")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise FetchRefused(f"URL '{url[:200]}' has no host")
    if parts.username or parts.password:
        raise FetchRefused("URLs with user names or passwords are not allowed")
    if policy.allowed_hosts is not None and host not in {h.lower() for h in policy.allowed_hosts}:
        allowed = ", ".join(policy.allowed_hosts) or "none"
        raise FetchRefused(f"host '{host}' is not in the allowlist ({allowed})",
                           hint="add the host to the node's allowed hosts")
    return scheme, host, port or (443 if scheme == "https" else 80)


def resolve(host: str, port: int, timeout: float) -> list[IPAddress]:
    """Every address `host` resolves to (numeric spellings resolve the way the OS reads them)."""
    future = _RESOLVER.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=max(0.1, timeout))
    except FutureTimeout as err:
        raise FetchFailed(f"looking up '{host}' took longer than {timeout:.1f}s") from err
    except (socket.gaierror, UnicodeError) as err:
        raise FetchFailed(f"cannot resolve host '{host}': {err}") from err
    addrs = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    return list(dict.fromkeys(addrs))


def checked_address(host: str, port: int, timeout: float) -> IPAddress:
    """The address to connect to; refused if ANY address of the host is not public."""
    addrs = resolve(host, port, timeout)
    if not addrs:
        raise FetchFailed(f"host '{host}' has no address")
    for ip in addrs:
        problem = address_problem(ip, port)
        if problem:
            raise FetchRefused(f"host '{host}' resolves to {ip}, which {problem}",
                               hint="only public internet addresses may be fetched")
    return addrs[0]


def _pinned_request(client: httpx.Client, method: str, url: str, ip: IPAddress, host: str,
                    port: int, headers: Mapping[str, str], body: bytes | None) -> httpx.Request:
    parts = urlsplit(url)
    literal = f"[{ip}]" if ip.version == 6 else str(ip)
    target = parts._replace(netloc=f"{literal}:{port}").geturl()
    default_port = 443 if parts.scheme.lower() == "https" else 80
    hdrs = dict(headers)
    hdrs["Host"] = host if port == default_port else f"{host}:{port}"
    extensions = {"sni_hostname": host} if parts.scheme.lower() == "https" else {}
    return client.build_request(method, target, headers=hdrs, content=body, extensions=extensions)


def _read_capped(response: httpx.Response, policy: FetchPolicy, deadline: float) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > policy.max_bytes:
        raise FetchFailed(f"response is {int(declared)} bytes, over the {policy.max_bytes}-byte limit")
    chunks, total = [], 0
    for chunk in response.iter_bytes():
        total += len(chunk)
        if total > policy.max_bytes:
            raise FetchFailed(f"response is over the {policy.max_bytes}-byte limit")
        if time.monotonic() > deadline:
            raise FetchFailed(f"fetch took longer than {policy.timeout}s")
        chunks.append(chunk)
    return b"".join(chunks)


def fetch(url: str, *, method: str = "GET", headers: Mapping[str, str] | None = None,
          body: bytes | None = None, policy: FetchPolicy | None = None) -> FetchResult:
    """Fetch `url` safely (see the module docstring). Raises FetchRefused / FetchFailed."""
    policy = policy or FetchPolicy()
    deadline = time.monotonic() + policy.timeout
    hdrs = {"User-Agent": policy.user_agent, "Accept-Encoding": "identity", **(headers or {})}
    hops: list[str] = []
    with httpx.Client(trust_env=False, follow_redirects=False, verify=True) as client:
        while True:
            scheme, host, port = check_url(url, policy)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FetchFailed(f"fetch took longer than {policy.timeout}s")
            ip = checked_address(host, port, remaining)
            request = _pinned_request(client, method, url, ip, host, port, hdrs, body)
            try:
                response = client.send(request, stream=True)
            except httpx.HTTPError as err:
                raise FetchFailed(f"cannot fetch '{url[:200]}': {type(err).__name__}: {err}") from err
            with contextlib.closing(response):
                client.timeout = httpx.Timeout(max(0.1, deadline - time.monotonic()))
                location = response.headers.get("location")
                if response.status_code in REDIRECTS and location:
                    if len(hops) >= policy.max_redirects:
                        raise FetchFailed(f"more than {policy.max_redirects} redirects")
                    hops.append(url)
                    url, method, body, hdrs = _follow(url, location, response.status_code, method, body, hdrs)
                    continue
                try:
                    content = _read_capped(response, policy, deadline)
                except httpx.HTTPError as err:
                    raise FetchFailed(f"reading '{url[:200]}' failed: {err}") from err
                return FetchResult(url=url, status=response.status_code, headers=dict(response.headers),
                                   content=content, address=str(ip), redirects=hops)


def _follow(url: str, location: str, status: int, method: str, body: bytes | None,
            headers: dict[str, str]) -> tuple[str, str, bytes | None, dict[str, str]]:
    """The next hop of a redirect: method/body per RFC 9110, credentials dropped across origins."""
    target = urljoin(url, location)
    if status == 303 or (status in (301, 302) and method == "POST"):
        method, body = "GET", None
    old, new = urlsplit(url), urlsplit(target)
    if (old.scheme, old.netloc) != (new.scheme, new.netloc):
        headers = {k: v for k, v in headers.items() if k.lower() not in ("authorization", "cookie")}
    return target, method, body, headers
