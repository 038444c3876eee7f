"""Prompt nodes: `prompt.template`, `prompt.chat` and `prompt.few_shot`.

All three share one safe template language (`template.py`): `{name}` variables,
`{{`/`}}` for literal braces, nothing else; every variable becomes an input port.
For forms: each prompt config has `.variables()` (its Text inputs, in order), and
`detect_variables(text)` reports a single template's variables (or why it is
refused) without raising, so a form can show them while the user types.
"""

from nodes.prompts.chat import ChatPromptConfig
from nodes.prompts.chat import SPECS as _CHAT
from nodes.prompts.few_shot import SPECS as _FEW_SHOT
from nodes.prompts.few_shot import FewShotConfig
from nodes.prompts.template import SPECS as _TEMPLATE
from nodes.prompts.template import (PromptTemplateConfig, Template, TemplateError, detect_variables,
                                    parse_template)

SPECS = (*_TEMPLATE, *_CHAT, *_FEW_SHOT)

__all__ = ["SPECS", "ChatPromptConfig", "FewShotConfig", "PromptTemplateConfig", "Template", "TemplateError",
           "detect_variables", "parse_template"]
