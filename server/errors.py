"""Every error the API returns has one shape, and none echoes what was sent.

    {"error": {"code": "...", "message": "...", "hint": "...", "issues": [...]}}

`issues` (422 only) lists every problem at once, each naming the node, the port
or field, what is wrong and how to fix it - from engine validation (`Issue`) or
from request parsing (pydantic errors, with the node's id looked up in the body).
Values sent by the client are never repeated: pydantic's `input` is dropped and
unexpected exceptions become a bare 500 with a reference to the server log.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.errors import ChainloomError, FlowInputError, FlowLoadError, NotFound, StaleVersion, ValidationFailed
from engine.flow import error_words, locate_error
from engine.issues import Issue
from engine.redact import redact_urls

log = logging.getLogger("chainloom.server")

_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 406: "not_acceptable", 409: "conflict",
               413: "too_large", 415: "unsupported_media_type", 422: "invalid", 429: "too_many",
               503: "unavailable"}


class ApiError(Exception):
    """An error response: status, a stable code, a message and a hint (never a client value)."""

    def __init__(self, status: int, code: str, message: str, *, hint: str = "",
                 issues: Sequence[Mapping[str, Any]] = (), headers: Mapping[str, str] | None = None,
                 **extra: Any) -> None:
        message, hint = redact_urls(message), redact_urls(hint)
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.hint = hint
        self.issues = list(issues)
        self.headers = dict(headers or {})
        self.extra = extra

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message, "hint": self.hint}
        if self.issues or self.status == 422:
            err["issues"] = self.issues
        err.update(self.extra)
        return {"error": err}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def issue_dict(issue: Issue) -> dict[str, Any]:
    """An engine Issue as JSON (`field`: the config field or flow input it is about)."""
    return issue.to_dict()


def invalid(message: str, issues: Sequence[Mapping[str, Any]], hint: str = "") -> ApiError:
    return ApiError(422, "invalid", message, hint=hint, issues=issues)


def from_chainloom(err: ChainloomError) -> ApiError:
    """The HTTP form of an engine error (its message and hint hold no secret values)."""
    if isinstance(err, ValidationFailed):
        n = len(err.issues)
        return invalid(f"the flow has {n} problem{'s' if n != 1 else ''}",
                       [issue_dict(i) for i in err.issues], hint="fix every issue listed and retry")
    if isinstance(err, StaleVersion):
        return ApiError(409, "stale_version", err.message, hint=err.hint,
                        flow_id=err.flow_id, current_version=err.actual)
    if isinstance(err, NotFound):
        return ApiError(404, "not_found", err.message, hint=err.hint)
    if isinstance(err, FlowLoadError | FlowInputError):
        return invalid(err.message, [{"code": "bad_flow" if isinstance(err, FlowLoadError)
                                      else "bad_input", "node": None, "port": None, "field": None,
                                      "message": err.message, "hint": err.hint}], hint=err.hint)
    return ApiError(400, "refused", err.message, hint=err.hint)


# ------------------------------------------------------------ request validation
def _dotted(parts: Sequence[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def request_issue(err: Mapping[str, Any], raw: Any) -> dict[str, Any]:
    """One pydantic error as an issue naming the node (by id) and the field; no input echoed."""
    loc = list(err.get("loc", ()))
    where = loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc
    place = locate_error(where, raw)
    field = (_dotted(place.rest) or "(whole node)") if place.node is not None else _dotted(where) or None
    message = error_words(err, echo=False)
    if loc and loc[0] in ("query", "path", "header"):
        message = f"{loc[0]} parameter: {message}"
    return {"code": str(err.get("type", "invalid")), "node": place.node, "port": None, "field": field,
            "message": message, "hint": ""}


_Handled = TypeVar("_Handled", bound=Exception)


def _handled(exc: Exception, kind: type[_Handled]) -> _Handled:
    """The exception as the type its handler is registered for (Starlette types handlers loosely)."""
    if not isinstance(exc, kind):
        raise TypeError(f"the {kind.__name__} handler got a {type(exc).__name__}") from exc
    return exc


async def on_request_validation(request: Request, exc: Exception) -> JSONResponse:
    exc = _handled(exc, RequestValidationError)
    issues = [request_issue(e, exc.body) for e in exc.errors()]
    n = len(issues)
    return invalid(f"the request has {n} problem{'s' if n != 1 else ''}", issues,
                   hint="see the API schema at /docs").response()


async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
    exc = _handled(exc, ApiError)
    return exc.response()


async def on_chainloom_error(request: Request, exc: Exception) -> JSONResponse:
    exc = _handled(exc, ChainloomError)
    return from_chainloom(exc).response()


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    exc = _handled(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    # The path is not repeated: it is the client's text, and may hold anything.
    message = {404: "no route matches this path", 405: "this method is not allowed on this path"
               }.get(exc.status_code, code.replace("_", " "))
    hint = "the routes are listed at /docs" if exc.status_code in (404, 405) else ""
    return ApiError(exc.status_code, code, message, hint=hint, headers=exc.headers).response()


async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    ref = uuid.uuid4().hex[:12]
    log.error("internal error ref=%s on %s %s", ref, request.method, request.url.path, exc_info=exc)
    return ApiError(500, "internal", f"internal error (reference {ref}); details are in the "
                    "server log").response()


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, on_request_validation)
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(ChainloomError, on_chainloom_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
