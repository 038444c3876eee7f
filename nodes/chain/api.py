"""The API chain: question -> a request on an allowlisted API, written from its short docs -> answer.

The model reads the API's documentation (a few lines in the config: base URL,
endpoints, parameters) and writes the request as JSON. The request goes through
the same client as the HTTP tool: allowlisted hosts only (empty = nothing),
SSRF-safe, GET unless side effects are enabled, size and time caps. The model
then answers from the response. The request and the response are outputs and
trace steps, so what was called is always visible.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pydantic import Field

from engine.errors import PermanentError
from engine.node import NodeSpec, node
from engine.ports import Port, PortType
from nodes.support.api_client import HttpClient, HttpSettings, describe_response
from nodes.support.model_port import MODEL_PORT, ask, fill_fields, model_for, needs_real_model
from nodes.support.parsing.extract import ParseError, extract_json
from nodes.support.providers.config import ModelConfig
from nodes.support.tools import clip
from nodes.support.values import as_text

if TYPE_CHECKING:
    from engine.context import RunContext

REQUEST_PROMPT = ("Here is the documentation of an API:\n\n{docs}\n\nWrite the one request that answers the "
                  "question, as a JSON object: {\"method\": \"GET\", \"url\": \"the full URL or a path\", "
                  "\"params\": {}}. Answer with the JSON only.\n\nQuestion: {question}")
ANSWER_PROMPT = ("Question: {question}\n\nThe API was called with: {request}\nIt answered:\n{response}\n\n"
                 "Answer the question from the API's answer.")
_URL = re.compile(r"https?://\S+|/[\w./?=&%-]+")


class ApiChainConfig(HttpSettings, ModelConfig):
    temperature: float = Field(0.0, ge=0, le=2, description="Randomness: 0 writes the most predictable request.")
    api_docs: str = Field(min_length=1, max_length=20_000, json_schema_extra={"widget": "textarea"},
                          description="Short documentation of the API: base URL, endpoints, parameters, what "
                                      "they return.")


def read_request(reply: str) -> dict[str, Any]:
    """The request a model wrote: a JSON object, or else the first URL in its reply."""
    try:
        value = extract_json(reply)
    except ParseError:
        value = None
    if isinstance(value, dict) and value.get("url"):
        params = value.get("params") if isinstance(value.get("params"), dict) else {}
        return {"method": str(value.get("method") or "GET").upper(), "url": str(value["url"]), "params": params,
                "body": value.get("body")}
    match = _URL.search(reply)
    if match is None:
        raise PermanentError(f"the model wrote no request: {reply[:200]!r}",
                             hint="give the API's base URL and endpoints in api_docs, or use a stronger model")
    return {"method": "GET", "url": match.group(0).rstrip(".,)"), "params": {}, "body": None}


@node("chain.api", title="API chain", config=ApiChainConfig, cacheable=False,
      advice=needs_real_model("it picks the API call from the question and answers from the response"),
      inputs=[Port("question", PortType.TEXT, "The question the API can answer."), MODEL_PORT],
      outputs=[Port("answer", PortType.TEXT, "The answer."),
               Port("request", PortType.JSON, "The request that was sent (method, url, params)."),
               Port("response", PortType.TEXT, "The API's response (status and body).")],
      description="Lets the model call an allowlisted API described by short docs, then answers from the "
                  "response; SSRF-safe, GET unless side effects are enabled.")
async def api_chain(config: ApiChainConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    question = as_text(inputs["question"]).strip()
    model, client = model_for(config, inputs, ctx), HttpClient(config, ctx)
    reply = (await ask(model, config, fill_fields(REQUEST_PROMPT, docs=config.api_docs, question=question), ctx)).text
    request = read_request(reply)
    ctx.step("request", **request)
    result = await client.request(request["method"], client.url(request["url"], request["params"]), request["body"])
    response = clip(describe_response(result), config.max_chars)
    ctx.step("response", status=result.status, text=response)
    prompt = fill_fields(ANSWER_PROMPT, question=question, request=request, response=response)
    answer = (await ask(model, config, prompt, ctx, stream=True)).text.strip()
    return {"answer": answer, "request": request, "response": response}


SPECS: tuple[NodeSpec, ...] = (api_chain,)
