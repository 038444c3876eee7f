"""A tiny web server on 127.0.0.1 with fixed routes: path -> (status, headers, body)."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.local import LocalServer

Route = tuple[int, dict[str, str], bytes]


class FakeWebServer(LocalServer):
    def __init__(self, routes: dict[str, Route]) -> None:
        self.routes = routes
        self.hits: list[tuple[str, dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer.hits.append((self.path, dict(self.headers)))
                status, headers, body = outer.routes.get(self.path, (404, {}, b"not found"))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        LocalServer.__init__(self, Handler)
