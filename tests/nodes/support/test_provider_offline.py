"""The offline extractive model: answers from its own prompt, deterministically, and says when it cannot."""

from __future__ import annotations

import asyncio

import pytest

from nodes.support.messages import Message
from nodes.support.providers.base import ChatRequest
from nodes.support.providers.offline import EMPTY, NO_CONTEXT, NOT_FOUND, OfflineModel, extract_answer, split_sentences
from nodes.support.words import stem
from tests.nodes.flowkit import make_flow, run, tokens

FACTS = """Answer the question using only the facts below.

Facts:
- The Loire is the longest river in France.
- Mont Blanc is the highest mountain in the Alps.
- Paris is the capital of France and its largest city.
- Croissants are usually eaten at breakfast.

Question: {q}
Answer:"""


@pytest.mark.parametrize(("question", "answer"), [
    ("What is the capital of France?", "Paris is the capital of France and its largest city."),
    ("Which mountain is highest?", "Mont Blanc is the highest mountain in the Alps."),
    ("When are croissants eaten?", "Croissants are usually eaten at breakfast."),
    ("Tell me about rivers", "The Loire is the longest river in France."),
])
def test_answers_with_the_most_relevant_sentence(question: str, answer: str) -> None:
    assert extract_answer(FACTS.replace("{q}", question)) == answer


def test_several_relevant_sentences_come_back_in_their_original_order() -> None:
    prompt = ("Tea is grown in India. Coffee is grown in Brazil. Bananas are yellow. "
              "Coffee and tea both contain caffeine.\nWhat about coffee?")
    assert extract_answer(prompt) == "Coffee is grown in Brazil. Coffee and tea both contain caffeine."


def test_says_so_when_nothing_is_relevant() -> None:
    assert extract_answer(FACTS.replace("{q}", "Who won the 1998 World Cup?")) == NOT_FOUND


def test_says_so_when_the_prompt_is_only_a_question_or_empty() -> None:
    assert extract_answer("What is the meaning of life?") == NO_CONTEXT
    assert extract_answer("   \n") == EMPTY


def test_without_a_question_mark_the_last_line_is_the_question() -> None:
    prompt = "Owls hunt at night.\nSparrows eat seeds.\nowls"
    assert extract_answer(prompt) == "Owls hunt at night."


def test_light_stemming_matches_word_forms() -> None:
    assert {stem("stored"), stem("stores"), stem("storing")} == {"stor"}
    assert stem("studies") == stem("study")
    assert extract_answer("Keys are stored in the vault.\nWhere is a key stored?") == "Keys are stored in the vault."


def test_sentence_split_drops_bullets_and_keeps_abbreviated_numbers() -> None:
    assert split_sentences("- One. Two!\n2) Three 3.5 four?\n# Head") == ["One.", "Two!", "Three 3.5 four?", "Head"]


def test_system_message_counts_as_context() -> None:
    messages = (Message("system", "The secret word is swordfish."), Message("user", "What is the secret word?"))
    got = asyncio.run(OfflineModel().complete(ChatRequest(messages=messages), lambda t: None))
    assert got.text == "The secret word is swordfish."
    assert (got.model, got.finish_reason) == ("offline-extractive", "stop")
    assert (got.usage.prompt_tokens, got.usage.completion_tokens) == (10, 5)  # type: ignore[union-attr]


def test_stop_and_max_tokens_are_honoured() -> None:
    messages = (Message("user", "Alpha beta gamma delta epsilon. Alpha?"),)
    sink: list[str] = []
    got = asyncio.run(OfflineModel().complete(ChatRequest(messages=messages, max_tokens=2), sink.append))
    assert (got.text, got.finish_reason, sink) == ("Alpha beta", "length", ["Alpha", " beta"])
    got = asyncio.run(OfflineModel().complete(ChatRequest(messages=messages, stop=(" gamma",)), sink.append))
    assert got.text == "Alpha beta"


def test_through_a_flow_it_streams_word_by_word_and_reports_usage() -> None:
    flow = make_flow({
        "q": ("input.text", {"name": "q", "default": "What is the capital of France?"}),
        "p": ("prompt.template", {"template": FACTS}),
        "llm": ("llm.chat", {}),
        "out": ("output.text", {"name": "answer"}),
    }, [("q.text", "p.q"), ("p.prompt", "llm.prompt"), ("llm.text", "out.value")])
    first, second = run(flow), run(flow)
    answer = "Paris is the capital of France and its largest city."
    assert first.outputs == second.outputs == {"answer": answer}
    assert tokens(first, "llm") == ["Paris", " is", " the", " capital", " of", " France", " and", " its",
                                    " largest", " city."]
    finished = next(e for e in first.events if e.kind == "node.finished" and e.node == "llm")  # type: ignore[attr-defined]
    prompt_words = len(FACTS.replace("{q}", "What is the capital of France?").split())
    assert finished.usage == {"prompt_tokens": prompt_words, "completion_tokens": 10,  # type: ignore[attr-defined]
                              "total_tokens": prompt_words + 10, "model": "offline-extractive"}


def test_a_long_prompt_is_scored_off_the_event_loop_with_the_same_answer() -> None:
    filler = " ".join(f"Filler sentence number {i} talks about nothing much." for i in range(2000))
    prompt = f"{filler}\nThe vault code is 4711.\nWhat is the vault code?"
    assert len(prompt) > 50_000
    got = asyncio.run(OfflineModel().complete(ChatRequest(messages=(Message("user", prompt),)), lambda t: None))
    assert got.text == extract_answer(prompt) == "The vault code is 4711."


def test_headings_are_not_quoted_as_answers() -> None:
    prompt = ("# Returns and Refunds\n\n## Equipment\n\nGrinders can be returned within 60 days if unused.\n\n"
              "Question: How long do I have to return a grinder?")
    assert extract_answer(prompt) == "Grinders can be returned within 60 days if unused."


# ---------------------------------------------------------------- in a conversation (the chat playground)
MEMORY_PROMPT = """You are Fernhill Coffee's friendly assistant. Use what you remember about the person.

What you remember:
User: Hi, I'm Ada and I live in Lisbon.
Assistant: Noted. Ask me a question and I will answer from what I was given.

Their new message:
{q}"""


def test_a_memory_turn_answers_without_raw_memory_lines_or_the_instructions() -> None:
    from nodes.support.providers.offline import NOTED

    assert extract_answer(MEMORY_PROMPT.format(q="Where do I live?")) == (
        'You said: "Hi, I\'m Ada and I live in Lisbon."')
    assert extract_answer(MEMORY_PROMPT.format(q="Who are you, the assistant?")) == NOT_FOUND   # not its instructions
    assert extract_answer(MEMORY_PROMPT.format(q="Thanks, I like espresso.")) == NOTED
    assert extract_answer(MEMORY_PROMPT.format(q="Can I ask a question?")) == NOT_FOUND   # never its own old reply


def test_earlier_messages_by_role_are_context_but_its_own_turns_are_not_repeated() -> None:
    messages = (Message("user", "My order number is 4411."), Message("assistant", "Your order number is 4411, noted."),
                Message("user", "What is my order number?"))
    got = asyncio.run(OfflineModel().complete(ChatRequest(messages=messages), lambda t: None))
    assert got.text == 'You said: "My order number is 4411."'


@pytest.mark.parametrize("prompt,answer", [
    ("Their new message:\nHi, I'm Ada and I live in Lisbon. Where do I live?", "You're Ada and you live in Lisbon."),
    ("Hi, my name is Ada. What is my name?", "Your name is Ada."),
    ("I am Ada and I open the shop at 9 am. When do I open the shop?", "You are Ada and you open the shop at 9 am."),
    ("Context: I wrote that refunds take 5 days.\n\nQuestion: how long do refunds take?",
     "Context: I wrote that refunds take 5 days."),  # not the asker's own message: left as written
])
def test_a_fact_from_the_askers_own_message_is_told_back_not_parroted(prompt: str, answer: str) -> None:
    from nodes.support.providers.offline import extract_answer

    assert extract_answer(prompt) == answer
