"""A tiny JSON API on 127.0.0.1 for HTTP-tool and API-chain tests: any method, fixed routes.

`routes` maps "METHOD /path" (query string excluded) to (status, JSON body). Every
request is recorded as (method, full path, headers, body text).
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from tests.fakes.local import LocalServer


class FakeApiServer(LocalServer):
    def __init__(self, routes: dict[str, tuple[int, Any]]) -> None:
        self.routes = routes
        self.requests: list[tuple[str, str, dict[str, str], str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length).decode("utf-8") if length else ""
                outer.requests.append((self.command, self.path, dict(self.headers), body))
                key = f"{self.command} {urlsplit(self.path).path}"
                status, payload = outer.routes.get(key, (404, {"error": "no such route"}))
                data = json.dumps(payload).encode("utf-8")
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer  # noqa: N815

        LocalServer.__init__(self, Handler)
