"""Every exception chainloom raises, in one tree.

    ChainloomError                 base of everything below; `hint` says how to fix it
    ├── FlowLoadError              a flow file cannot be read or parsed (names file, node, field)
    ├── ValidationFailed           a flow has problems; `.issues` lists every one of them
    ├── UnknownNodeType            a type id is not in the registry (lists close matches)
    ├── InvalidSpec                a node type breaks the node contract (engine.testing.check_spec)
    ├── PermanentError             a node failure that retrying cannot fix (config, auth, input)
    │   └── SecretMissing          a secret reference names a variable that is not set
    ├── FlowInputError             a run was given a missing or unknown flow input
    ├── NodeError                  a node failed while running (node id, type, cause)
    │   └── NodeTimeout            ... because it passed its own time limit
    ├── RunTimeout                 the whole run passed its time limit
    ├── RunCancelled               the run was cancelled by its caller
    ├── StaleVersion               a save was based on an older version of a stored flow
    │   └── FlowExists             ... meant to create a flow whose id is already taken
    ├── NotFound                   a stored flow or run does not exist
    └── StoreUnavailable           the store's database cannot be opened (URL, driver, server)

Messages never contain secret values: secrets are referenced by variable name only,
and the user name and password of any URL in a message or hint are masked.
"""

from __future__ import annotations

from engine.issues import Issue
from engine.redact import redact_urls


class ChainloomError(Exception):
    """Base class. `hint` is a sentence telling the user what to do about it."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        message, hint = redact_urls(message), redact_urls(hint)
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class FlowLoadError(ChainloomError):
    """A flow file or body could not be parsed into a Flow; `.issues` has one per problem
    when the JSON was read but its fields did not fit (empty when the JSON itself is bad)."""

    def __init__(self, message: str, *, hint: str = "", issues: list[Issue] | None = None) -> None:
        super().__init__(message, hint=hint)
        self.issues = issues or []


class ValidationFailed(ChainloomError):
    """The flow has one or more problems; nothing was run."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        lines = "\n".join(f"  - {issue}" for issue in issues)
        n = len(issues)
        super().__init__(f"flow has {n} problem{'s' if n != 1 else ''}:\n{lines}")


class UnknownNodeType(ChainloomError):
    """A node type id is not registered."""


class InvalidSpec(ChainloomError):
    """A node spec breaks the node contract; the message lists every problem."""


class FlowInputError(ChainloomError):
    """A run was given a missing, unknown or ill-typed flow input."""


class NodeError(ChainloomError):
    """A node raised while running. `__cause__` holds the original exception."""

    def __init__(self, node_id: str, node_type: str, message: str, *, hint: str = "") -> None:
        super().__init__(f"node '{node_id}' ({node_type}) failed: {message}", hint=hint)
        self.node_id = node_id
        self.node_type = node_type
        self.reason = redact_urls(message)


class NodeTimeout(NodeError):
    """A node passed its own time limit."""


class RunTimeout(ChainloomError):
    """The run as a whole passed its time limit."""


class RunCancelled(ChainloomError):
    """The run was cancelled by its caller."""


class StaleVersion(ChainloomError):
    """A save named a base version that is no longer the latest; nothing was written."""

    def __init__(self, flow_id: str, expected: int, actual: int) -> None:
        super().__init__(
            f"flow '{flow_id}' is at version {actual}, but this save was based on version {expected}",
            hint="reload the flow, re-apply your change and save again",
        )
        self.flow_id = flow_id
        self.expected = expected
        self.actual = actual


class FlowExists(StaleVersion):
    """A save meant to create a flow whose id is already taken; nothing was written."""

    def __init__(self, flow_id: str, actual: int) -> None:
        super().__init__(flow_id, 0, actual)
        self.message = f"flow '{flow_id}' already exists (at version {actual})"
        self.hint = (f"to save a new version on top of it, base the save on version {actual}; "
                     "to keep both, give this flow another id")
        self.args = (self.message,)


class NotFound(ChainloomError):
    """A stored flow or run does not exist."""


class PermanentError(ChainloomError):
    """A node failure that retrying cannot fix (bad configuration, auth, bad input).

    Nodes raise it (or a subclass) to tell the engine not to spend retries on it.
    """


class SecretMissing(PermanentError):
    """A secret reference names an environment variable or credential that is not set."""


class StoreUnavailable(ChainloomError):
    """The store's database cannot be opened: a bad URL, a missing driver, an unreachable server."""
