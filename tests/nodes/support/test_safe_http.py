"""SSRF-safe fetching: public-only addresses in every spelling, on every redirect hop."""

from __future__ import annotations

import ipaddress

import pytest

from nodes.support.safe_http import (
    FetchFailed,
    FetchPolicy,
    FetchRefused,
    address_problem,
    allow_loopback_for_tests,
    fetch,
)
from tests.fakes.web_server import FakeWebServer

HTML = b"<html><head><title>T</title></head><body><p>Hello</p></body></html>"


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://127.1/", "http://2130706433/", "http://0x7f000001/", "http://0177.0.0.1/",
    "http://0x7f.0.0.1/", "http://localhost/", "http://[::1]/", "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/", "http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/",
    "http://10.0.0.1/", "http://172.16.5.4/", "http://192.168.1.1/", "http://100.64.0.1/", "http://0.0.0.0/",
    "http://[::]/", "http://224.0.0.1/", "http://240.0.0.1/", "http://[2002:7f00:1::]/", "http://[fe80::1]/",
])
def test_internal_addresses_are_refused_in_every_spelling(url: str) -> None:
    with pytest.raises(FetchRefused, match="resolves to"):
        fetch(url, policy=FetchPolicy(timeout=5))


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "gopher://example.com/",
                                 "dict://127.0.0.1:11211/", "data:text/plain,hi", "//example.com/x"])
def test_only_http_and_https_schemes(url: str) -> None:
    with pytest.raises(FetchRefused, match="scheme"):
        fetch(url)


def test_public_addresses_pass_the_check() -> None:
    for addr in ("8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"):
        assert address_problem(ipaddress.ip_address(addr)) is None


def test_fetches_a_page_from_an_allowed_test_server() -> None:
    page = {"/": (200, {"content-type": "text/html; charset=utf-8"}, HTML)}
    with FakeWebServer(page) as server, allow_loopback_for_tests(server.port):
        result = fetch(server.url + "/")
    assert result.status == 200 and result.content == HTML and result.address == "127.0.0.1"
    assert server.hits[0][1]["Host"] == f"127.0.0.1:{server.port}"


def test_loopback_allowance_is_per_port_and_off_by_default() -> None:
    with FakeWebServer({"/": (200, {}, b"x")}) as server:
        with pytest.raises(FetchRefused, match="loopback"):
            fetch(server.url + "/")
        with allow_loopback_for_tests(server.port + 1), pytest.raises(FetchRefused, match="loopback"):
            fetch(server.url + "/")


@pytest.mark.parametrize("target", ["http://169.254.169.254/latest/", "http://127.0.0.1:1/admin",
                                    "http://2130706433:1/", "file:///etc/passwd", "http://10.1.2.3/"])
def test_every_redirect_hop_is_checked(target: str) -> None:
    routes = {"/go": (302, {"location": target}, b"")}
    with (FakeWebServer(routes) as server, allow_loopback_for_tests(server.port),
          pytest.raises(FetchRefused)):
        fetch(server.url + "/go")
    assert [h[0] for h in server.hits] == ["/go"]


def test_redirects_within_allowed_hosts_are_followed_and_capped() -> None:
    routes = {"/a": (301, {"location": "/b"}, b""), "/b": (200, {}, b"done"),
              "/loop": (302, {"location": "/loop"}, b"")}
    with FakeWebServer(routes) as server, allow_loopback_for_tests(server.port):
        result = fetch(server.url + "/a")
        assert result.content == b"done" and result.redirects == [server.url + "/a"]
        with pytest.raises(FetchFailed, match="more than 3 redirects"):
            fetch(server.url + "/loop", policy=FetchPolicy(max_redirects=3))


def test_size_cap() -> None:
    with (FakeWebServer({"/big": (200, {}, b"x" * 5000)}) as server, allow_loopback_for_tests(server.port),
          pytest.raises(FetchFailed, match="1024-byte limit")):
        fetch(server.url + "/big", policy=FetchPolicy(max_bytes=1024))


def test_host_allowlist() -> None:
    with pytest.raises(FetchRefused, match="not in the allowlist"):
        fetch("https://example.com/", policy=FetchPolicy(allowed_hosts=("api.example.org",)))
    with pytest.raises(FetchRefused, match=r"allowlist \(none\)"):
        fetch("https://example.com/", policy=FetchPolicy(allowed_hosts=()))
