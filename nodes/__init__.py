"""chainloom's node catalog: one module or package per type family, each exposing SPECS.

The node `<family>.<name>` lives in `nodes/<family>.py`, or in
`nodes/<family>/<name>.py` for a family package (whose `__init__` gathers SPECS
and whose `_private.py` modules hold what only that family uses). Code shared by
several families is in `nodes/support/`. `nodes/registry.py` lists the families
and loads each when one of its types is first asked for. Provider SDKs (openai,
cohere, chromadb, ...) are imported only here, lazily.
"""
