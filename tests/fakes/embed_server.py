"""A fake embeddings server on 127.0.0.1 speaking OpenAI's /v1/embeddings and Cohere's /v2/embed.

Vectors are deterministic (derived from each text's sha256), so tests can check
order and batching; every request body is recorded in `requests`.
"""

from __future__ import annotations

import hashlib
import json
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.local import LocalServer

DIM = 8


def vector(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [b / 255.0 for b in digest[:DIM]]


class FakeEmbedServer(LocalServer):
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                outer.requests.append((self.path, body, dict(self.headers)))
                if self.path.endswith("/embeddings"):
                    texts = body["input"]
                    reply: dict[str, Any] = {
                        "object": "list", "model": body["model"],
                        "data": [{"object": "embedding", "index": i, "embedding": vector(t)}
                                 for i, t in reversed(list(enumerate(texts)))],
                        "usage": {"prompt_tokens": sum(len(t.split()) for t in texts),
                                  "total_tokens": sum(len(t.split()) for t in texts)}}
                elif self.path.endswith("/embed"):
                    texts = body["texts"]
                    reply = {"id": "x", "response_type": "embeddings_by_type", "texts": texts,
                             "embeddings": {"float": [vector(t) for t in texts]},
                             "meta": {"billed_units": {"input_tokens": len(texts)}}}
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        LocalServer.__init__(self, Handler)
