"""The offline default model: deterministic, extractive, no key and no download.

It does not generate text. It finds the question in its own prompt (the last
sentence ending in '?', else the last line that is not a bare label such as
"Answer:"), scores every other sentence of the prompt against it with BM25 over
lightly stemmed words, and answers with the best few sentences in their original
order. When nothing in the prompt is relevant it says so. In a conversation it reads
as a reply: lines of a chat history ("User: ...", "Assistant: ...", and earlier
messages by role) are never quoted raw: the assistant's own earlier turns are never
repeated, what the person said comes back as `You said: "..."`, sentences that
instruct the model ("You are a friendly assistant.") are never the answer, and a
message that only tells something ("Hi, I'm Ada.") is acknowledged. In JSON mode it
answers `{"answer": "<those sentences>"}`; it never calls tools. Its model name,
`offline-extractive`, appears in every trace so nobody mistakes it for an LLM.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections import Counter
from dataclasses import dataclass

from nodes.support.providers.base import (
    ChatRequest,
    Completion,
    TokenSink,
    Usage,
    apply_limits,
    count_words,
    emit_words,
)
from nodes.support.words import stem

MODEL_NAME = "offline-extractive"
MAX_SENTENCES = 3
KEEP_RATIO = 0.5     # keep sentences scoring at least this share of the best one
K1, B = 1.2, 0.75    # BM25's usual constants
THREAD_ABOVE_CHARS = 50_000

NO_CONTEXT = ("The offline extractive model answers only from text in its prompt, and this prompt "
              "holds nothing but the question. Give it some context to draw on, or choose a real "
              "model provider (openai, or a local OpenAI-compatible server).")
NOT_FOUND = "I could not find an answer to that in the text I was given."
NOTED = "Noted. Ask me a question and I will answer from what I was given."
EMPTY = "I was given an empty prompt, so I have nothing to answer from."

STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had
has have having he her here hers herself him himself his how i if in into is it its itself just
me more most my myself no nor not now of off on once only or other our ours ourselves out over own
same she should so some such than that the their theirs them themselves then there these they
this those through to too under until up very was we were what when where which while who whom
whose why will with would you your yours yourself yourselves tell me please give explain describe
answer question questions context following text using use based given facts fact information
""".split())

_WORD = re.compile(r"[^\W_]+")
_BULLET = re.compile(r"^\s*(?:[-*•>]+|\d+[.)]|#+)\s+")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_LABEL = re.compile(r"^[\w ()/-]{1,40}:$")
_LEADING_LABEL = re.compile(r"^[A-Za-z][\w ]{0,30}:\s+")
_SPEAKER = re.compile(r"^\s*(user|human|person|you|assistant|ai|bot|model)\s*:\s*", re.IGNORECASE)
_INSTRUCTION = re.compile(r"^(you are|you're|act as|use |answer |respond|reply |be |do not|don't|always |never |"
                          r"only answer|keep |remember to)", re.IGNORECASE)
_TELLING = re.compile(r"^(hi|hello|hey|thanks|thank you|i |i'm|i am|my |we |we're|our )", re.IGNORECASE)
USER, MODEL, TEXT = "user", "assistant", "text"
_ROLES = {"user": USER, "human": USER, "person": USER, "you": USER,
          "assistant": MODEL, "ai": MODEL, "bot": MODEL, "model": MODEL}


@dataclass(frozen=True, slots=True)
class Sentence:
    text: str
    terms: tuple[str, ...]
    speaker: str = TEXT      # who said it in a conversation: user | assistant | text (not a turn)


def terms(text: str) -> tuple[str, ...]:
    return tuple(stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS)


def split_sentences(text: str) -> list[str]:
    """Sentences of `text`, line by line, with list bullets and heading marks removed."""
    out: list[str] = []
    for line in text.splitlines():
        line = _BULLET.sub("", line).strip()
        out.extend(s.strip() for s in _SENTENCE_BREAK.split(line) if s.strip())
    return out


def spoken(text: str, speaker: str = TEXT) -> list[tuple[str, str]]:
    """(sentence, speaker) pairs: a line starting "User:" or "Assistant:" is that turn's."""
    out: list[tuple[str, str]] = []
    for line in text.splitlines():
        who, match = speaker, _SPEAKER.match(line)
        if match:
            who, line = _ROLES[match.group(1).lower()], line[match.end():]
        out.extend((s, who) for s in split_sentences(line))
    return out


def find_question(sentences: list[str]) -> int | None:
    """Index of the question: the last sentence ending in '?', else the last non-label one."""
    for i in range(len(sentences) - 1, -1, -1):
        if sentences[i].rstrip("\"') ").endswith("?"):
            return i
    for i in range(len(sentences) - 1, -1, -1):
        if not _LABEL.match(sentences[i]):
            return i
    return None


def bm25(query: tuple[str, ...], docs: list[Sentence]) -> list[float]:
    """BM25 score of each doc for the query terms."""
    if not docs:
        return []
    avgdl = sum(len(d.terms) for d in docs) / len(docs) or 1.0
    df = Counter(t for d in docs for t in set(d.terms))
    n = len(docs)
    scores = []
    for doc in docs:
        tf = Counter(doc.terms)
        norm = K1 * (1 - B + B * len(doc.terms) / avgdl)
        scores.append(sum(math.log(1 + (n - df[q] + 0.5) / (df[q] + 0.5)) * tf[q] * (K1 + 1) / (tf[q] + norm)
                          for q in set(query) if tf[q]))
    return scores


def _is_statement(sentence: str) -> bool:
    """Not a label, not a question, and not a heading (a few words with no closing stop)."""
    end = sentence.rstrip("\"') ")
    heading = len(sentence.split()) <= 4 and not end.endswith((".", "!", ";"))
    return not _LABEL.match(sentence) and not end.endswith("?") and not heading


def _may_answer(sentence: str, speaker: str) -> bool:
    """A statement that is neither the model's own earlier turn nor an instruction to it."""
    return speaker != MODEL and _is_statement(sentence) and not _INSTRUCTION.match(sentence)


def extract_answer(prompt: str, context: str | list[tuple[str, str]] = "") -> str:
    """The offline model's whole behaviour, as a pure function of its prompt and earlier
    messages (text, or (role, content) pairs)."""
    said = spoken(prompt)
    if not said:
        return EMPTY
    sentences = [s for s, _ in said]
    q_index = find_question(sentences)
    question = "" if q_index is None else sentences[q_index]
    question = _LEADING_LABEL.sub("", question) or question
    earlier = spoken(context) if isinstance(context, str) else \
        [pair for role, text in context for pair in spoken(text, _ROLES.get(role, TEXT))]
    pool = earlier + [pair for i, pair in enumerate(said) if i != q_index]
    candidates = [Sentence(s, terms(s), who) for s, who in pool if _may_answer(s, who)]
    if not candidates:
        return _nothing_found(question, NO_CONTEXT)
    scores = bm25(terms(question), candidates)
    best = max(scores)
    if best <= 0:
        return _nothing_found(question, NOT_FOUND)
    ranked = sorted(range(len(candidates)), key=lambda i: (-scores[i], i))
    chosen = sorted(i for i in ranked[:MAX_SENTENCES] if scores[i] >= KEEP_RATIO * best)
    asked_in = _line_of(prompt, question)
    return _reply([_as_told_back(candidates[i], asked_in) for i in chosen])


def _line_of(text: str, sentence: str) -> str:
    """The line of `text` that holds `sentence` (the person's message, when it is the question's line)."""
    return next((line for line in text.splitlines() if sentence and sentence in line), "")


_FIRST_PERSON = {"i": "you", "i'm": "you're", "i've": "you've", "i'll": "you'll", "i'd": "you'd", "me": "you",
                 "my": "your", "mine": "yours", "myself": "yourself"}
_GREETING = re.compile(r"^(hi|hello|hey)\b[,!.]?\s*", re.IGNORECASE)


def _as_told_back(sentence: Sentence, asked_in: str) -> Sentence:
    """A fact from the same message as the question is told back to its author: "I live in Lisbon" ->
    "You live in Lisbon" (so the reply never parrots the person's own words)."""
    if sentence.speaker == MODEL or not asked_in or sentence.text not in asked_in:
        return sentence
    words = _GREETING.sub("", sentence.text).split(" ")
    if not any(w.lower().strip(",.!?;:") in ("i", "i'm", "my", "me") for w in words):
        return sentence
    swapped = [_swap(w, words[i - 1] if i else "") for i, w in enumerate(words)]
    text = " ".join(swapped)
    return Sentence(text[:1].upper() + text[1:], sentence.terms, TEXT)


def _swap(word: str, before: str) -> str:
    core = word.strip(",.!?;:")
    new = "are" if core.lower() == "am" and before.lower() == "i" else _FIRST_PERSON.get(core.lower())
    return word if new is None else word.replace(core, new, 1)


def _nothing_found(question: str, otherwise: str) -> str:
    """A message that only tells something is acknowledged; a real question is told the truth."""
    telling = question and not question.rstrip("\"') ").endswith("?") and _TELLING.match(question)
    return NOTED if telling else otherwise


def _reply(chosen: list[Sentence]) -> str:
    """The chosen sentences; what the person said earlier is quoted back as theirs."""
    parts: list[str] = []
    quoted: list[str] = []
    for sentence in chosen + [Sentence("", (), TEXT)]:
        if sentence.speaker == USER:
            quoted.append(sentence.text)
            continue
        if quoted:
            parts.append('You said: "' + " ".join(quoted) + '"')
            quoted = []
        if sentence.text:
            parts.append(sentence.text)
    return " ".join(parts)


class OfflineModel:
    """The built-in extractive model. Ignores temperature and seed: it is deterministic."""

    provider = "offline"

    async def complete(self, request: ChatRequest, on_token: TokenSink) -> Completion:
        messages = request.messages
        prompt = messages[-1].content if messages else ""
        context: list[tuple[str, str]] = [(m.role, m.content) for m in messages[:-1]]
        # ~10 ms of scoring: keep the loop free
        if len(prompt) + sum(len(text) for _, text in context) > THREAD_ABOVE_CHARS:
            answer = await asyncio.to_thread(extract_answer, prompt, context)
        else:
            answer = extract_answer(prompt, context)
        text, finish = apply_limits(answer, request.stop, request.max_tokens)
        if request.json_mode:
            text = json.dumps({"answer": text}, ensure_ascii=False)
        await emit_words(text, on_token, stream=request.stream)
        usage = Usage(count_words(request.prompt_text), count_words(text))
        return Completion(text=text, usage=usage, model=MODEL_NAME, finish_reason=finish)
