"""Credentials in URLs: finding them, and masking them in any text shown to people.

`url_credentials(value)` says whether a URL carries a user name or password
(`scheme://user:pass@host`); validation refuses such URLs in config fields.
`redact_urls(text)` masks the password (or a bare token) of every URL inside a text; every
error message, validation issue, API error and trace error goes through it.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

# scheme://userinfo@ — userinfo runs up to the last '@' before the host's end
# ('/', '?', '#', whitespace or a quote), so `user:p@ss@host` is masked whole.
_USERINFO = re.compile(r"(?i)((?<![a-z0-9+.\-])[a-z][a-z0-9+.\-]{0,30}:)?(//|\\\\)([^/?#\s\"'<>\\]*)@")
MASK = "***"


def _mask(match: re.Match[str]) -> str:
    """`user:***@` keeps the user name (not a secret) and hides the password; a userinfo
    without ':' is kept as a user name unless it looks like a token (https://TOKEN@host)."""
    user, colon, _ = match.group(3).partition(":")
    if colon:
        shown = f"{user}:{MASK}"
    else:
        shown = MASK if _looks_like_token(user) else user
    return f"{match.group(1) or ''}{match.group(2)}{shown}@"


_TOKEN_PREFIXES = ("ghp_", "gho_", "ghu_", "ghs_", "github_pat_", "glpat", "sk-", "sk_", "xox", "hf_",
                   "x-access-token", "oauth2")


def _looks_like_token(user: str) -> bool:
    return len(user) >= 20 or user.lower().startswith(_TOKEN_PREFIXES)


def redact_urls(text: str) -> str:
    """`text` with the password (or bare token) of every URL replaced by ***."""
    if "@" not in text:
        return text
    return _USERINFO.sub(_mask, text)


def redact_value(value: Any) -> Any:
    """A JSON-like value with every URL's user name and password masked, in every string."""
    if isinstance(value, str):
        return redact_urls(value)
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    return value


def url_credentials(value: str) -> str | None:
    """'password' or 'user name' when the URL `value` carries one, else None.

    Every spelling counts: upper-case schemes, scheme-relative `//u:p@h`, backslashes,
    percent-encoded separators and an empty user name with a password.
    """
    text = value.strip()
    if "@" not in text and "%40" not in text.lower():
        return None
    found: str | None = None
    for candidate in {text, unquote(text), text.replace("\\", "/"), unquote(text).replace("\\", "/")}:
        match = _USERINFO.search(candidate)
        if match is not None:
            if ":" in match.group(3):
                return "password"
            found = "user name"
    return found
