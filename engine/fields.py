"""What a config field decides, declared on the config models and read generically.

A *where* field decides where data or credentials go: a provider, a URL, a host or
allowlist, a secret reference, a database URL, a file path, a node type, tool
wiring, a memory key. Such a field is never tweakable per run. Configs declare it
with `Where(kind=...)` (or `json_schema_extra={"where": kind}`); secret references
are where fields by construction, and names that say url/host/path/... count too,
so a node that forgets the marker is still protected. `config_problems` finds
credentials written into URLs and keys pasted where a variable *name* belongs.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, Field
from pydantic.fields import FieldInfo

from engine.redact import url_credentials

WHERE_KINDS = ("provider", "url", "host", "secret", "database", "path", "node_type", "tool",
               "memory", "capability")

# The safety net for fields without a marker: names that say where things go.
_WHERE_NAMES = re.compile(
    r"(^|_)(url|urls|uri|uris|host|hosts|hostname|endpoint|api_base|proxy|provider|env|"
    r"path|paths|file|files|folder|dir|directory|root|glob|script|dsn|database|db|"
    r"allowlist|allowed|node_type|node_config|flow|collection|server)($|_)")


def Where(default: Any = ..., *, kind: str, **kwargs: Any) -> Any:  # noqa: N802 - reads like Field
    """A pydantic Field marked as deciding where data or credentials go (never tweakable)."""
    if kind not in WHERE_KINDS:
        raise ValueError(f"unknown where kind '{kind}'; kinds are: {', '.join(WHERE_KINDS)}")
    extra = dict(kwargs.pop("json_schema_extra", None) or {})
    extra["where"] = kind
    return Field(default, json_schema_extra=extra, **kwargs)


def _extra(info: FieldInfo) -> dict[str, Any]:
    extra = info.json_schema_extra
    return extra if isinstance(extra, dict) else {}


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    """Pydantic models named anywhere in a type annotation (list[X], X | None, ...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in typing.get_args(annotation):
        if arg is not annotation and not isinstance(arg, (str, int, types.NoneType)):
            yield from _models_in(arg)


def where_kind(model: type[BaseModel], name: str, _seen: frozenset[type] = frozenset()) -> str | None:
    """What field `name` of `model` decides (a WHERE_KINDS word), or None for an ordinary field."""
    info = model.model_fields.get(name)
    if info is None:
        return None
    extra = _extra(info)
    if extra.get("secret"):
        return "secret"
    if isinstance(extra.get("where"), str):
        return str(extra["where"])
    if _WHERE_NAMES.search(name.lower()) and not name.startswith(("max_", "min_")):
        return "url" if "url" in name.lower() else "path" if "path" in name.lower() else "named"
    for nested in _models_in(info.annotation):
        if nested in _seen:
            continue
        if any(where_kind(nested, n, _seen | {model}) for n in nested.model_fields):
            return "nested"
    return None


def is_secret_field(model: type[BaseModel], name: str) -> bool:
    info = model.model_fields.get(name)
    return info is not None and bool(_extra(info).get("secret"))


_KEY_PREFIXES = ("sk-", "sk_", "rk_", "pk_live", "pk_test", "ghp_", "gho_", "ghu_", "ghs_",
                 "github_pat_", "xoxb", "xoxp", "akia", "asia", "aiza", "hf_", "glpat", "ya29",
                 "eyj", "co-", "r8_", "gsk_", "pplx-", "nvapi-", "key-", "bearer")


def looks_like_key(value: str) -> bool:
    """True when a secret-name field seems to hold the secret itself."""
    text = value.strip()
    if not text:
        return False
    if text.lower().startswith(_KEY_PREFIXES) or any(c in text for c in " -.:/+=") or len(text) > 64:
        return True
    classes = sum((any(c.islower() for c in text), any(c.isupper() for c in text),
                   any(c.isdigit() for c in text)))
    return (len(text) >= 24 and classes == 3) or (len(text) >= 32 and "_" not in text)


def _strings(value: Any, depth: int = 0) -> Iterator[str]:
    if depth > 32:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, BaseModel):
        for item in value.__dict__.values():
            yield from _strings(item, depth + 1)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item, depth + 1)


def config_problems(config: BaseModel) -> list[tuple[str, str, str]]:
    """(field, message, hint) for credentials inside URLs and keys pasted into secret-name fields.

    A password in a URL is refused in every field; a user name is refused in URL and
    host fields, except database URLs (whose password comes from `password_env`).
    Messages never repeat the value.
    """
    problems: list[tuple[str, str, str]] = []
    model = type(config)
    for name in model.model_fields:
        value = getattr(config, name)
        kind = where_kind(model, name)
        if kind == "secret" and isinstance(value, str) and looks_like_key(value):
            problems.append((name, "this looks like a key itself, not the name of an environment variable",
                             "put the key in an environment variable (e.g. OPENAI_API_KEY) and write "
                             "that variable's NAME here; the flow file must never hold the key"))
            continue
        for text in _strings(value):
            found = url_credentials(text)
            if found == "password" or (found and kind in ("url", "host", "named", "nested")):
                problems.append((name, f"a URL here carries a {found} (user:password@); credentials "
                                 "never go inside a URL", _hint(model, kind)))
                break
            if kind == "host" and "@" in text:
                problems.append((name, "a host here carries a user name ('@'); hosts are bare names",
                                 "write the host name only, e.g. api.example.com"))
                break
    return problems


def _hint(model: type[BaseModel], kind: str | None) -> str:
    if kind == "database" or "password_env" in model.model_fields:
        return ("write the URL without the password and name the environment variable that holds "
                "it in password_env (or the whole URL's variable in url_env)")
    secrets = [n for n in model.model_fields if is_secret_field(model, n)]
    where = f" named in {secrets[0]}" if secrets else ""
    return f"use a secret reference: put the credential in an environment variable{where} and " \
           "remove it from the URL"
