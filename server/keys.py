"""API keys: made by the CLI, shown once, stored only as a SHA-256 hash.

A key is `clk_<id>_<secret>`: `id` is public (listed, used to revoke), `secret`
holds 256 bits from `secrets`. Because the key has that much entropy, one
unsalted SHA-256 is enough to make the stored hash useless to a thief, and a
lookup by hash needs no per-key work. Revoked keys stop working on the next
request in every worker: nothing is cached in a process.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, insert, or_, select, update

from engine.errors import NotFound
from server.tables import api_keys_table

PREFIX = "clk_"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.@-]{0,99}$")
MAX_KEY_CHARS = 200


class KeyNameError(ValueError):
    """A key name that is empty, too long or has odd characters."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def create_key(engine: Engine, name: str) -> tuple[ApiKey, str]:
    """Store a new key named `name`; return its record and the key itself (shown only now)."""
    if not NAME_PATTERN.match(name):
        raise KeyNameError(f"key name {name[:40]!r} must be 1-100 letters, digits, spaces or "
                           "'_', '.', '@', '-', starting with a letter or digit")
    key_id = secrets.token_hex(6)
    key = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(insert(api_keys_table).values(id=key_id, name=name, key_hash=hash_key(key),
                                                   created_at=now, revoked_at=None))
    return ApiKey(key_id, name, now, None), key


def list_keys(engine: Engine) -> list[ApiKey]:
    t = api_keys_table
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.id, t.c.name, t.c.created_at, t.c.revoked_at)
                            .order_by(t.c.created_at, t.c.id)).all()
    return [ApiKey(r.id, r.name, _utc(r.created_at), _utc(r.revoked_at)) for r in rows]  # type: ignore[arg-type]


def revoke_key(engine: Engine, id_or_name: str) -> list[ApiKey]:
    """Revoke the key with this id, or every active key with this name; return what was revoked."""
    t = api_keys_table
    now = datetime.now(UTC)
    with engine.begin() as conn:
        rows = conn.execute(select(t.c.id, t.c.name, t.c.created_at).where(
            or_(t.c.id == id_or_name, t.c.name == id_or_name), t.c.revoked_at.is_(None))).all()
        if not rows:
            raise NotFound(f"no active API key has the id or name '{id_or_name}'",
                           hint="list keys with `chainloom keys list`")
        conn.execute(update(t).where(t.c.id.in_([r.id for r in rows])).values(revoked_at=now))
    return [ApiKey(r.id, r.name, _utc(r.created_at), now) for r in rows]  # type: ignore[arg-type]


def verify_key(engine: Engine, key: str) -> ApiKey | None:
    """The active key record for `key`, or None (unknown, malformed or revoked)."""
    if not key.startswith(PREFIX) or len(key) > MAX_KEY_CHARS:
        return None
    t = api_keys_table
    with engine.connect() as conn:
        row = conn.execute(select(t.c.id, t.c.name, t.c.created_at)
                           .where(t.c.key_hash == hash_key(key), t.c.revoked_at.is_(None))).first()
    return None if row is None else ApiKey(row.id, row.name, _utc(row.created_at), None)  # type: ignore[arg-type]
