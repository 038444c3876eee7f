"""`Use this flow`: copy-ready curl, Python and JavaScript calls of a saved flow's REST route.

`snippets(flow_id, inputs, base_url)` returns the three snippets for
`POST /flows/{id}/run` of `chainloom serve`. The key is always the placeholder
`$CHAINLOOM_API_KEY` (read from the environment in Python and JavaScript), never a
real key; the inputs are the flow's input names with their defaults as examples.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

KEY_VARIABLE = "CHAINLOOM_API_KEY"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"


def run_url(flow_id: str, base_url: str = DEFAULT_BASE_URL) -> str:
    return f"{base_url.rstrip('/')}/flows/{quote(flow_id, safe='')}/run"


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def snippets(flow_id: str, inputs: Mapping[str, Any], base_url: str = DEFAULT_BASE_URL) -> dict[str, str]:
    """{"curl": ..., "python": ..., "javascript": ...} for running the saved flow `flow_id`."""
    url = run_url(flow_id, base_url)
    body = json.dumps({"inputs": dict(inputs)}, ensure_ascii=False)
    pretty = json.dumps({"inputs": dict(inputs)}, ensure_ascii=False, indent=4)
    curl = (f"curl {url} \\\n"
            f"  -H \"Authorization: Bearer ${KEY_VARIABLE}\" \\\n"
            f"  -H \"Content-Type: application/json\" \\\n"
            f"  -d {_shell_quote(body)}")
    python = (f"import os\n\nimport httpx\n\n"
              f"response = httpx.post(\n"
              f"    {json.dumps(url)},\n"
              f"    headers={{\"Authorization\": f\"Bearer {{os.environ['{KEY_VARIABLE}']}}\"}},\n"
              f"    json={_indent(pretty, 4)},\n"
              f"    timeout=120,\n)\n"
              f"response.raise_for_status()\n"
              f"print(response.json()[\"outputs\"])")
    javascript = (f"const response = await fetch({json.dumps(url)}, {{\n"
                  f"  method: \"POST\",\n"
                  f"  headers: {{\n"
                  f"    \"Authorization\": `Bearer ${{process.env.{KEY_VARIABLE}}}`,\n"
                  f"    \"Content-Type\": \"application/json\",\n"
                  f"  }},\n"
                  f"  body: JSON.stringify({_indent(pretty, 2)}),\n"
                  f"}});\n"
                  f"if (!response.ok) throw new Error(await response.text());\n"
                  f"console.log((await response.json()).outputs);")
    return {"curl": curl, "python": python, "javascript": javascript}


def _indent(text: str, spaces: int) -> str:
    lines = text.splitlines()
    return "\n".join([lines[0], *[" " * spaces + line for line in lines[1:]]])
