"""Reading a model's output (shared by the parser and chain families): a value a flow can use, or why not.

`parser.json` (JSON, code fences and prose tolerated; errors give line and column),
`parser.structured` (JSON checked against a JSON schema or a field list, every
problem listed), `parser.list` (comma- or line-separated) and `parser.regex` (named
groups). Every parser has a static `format_instructions` output to wire into the
prompt, and repairs a bad output once when a LanguageModel is connected.
Modules: extract.py (reading), schema.py (schemas), repair.py (the fix-and-retry
logic the parser nodes share). The parser nodes themselves are nodes/parser.py.
"""
