"""Prompt nodes: `prompt.template`, `prompt.chat` and `prompt.few_shot`, one module each.

All three share one safe template language (`_language.py`): `{name}` variables,
`{{`/`}}` for literal braces, nothing else; every variable becomes an input port.
For forms: each prompt config has `.variables()` (its Text inputs, in order), and
`detect_variables(text)` reports a single template's variables (or why it is
refused) without raising, so a form can show them while the user types.
`_selectors.py` picks few-shot examples.
"""

from engine.node import NodeSpec
from nodes.prompt._language import Template, TemplateError, detect_variables, parse_template
from nodes.prompt.chat import SPECS as _CHAT
from nodes.prompt.chat import ChatPromptConfig
from nodes.prompt.few_shot import SPECS as _FEW_SHOT
from nodes.prompt.few_shot import FewShotConfig
from nodes.prompt.template import SPECS as _TEMPLATE
from nodes.prompt.template import PromptTemplateConfig

SPECS: tuple[NodeSpec, ...] = (*_TEMPLATE, *_CHAT, *_FEW_SHOT)

__all__ = ["SPECS", "ChatPromptConfig", "FewShotConfig", "PromptTemplateConfig", "Template", "TemplateError",
           "detect_variables", "parse_template"]
