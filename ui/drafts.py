"""Nothing lost: unsaved work kept as a draft in the store, per browser and per flow.

A browser is known by a random id in a cookie (`BROWSER_COOKIE`); a draft is the
working copy of one flow (plus the stored version it is based on) under the key
`ui-draft:<browser>:<flow id>` in the store's key/value drafts table. `keep` writes
the draft whenever the copy has unsaved changes and drops it once they are saved,
so reloading the page, or coming back to the flow's link, restores the work;
`restore` rebuilds the workspace state from a draft.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from engine.errors import ChainloomError, FlowLoadError
from engine.flow import Flow, dumps_flow, parse_flow
from engine.store import Store
from ui.workspace import Workspace

BROWSER_COOKIE = "chainloom_browser"
_BROWSER = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def valid_browser_id(value: object) -> bool:
    return isinstance(value, str) and bool(_BROWSER.match(value))


def draft_key(browser: str, flow_id: str) -> str:
    return f"ui-draft:{browser}:{flow_id}"


def draft_body(ws: Workspace) -> str:
    return json.dumps({"flow": json.loads(ws.canonical()), "version": ws.version, "source": ws.source,
                       "id_from_name": ws.id_from_name}, sort_keys=True)


@dataclass
class DraftKeeper:
    """Writes a workspace's draft when it changed; one per browser tab (session)."""

    store: Store
    browser: str
    written: tuple[str, str] | None = None    # (key, body) last written
    seen: tuple[Any, ...] | None = None       # what the last call looked at (skip when unchanged)

    def keep(self, ws: Workspace) -> None:
        """Write the draft of an unsaved change; drop it when the copy matches its saved version."""
        state = (ws.flow, ws.version, ws.source, ws.id_from_name, ws.saved_text)
        if self.seen is not None and all(a is b or a == b for a, b in zip(self.seen, state)):
            return   # a select or a run poll: nothing to write (a rerun calls this every time)
        self.seen = state
        key = draft_key(self.browser, ws.flow.id)
        if ws.dirty:
            body = draft_body(ws)
            if self.written != (key, body):
                self.store.put_draft(key, body)
                if self.written is not None and self.written[0] != key:
                    self.store.delete_draft(self.written[0])   # the flow got a new id
                self.written = (key, body)
        elif self.written is not None and self.written[0] == key:
            self.store.delete_draft(key)
            self.written = None

    def discard(self, flow_id: str) -> None:
        """Forget the draft of `flow_id` (the user chose to drop the changes)."""
        self.store.delete_draft(draft_key(self.browser, flow_id))
        if self.written is not None and self.written[0] == draft_key(self.browser, flow_id):
            self.written = None

    def restore(self, ws: Workspace, flow_id: str) -> bool:
        """Load the draft of `flow_id` into `ws`; False when there is none (or it is unreadable)."""
        body = self.store.get_draft(draft_key(self.browser, flow_id))
        if body is None:
            return False
        try:
            data = json.loads(body)
            flow = parse_flow(data["flow"])
        except (ValueError, KeyError, TypeError, FlowLoadError):
            return False
        version = data.get("version") if isinstance(data.get("version"), int) else None
        saved_text = _saved_text(self.store, flow.id, version)
        if version is not None and saved_text is None:
            version = None    # the saved flow was deleted since: the draft is a new flow
        ws.load(flow, version=version, source=str(data.get("source") or "draft"), saved_text=saved_text)
        ws.id_from_name = bool(data.get("id_from_name")) and version is None
        self.written = (draft_key(self.browser, flow.id), draft_body(ws))
        return True


def _saved_text(store: Store, flow_id: str, version: int | None) -> str | None:
    if version is None:
        return None
    try:
        flow, _ = store.get_flow(flow_id, version)
    except ChainloomError:
        return None
    return dumps_flow(flow)


def saved_copy(store: Store, flow_id: str) -> tuple[Flow, int] | None:
    try:
        return store.get_flow(flow_id)
    except ChainloomError:
        return None
