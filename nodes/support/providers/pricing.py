"""Estimated cost of a model call: token usage times a small, overridable price table.

Prices are USD per million tokens (prompt, completion) as published by the
vendors; they change, so treat the figure as an estimate. A model name matches
the longest table entry it starts with (`gpt-4o-mini-2024-07-18` is priced as
`gpt-4o-mini`). Override per node with the config's `price`, or for a whole
installation with a JSON file named by CHAINLOOM_PRICES:
`{"my-model": {"input": 0.5, "output": 1.5}}`. Unknown models get no cost rather
than a guessed one; the offline and scripted models are not priced.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

from engine.errors import PermanentError
from nodes.support.providers.base import Usage

PRICES_ENV = "CHAINLOOM_PRICES"

# USD per 1M tokens: (prompt, completion).
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-3.5-turbo-instruct": (1.50, 2.00),
    "gpt-3.5-turbo": (0.50, 1.50),
    "o4-mini": (1.10, 4.40),
    "command-r7b": (0.0375, 0.15),
    "command-r-08-2024": (0.15, 0.60),
    "command-r-plus": (2.50, 10.00),
    "command-a": (2.50, 10.00),
}


@lru_cache(maxsize=4)
def _file_prices(path: str) -> dict[str, tuple[float, float]]:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        return {str(name): (float(p["input"]), float(p["output"])) for name, p in raw.items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as err:
        raise PermanentError(f"{PRICES_ENV} names {path}, which is not a price file: {err}",
                             hint='write {"model": {"input": USD per 1M, "output": USD per 1M}, ...}') from err


def price_of(model: str) -> tuple[float, float] | None:
    """(prompt, completion) USD per million tokens for `model`, or None when unknown."""
    table = PRICES
    if path := os.environ.get(PRICES_ENV):
        table = {**PRICES, **_file_prices(path)}
    if model in table:
        return table[model]
    matches = [name for name in table if model.startswith(name)]
    return table[max(matches, key=len)] if matches else None


def estimate_cost(model: str, usage: Usage | None, override: tuple[float, float] | None = None) -> float | None:
    """USD for this usage, or None when the usage or the model's price is unknown."""
    if usage is None:
        return None
    price = override or price_of(model)
    if price is None:
        return None
    return round((usage.prompt_tokens * price[0] + usage.completion_tokens * price[1]) / 1_000_000, 8)
