"""What entity and knowledge-graph memories take from a turn: entities with facts, and triples.

Two extractors each. `rules` needs no model: entities are capitalised names (not
at the mere start of a sentence, unless they recur), a fact is the sentence that
mentions one; triples come from plain statements such as "Ada lives in London"
or "my dog is called Rex" ("I"/"my" become "user"/"user's"). `model` asks the
flow's model for JSON (entities) or `subject | relation | object` lines
(triples) and falls back to the rules when the answer cannot be read.
"""

from __future__ import annotations

import json
import re

SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
NAME = re.compile(r"\b([A-Z][\w'-]*(?:\s+(?:of\s+|de\s+|van\s+)?[A-Z][\w'-]*)*)")
COMMON = frozenset("""I I'm I've I'd I'll A An The This That These Those It Its He She They We You My Your Our
Their His Her Hi Hello Hey Thanks Thank Yes No Ok Okay Please Sure What When Where Who Why How Which Can Could
Would Should Do Does Did Is Are Was Were Also And But Or So If Then User Assistant Today Tomorrow Yesterday
Monday Tuesday Wednesday Thursday Friday Saturday Sunday""".split())
RELATIONS = ("lives in", "live in", "works at", "work at", "works for", "work for", "is called", "is named",
             "was born in", "comes from", "come from", "likes", "like", "loves", "love", "hates", "hate",
             "prefers", "prefer", "owns", "own", "has", "have", "is", "am", "are", "was", "were")
THIRD_PERSON = {"live in": "lives in", "work at": "works at", "work for": "works for", "come from": "comes from",
                "like": "likes", "love": "loves", "hate": "hates", "prefer": "prefers", "own": "owns",
                "have": "has", "am": "is", "are": "is", "were": "was"}
TRIPLE = re.compile(r"^(?P<s>.+?)\s+(?P<r>" + "|".join(re.escape(r) for r in RELATIONS) + r")\s+(?P<o>.+)$",
                    re.IGNORECASE)
MAX_PART = 80


def sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE.split(text) if s.strip()]


def rule_entities(text: str) -> dict[str, list[str]]:
    """Capitalised names in `text`, each with the sentences that mention it."""
    found: dict[str, list[str]] = {}
    for sentence in sentences(text):
        for match in NAME.finditer(sentence):
            name = match.group(1).strip()
            words = name.split()
            if words[0] in COMMON:
                words = words[1:]
            name = " ".join(words)
            if not name or name in COMMON or len(name) < 2:
                continue
            if match.start() == 0 and len(words) == 1 and not _recurs(name, text, sentence):
                continue  # a capital at a sentence start is usually just grammar
            facts = found.setdefault(name, [])
            if sentence not in facts:
                facts.append(sentence)
    return found


def _recurs(name: str, text: str, sentence: str) -> bool:
    rest = text.replace(sentence, "", 1)
    return re.search(rf"\b{re.escape(name)}\b", rest) is not None


def _person(part: str) -> str:
    """First-person words as the user: I -> user, my X -> user's X."""
    part = part.strip(" \"'")
    lowered = part.lower()
    if lowered in ("i", "me"):
        return "user"
    if lowered.startswith("my "):
        return "user's " + part[3:].strip()
    return part


def rule_triples(text: str) -> list[tuple[str, str, str]]:
    """(subject, relation, object) from plain statements in `text`."""
    out: list[tuple[str, str, str]] = []
    for sentence in sentences(text):
        for clause in re.split(r",\s*(?:and\s+)?|\s+and\s+(?=(?:I|my|[A-Z])\b)|;", sentence):
            clause = clause.strip().rstrip(".!")
            if clause.endswith("?"):
                continue
            m = TRIPLE.match(clause)
            if m is None:
                continue
            subject, obj = _person(m.group("s")), _person(m.group("o"))
            relation = m.group("r").lower()
            relation = THIRD_PERSON.get(relation, relation)
            if subject.lower() in ("it", "this", "that", "there", "what", "who") or not obj:
                continue
            if len(subject) <= MAX_PART and len(obj) <= MAX_PART:
                out.append((subject, relation, obj))
    return out


def parse_entities(answer: str) -> dict[str, list[str]] | None:
    """A model's {"entity": "fact" | ["facts"]} answer, or None when it is not that."""
    match = re.search(r"\{.*\}", answer, re.DOTALL)
    try:
        raw = json.loads(match.group(0)) if match else None
    except ValueError:
        return None
    if not isinstance(raw, dict):
        return None
    out: dict[str, list[str]] = {}
    for name, facts in raw.items():
        items = facts if isinstance(facts, list) else [facts]
        kept = [str(f).strip() for f in items if str(f).strip()]
        if str(name).strip() and kept:
            out[str(name).strip()[:MAX_PART]] = kept
    return out


def parse_triples(answer: str) -> list[tuple[str, str, str]] | None:
    """A model's `subject | relation | object` lines, or None when there are none."""
    out = []
    for line in answer.splitlines():
        parts = [p.strip(" -*\t") for p in line.split("|")]
        if len(parts) == 3 and all(parts) and all(len(p) <= MAX_PART for p in parts):
            out.append((parts[0], parts[1].lower(), parts[2]))
    return out or None


ENTITY_PROMPT = ("Extract the named entities (people, places, organisations, products) from the conversation "
                 "turn below, with one short fact about each that the turn states. Answer with one JSON object "
                 "mapping each entity to its fact, or {{}} when there are none.\n\nTurn:\n{turn}")
TRIPLE_PROMPT = ("Extract the facts stated in the conversation turn below as knowledge triples, one per line, "
                 "written `subject | relation | object`. Call the person speaking 'user'. Write nothing else; "
                 "write NONE when the turn states no facts.\n\nTurn:\n{turn}")
