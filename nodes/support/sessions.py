"""The session id rule, one for the API, the CLI and chat inputs.

A session id names a conversation (chat memory, history): 1 to 200 characters,
letters, digits and `_ . : @ -`, starting with a letter or digit.
"""

from __future__ import annotations

import re

SESSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,199}$"
_SESSION = re.compile(SESSION_PATTERN)


def check_session(value: str) -> str:
    """`value` when it is a valid session id; ValueError saying the rule otherwise."""
    if not _SESSION.match(value):
        raise ValueError(f"session id {value[:60]!r} is not valid: use 1 to 200 letters, digits or _ . : @ -, "
                         "starting with a letter or digit")
    return value
