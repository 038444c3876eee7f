"""Node types the server tests need beyond the catalog: slow, session-aware and secret-holding.

`test.slow` streams a token every `step` seconds for `seconds` (so a run can be
cancelled or timed out mid-way); `test.session` returns the run's session id as
the node sees it in its context; `test.fail` streams a token then fails; `test.remote` holds a secret reference and an
address, like a provider node. `registry()` is the default catalog plus these.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from pydantic import Field

from engine.node import NodeConfig, SecretRef, node
from engine.ports import Port, PortType
from engine.registry import Registry
from nodes.registry import default_registry

if TYPE_CHECKING:
    from engine.context import RunContext


class SlowConfig(NodeConfig):
    seconds: float = Field(5.0, ge=0, le=60)
    step: float = Field(0.02, gt=0, le=1)


@node("test.slow", title="Slow", description="Streams a token every `step` seconds.",
      config=SlowConfig, inputs=[Port("text", PortType.TEXT, "Passed through.")],
      outputs=[Port("text", PortType.TEXT, "The input, unchanged.")])
async def slow(config: SlowConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    waited = 0.0
    while waited < config.seconds:
        await asyncio.sleep(config.step)
        waited += config.step
        ctx.token(".")
    return {"text": inputs["text"]}


class SessionConfig(NodeConfig):
    pass


@node("test.session", title="Session", description="Outputs the session id from its context.",
      config=SessionConfig, inputs=[Port("text", PortType.TEXT, "Ignored.")],
      outputs=[Port("text", PortType.TEXT, "The session id the node saw.")], blocking=False)
def session(config: SessionConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    return {"text": f"session={ctx.session_id}"}


class RemoteConfig(NodeConfig):
    api_key_env: str = SecretRef("REMOTE_KEY", description="Variable holding the key.")
    base_url: str = Field("http://127.0.0.1:9", description="Where requests go.")
    label: str = Field("remote", description="An ordinary field.")


@node("test.remote", title="Remote", description="Holds a secret and an address.",
      config=RemoteConfig, inputs=[Port("text", PortType.TEXT, "Input.")],
      outputs=[Port("text", PortType.TEXT, "The label and the input.")], blocking=False)
def remote(config: RemoteConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    return {"text": f"{config.label}:{inputs['text']}"}


class FailConfig(NodeConfig):
    message: str = Field("it failed", description="The error to raise.")


@node("test.fail", title="Fail", description="Fails with its message, after a token.",
      config=FailConfig, inputs=[Port("text", PortType.TEXT, "Ignored.")],
      outputs=[Port("text", PortType.TEXT, "Never given.")])
async def fail(config: FailConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    ctx.token("partial")
    raise RuntimeError(config.message)


SPECS = (slow, session, remote, fail)


def registry() -> Registry:
    return Registry([*default_registry(), *SPECS])
