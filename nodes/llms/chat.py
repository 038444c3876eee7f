"""`llm.chat`: a prompt (and an optional system message) in, the model's answer out.

The answer streams through the run context token by token, and the token usage
and the model's name go to the trace. Which model answers is the config's
provider: the offline extractive default, the scripted test model, or an
OpenAI-compatible server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.node import node
from engine.ports import Port, PortType
from nodes.llms.base import chat_messages
from nodes.llms.config import ModelConfig
from nodes.llms.providers import build_model, build_request
from nodes.values import as_text

if TYPE_CHECKING:
    from engine.context import RunContext


class ChatConfig(ModelConfig):
    pass


@node("llm.chat", title="Chat model", config=ChatConfig,
      description="Sends the prompt (and optional system message) to a chat model and returns its "
                  "answer, streaming. Providers: offline (extractive, no key), scripted, OpenAI or "
                  "any OpenAI-compatible server (Ollama, llama.cpp, vLLM, LM Studio).",
      inputs=[Port("prompt", PortType.TEXT, "What to ask."),
              Port("system", PortType.TEXT, "Instructions that frame the conversation.", required=False)],
      outputs=[Port("text", PortType.TEXT, "The model's answer.")])
async def llm_chat(config: ChatConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    messages = chat_messages(as_text(inputs["prompt"]), as_text(inputs.get("system")))
    model = build_model(config, ctx)
    completion = await model.complete(build_request(config, messages), ctx.token)
    if completion.usage is not None:
        ctx.usage(prompt_tokens=completion.usage.prompt_tokens,
                  completion_tokens=completion.usage.completion_tokens, model=completion.model)
    else:
        ctx.step("usage", model=completion.model, note="the provider reported no token usage")
    if completion.finish_reason == "length":
        ctx.step("truncated", note="the answer stopped at max_tokens")
    return {"text": completion.text}


SPECS = (llm_chat,)
