"""The language-model provider layer, shared by every family that calls a model.

The nodes over it are nodes/llm.py: `llm.chat` (a conversation in; text, message,
tool calls out), `llm.text` (text completion) and `llm.model` (a configured model
for other nodes).

Layers, bottom up:
- `base.py`: ChatRequest / Completion / Usage / ToolSpec and the ChatModel protocol
  (`async complete(request, on_token) -> Completion`); ProviderError (retryable,
  with `status` and `retry_after`).
- one module per provider, each a ChatModel: `offline.py` (extractive, no key),
  `scripted.py` (replays answers and tool calls), `openai_compat.py` (OpenAI and
  every OpenAI-compatible server, chat and legacy completions), `cohere_chat.py`
  (Cohere chat v2). Vendor SDKs are imported inside their provider, lazily, and
  their errors translated in one way (`errors.py`).
- `config.py`: ModelConfig, the settings every model node shares; `build.py`:
  `build_model(config, ctx)` (resolves provider `auto`, reads the key by variable
  name) and `build_request(config, messages)`.
- `model.py`: ConfiguredModel = a provider's ChatModel + its node's settings, with
  bounded retries (`retry.py`: 429/5xx/timeouts, Retry-After honoured, absurd
  waits refused) and an estimated cost (`pricing.py`). `record_usage` / `send_request` put
  tokens, cost and retries into the calling node's trace; the engine sums per run.

The LanguageModel port. A LanguageModel edge carries a ConfiguredModel, made by
`llm.model` (or by any model node's `build_model`). It is a ChatModel, so a
receiving node simply calls `await model.complete(request, on_token)` (or
`send_request(model, request, ctx)`): the request brings the conversation, tools, JSON mode
and streaming choice; the model brings its own provider, name, sampling settings,
timeout, retries and price, whatever settings the caller's request carried.
Keys were read when `llm.model` ran, so a receiving node needs none. Usage is
recorded by the caller, on the caller's node. Receivers so far: output parsers
(fix-and-retry) and the `combine.*` chains; agents are next.

Providers. `offline` (default; extractive, deterministic), `scripted` (tests),
`openai`, `cohere`, and `auto`: the first configured of OPENAI_API_KEY,
COHERE_API_KEY, CHAINLOOM_LLM_BASE_URL (an OpenAI-compatible server; its model from
CHAINLOOM_LLM_MODEL, its key from CHAINLOOM_LLM_API_KEY when set), else offline.
An empty `api_key_env` means the provider's usual variable at its own endpoint
(OPENAI_BASE_URL / CO_API_URL are honoured as the SDKs do) and no key for a server
at `base_url`. A flow moves between providers by changing only `provider`.

Recipe: an OpenAI-compatible local server. Start the server, then set
`provider: "openai"`, `base_url` and `model`, and leave `api_key_env` empty:
- Ollama: `ollama serve`, `ollama pull llama3.2` -> base_url http://localhost:11434/v1, model llama3.2
- llama.cpp: `llama-server -m model.gguf --port 8080` -> http://localhost:8080/v1, model: any name
- vLLM: `vllm serve Qwen/Qwen2.5-1.5B-Instruct` -> http://localhost:8000/v1, model: the served name
- LM Studio: start its server -> http://localhost:1234/v1, model: the loaded model's id
Or export CHAINLOOM_LLM_BASE_URL and CHAINLOOM_LLM_MODEL and use provider `auto`.
A server that wants a key: name its variable in `api_key_env`. Text-only models
of these servers: use `llm.text` (it calls /v1/completions).
"""
