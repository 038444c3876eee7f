"""Language-model nodes and the provider layer beneath them.

`base.py` holds the request/result types and the ChatModel protocol, `config.py`
the settings shared by every model node, `providers.py` the provider switch, and
one module per provider. Vendor SDKs are imported inside their provider, lazily.
"""

from nodes.llms.chat import SPECS

__all__ = ["SPECS"]
