"""Code shared by several node families; no node types are defined here.

Values on edges: `documents` (Document), `messages` (Message), `tools` (Tool),
`vector_store` (ChromaStore, Retriever), `chat_memory/` (the memory kinds and
their store), `embedders` (embedding models). Models: `providers/` (the
language-model provider layer) and `model_port` (which model a node talks to).
Reading: `readers` (files to Documents), `parsing/` (model output to values),
`values` (port values to text, JSON and names), `tokens` (tiktoken, offline),
`words` (stemming), `search` (ranking). Reaching out, safely: `paths` (the
allowed folder, the data dir), `safe_http`, `api_client` (allowlisted web APIs),
`sql_readonly` and `sql_database` (read-only SQL).
"""
