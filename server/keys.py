"""API keys: made by the CLI, shown once, stored only as a SHA-256 hash.

A key is `clk_<id>_<secret>`: `id` is public (listed, used to revoke), `secret`
holds 256 bits from `secrets`. Because the key has that much entropy, one
unsalted SHA-256 is enough to make the stored hash useless to a thief, and a
lookup by hash needs no per-key work. A worker keeps the keys it has verified in
memory (`KeyCache`), and empties that cache as soon as the keys table's revision
(how many keys, how many revoked, the latest revocation) differs from the one it
was filled under, which it reads on every request: so a revoked key stops working
on the next request in every worker, and a known key costs one tiny query.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, insert, or_, select, update

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


Revision = tuple[Any, ...]
REVISION_SQL = "SELECT count(*), count(revoked_at), max(revoked_at) FROM api_keys"


class KeyCache:
    """Verified keys of one worker, valid only while the keys table's revision is unchanged.

    Creating, revoking or deleting any key changes the revision (count of keys, count
    of revoked ones, latest revocation), and every lookup reads it first: a revoked key
    is refused on the next request in every worker, with no time window. On SQLite the
    revision is read through a per-thread stdlib connection (microseconds).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._known: dict[str, ApiKey] = {}
        self._revision: Revision | None = None
        self._lock = threading.Lock()
        self._local = threading.local()
        url = engine.url
        database = url.database or ""
        self._sqlite_path = (database if url.get_backend_name() == "sqlite"
                             and database not in ("", ":memory:") else None)

    def verify(self, key: str) -> ApiKey | None:
        """The active key record for `key`, or None (unknown, malformed or revoked)."""
        if not key.startswith(PREFIX) or len(key) > MAX_KEY_CHARS:
            return None
        digest = hash_key(key)
        revision = self.revision()
        with self._lock:
            if revision != self._revision:
                self._known.clear()
                self._revision = revision
            hit = self._known.get(digest)
        if hit is not None:
            return hit
        record = verify_key(self.engine, key)
        if record is not None:
            with self._lock:
                if self._revision == revision:  # a revocation meanwhile: do not keep it
                    self._known[digest] = record
        return record

    def revision(self) -> Revision:
        if self._sqlite_path is None:
            t = api_keys_table
            with self.engine.connect() as conn:
                row = conn.execute(select(func.count(), func.count(t.c.revoked_at),
                                          func.max(t.c.revoked_at))).one()
            return tuple(row)
        reader: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if reader is None:
            reader = self._local.conn = sqlite3.connect(self._sqlite_path, timeout=15,
                                                        check_same_thread=False)
        return tuple(reader.execute(REVISION_SQL).fetchone())
