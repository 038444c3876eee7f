"""chainloom's node catalog: one module per family, each exposing SPECS.

Provider SDKs (openai, cohere, chromadb, ...) are imported only here, lazily.
"""
