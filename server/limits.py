"""Request body limits, enforced before routing: size (413), then JSON shape (400).

`BodyLimits` is plain ASGI middleware. It refuses a declared Content-Length over
the limit without reading anything, reads other bodies up to the limit (chunked
uploads included), then checks a JSON body with a strict parser: NaN, Infinity,
invalid text and nesting deeper than the limit are a 400 before any handler or
model sees them. The checked body is replayed to the app unchanged.
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.flow import json_depth
from server.errors import ApiError


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def _is_json(content_type: str | None) -> bool:
    return content_type is None or "json" in content_type.lower()


class BodyLimits:
    """ASGI middleware: bounded, well-formed, shallow request bodies or an error response."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, max_depth: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            self.check_length(scope)
            body, tail = await self.read(receive)
            if body:
                self.check_json(scope, body)
        except ApiError as err:
            await err.response()(scope, receive, send)
            return
        await self.app(scope, self.replay(body, tail, receive), send)

    def check_length(self, scope: Scope) -> None:
        declared = _header(scope, b"content-length")
        if declared is None:
            return
        if not declared.strip().isdigit():
            raise ApiError(400, "bad_request", "the Content-Length header is not a number")
        if int(declared) > self.max_bytes:
            raise self.too_large()

    def too_large(self) -> ApiError:
        return ApiError(413, "too_large", f"the request body is over the {self.max_bytes}-byte limit",
                        hint="send a smaller body; the operator sets the limit with --max-body-bytes")

    async def read(self, receive: Receive) -> tuple[bytes, Message | None]:
        """The whole body, or ApiError(413) once it passes the limit; plus a non-body message seen."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks), message  # e.g. a disconnect: hand it on
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise self.too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), None

    def check_json(self, scope: Scope, body: bytes) -> None:
        if not _is_json(_header(scope, b"content-type")):
            return
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError as err:
            if any(word in str(err).lower() for word in ("recursion", "depth")):
                raise self.too_deep() from err
            raise ApiError(400, "bad_json", "the request body is not valid JSON (NaN and Infinity "
                           "are not JSON either)", hint="send a JSON document") from err
        if json_depth(value, self.max_depth) > self.max_depth:
            raise self.too_deep()

    def too_deep(self) -> ApiError:
        return ApiError(400, "too_deep", f"the JSON body is nested more than {self.max_depth} levels "
                        "deep", hint="flatten the document")

    @staticmethod
    def replay(body: bytes, tail: Message | None, receive: Receive) -> Receive:
        sent = False

        async def replayed() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            if tail is not None:
                return tail
            return await receive()

        return replayed
