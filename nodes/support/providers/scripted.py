"""The scripted model: replays a list of answers, one per call, for tests and demos.

The position in the list lives in the node's per-run state, so each run starts
from the first answer and every call within a run (retries, agent steps) takes
the next one. Running out is an error, not a silent repeat. An answer given as
{"text": ..., "tool_calls": [...]} asks for those tool calls (ids call_1, call_2, ...
counted over the run), so agents can be tested without a real model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.errors import PermanentError
from nodes.support.messages import ToolCall
from nodes.support.providers.base import (
    ChatRequest,
    Completion,
    TokenSink,
    Usage,
    apply_limits,
    count_words,
    emit_words,
)
from nodes.support.providers.config import ScriptedReply

MODEL_NAME = "scripted"
_COUNTER = "scripted_calls"
_CALL_IDS = "scripted_tool_calls"


class ScriptedModel:
    provider = "scripted"

    def __init__(self, responses: Sequence[str | ScriptedReply], state: dict[str, Any]) -> None:
        self.responses = tuple(responses)
        self.state = state

    async def complete(self, request: ChatRequest, on_token: TokenSink) -> Completion:
        index = self.state.get(_COUNTER, 0)
        if index >= len(self.responses):
            n = len(self.responses)
            used = "its one response was used" if n == 1 else f"all {n} of them were used"
            raise PermanentError(
                f"scripted model ran out of responses: {used}, and call {index + 1} needs another",
                hint="add an answer to 'responses' for every call this node makes in one run")
        self.state[_COUNTER] = index + 1
        reply = self.responses[index]
        reply = reply if isinstance(reply, ScriptedReply) else ScriptedReply(text=reply)
        text, finish = apply_limits(reply.text, request.stop, request.max_tokens)
        if text:
            await emit_words(text, on_token, stream=request.stream)
        calls = tuple(self._call(c.name, c.arguments) for c in reply.tool_calls)
        usage = Usage(count_words(request.prompt_text), count_words(text))
        return Completion(text=text, usage=usage, model=request.model or MODEL_NAME,
                          finish_reason="tool_calls" if calls else finish, tool_calls=calls)

    def _call(self, name: str, arguments: dict[str, Any]) -> ToolCall:
        n = self.state[_CALL_IDS] = self.state.get(_CALL_IDS, 0) + 1
        return ToolCall(f"call_{n}", name, dict(arguments))
