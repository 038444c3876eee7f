"""Light stemming for lexical matching, shared by the offline model and keyword search.

Deliberately small (plural, -ing, -ed, -ly, final -e, doubled consonants): enough for
"grinders" to meet "grinder" and "returned" to meet "return", with no dictionary.
"""

from __future__ import annotations


def stem(word: str) -> str:
    """A deliberately small stemmer: plural, -ing, -ed, -ly and final -e; doubled consonants."""
    if len(word) <= 3 or word.isdigit():
        return word
    word = _strip_suffix(word)
    if len(word) >= 4 and word.endswith("e") and not word.endswith("ee"):
        word = word[:-1]  # store/stored, trace/traced, time/timing meet at stor, trac, tim
    return word


def _strip_suffix(word: str) -> str:
    for suffix, repl, min_len in (("ies", "y", 5), ("sses", "ss", 5), ("ing", "", 6), ("edly", "", 7),
                                  ("ed", "", 5), ("ly", "", 5), ("es", "", 5), ("s", "", 4)):
        if not word.endswith(suffix) or len(word) < min_len:
            continue
        if suffix == "s" and word.endswith(("ss", "us", "is")):
            return word
        if suffix == "es" and not word.endswith(("ses", "xes", "zes", "ches", "shes")):
            continue
        word = word[: len(word) - len(suffix)] + repl
        if suffix in ("ing", "ed") and len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
            word = word[:-1]
        return word
    return word
