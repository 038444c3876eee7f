"""API-key auth, as a dependency of every API route (so it sees exactly the route that matched).

Auth runs after routing, on the route the router chose, so there is no second
reading of the path that could disagree with routing (case, encoding, slashes).
A key comes as `Authorization: Bearer <key>` or `X-API-Key: <key>` and is checked
through the worker's KeyCache (keys verified before, dropped at once on any
revocation in any worker; see server.keys). The dependency is async: a key check is
one tiny read, not worth a hop to a thread. With auth turned off (loopback servers
only), clients from any non-loopback address are refused all the same.
"""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from server.errors import ApiError
from server.keys import ApiKey
from server.settings import is_loopback
from server.state import app_state

bearer = HTTPBearer(auto_error=False, description="An API key from `chainloom keys create NAME`.")
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                              description="The same API key, for clients that cannot set Authorization.")

CREATE_HINT = "send `Authorization: Bearer <key>`; an operator creates keys with `chainloom keys create NAME`"


async def require_key(request: Request,
                credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
                header_key: str | None = Depends(api_key_header)) -> ApiKey | None:
    """The caller's active key (None when auth is off for this loopback server)."""
    state = app_state(request)
    if not state.settings.auth:
        host = request.client.host if request.client else ""
        if not is_loopback(host):
            raise ApiError(403, "forbidden", "this server runs without API keys, so it serves "
                           "only clients on this machine", hint="ask the operator for a key")
        return None
    key = credentials.credentials if credentials is not None else header_key
    if not key:
        raise ApiError(401, "unauthorized", "an API key is required", hint=CREATE_HINT,
                       headers={"WWW-Authenticate": "Bearer"})
    record = state.keys.verify(key.strip())
    if record is None:
        raise ApiError(401, "unauthorized", "the API key is not valid, or it was revoked",
                       hint=CREATE_HINT, headers={"WWW-Authenticate": "Bearer"})
    return record
