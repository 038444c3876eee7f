"""Memory: persisted per session across runs, isolated between sessions, within budgets, every kind."""

from __future__ import annotations

import asyncio
import concurrent.futures
from pathlib import Path
from typing import Any

import pytest

from engine.runner import Runner
from engine.scheduler import RunResult
from nodes.registry import default_registry
from nodes.support.chat_memory.extract import parse_entities, parse_triples, rule_entities, rule_triples
from nodes.support.chat_memory.kinds import Recall, within_budget
from nodes.support.chat_memory.store import Turn, memory_store
from tests.nodes.agentkit import context
from tests.nodes.flowkit import make_flow

TEMPLATE = "{history}\n\nUser: {message}\nAnswer the user's last message."


def chat_flow(memory: tuple[str, dict[str, Any]], llm: dict[str, Any] | None = None,
              extra: dict[str, tuple[str, dict[str, Any]]] | None = None,
              extra_edges: list[tuple[str, str]] | None = None):  # type: ignore[no-untyped-def]
    nodes = {"chat": ("input.chat", {"name": "message"}), "mem": memory,
             "load": ("memory.load", {}), "prompt": ("prompt.template", {"template": TEMPLATE}),
             "llm": ("llm.chat", llm or {"provider": "scripted", "responses": ["Noted."]}), "save": ("memory.save", {}),
             "out": ("output.chat", {"name": "reply"}), "history": ("output.text", {"name": "history"}),
             **(extra or {})}
    edges = [("mem.memory", "load.memory"), ("chat.message", "load.message"), ("chat.session", "load.session"),
             ("load.history", "prompt.history"), ("chat.message", "prompt.message"), ("prompt.prompt", "llm.prompt"),
             ("mem.memory", "save.memory"), ("chat.message", "save.message"), ("llm.text", "save.reply"),
             ("chat.session", "save.session"), ("save.reply", "out.message"),
             ("load.history", "history.value"), *(extra_edges or [])]
    return make_flow(nodes, edges)


class Chat:
    """Runs a chat flow turn by turn in one data dir."""

    def __init__(self, home: Path, flow: Any) -> None:
        self.runner = Runner(default_registry(), services={"home": str(home)})
        self.flow = flow

    def say(self, message: str, session: str = "s1") -> RunResult:
        result = self.runner.run(self.flow, {"message": message}, session_id=session)
        assert result.ok, result.error
        return result

    def reply(self, message: str, session: str = "s1") -> str:
        return str(self.say(message, session).outputs["reply"]["content"])

    def history(self, message: str, session: str = "s1") -> str:
        return str(self.say(message, session).outputs["history"])


def test_buffer_memory_remembers_across_runs_of_one_session(tmp_path: Path) -> None:
    chat = Chat(tmp_path, chat_flow(("memory.buffer", {}), llm={"provider": "offline"}))
    chat.say("Hi, my name is Ada and I live in Lisbon.")
    assert "I live in Lisbon." in chat.reply("Where do I live?")  # the offline model found it in the history
    # A fresh Runner on the same data dir (a new process, say) still remembers.
    again = Chat(tmp_path, chat.flow)
    assert again.history("And my name?").startswith("User: Hi, my name is Ada and I live in Lisbon.\nAssistant: ")


def test_sessions_never_mix(tmp_path: Path) -> None:
    chat = Chat(tmp_path, chat_flow(("memory.buffer", {})))
    chat.say("My name is Ada.", session="ada")
    chat.say("My name is Grace.", session="grace")
    assert "Grace" not in chat.history("Who am I?", session="ada")
    assert "Ada" not in chat.history("Who am I?", session="grace")
    assert chat.history("Hello?", session="nobody") == ""


def test_concurrent_runs_in_different_sessions_keep_their_own_turns(tmp_path: Path) -> None:
    chat = Chat(tmp_path, chat_flow(("memory.buffer", {})))
    names = [f"user{i}" for i in range(6)]
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda n: [chat.say(f"I am {n}, message {k}.", session=n) for k in range(3)], names))
    for name in names:
        history = chat.history("Who am I?", session=name)
        assert history.count("User: ") == 3 and all(o not in history for o in names if o != name)


def test_window_memory_shows_the_last_k_turns(tmp_path: Path) -> None:
    chat = Chat(tmp_path, chat_flow(("memory.window", {"k": 2})))
    for i in range(1, 5):
        chat.say(f"Fact number {i}.")
    history = chat.history("What facts?")
    assert [line for line in history.splitlines() if line.startswith("User:")] == \
        ["User: Fact number 3.", "User: Fact number 4."]


def test_buffer_memory_keeps_within_its_word_budget(tmp_path: Path) -> None:
    chat = Chat(tmp_path, chat_flow(("memory.buffer", {"max_tokens": 40})))
    for i in range(6):
        chat.say(f"Turn {i} has exactly seven words here.")  # 7 words + "Noted." = 8 a turn
    history = chat.history("x")
    words = len(history.split()) - history.count("User:") - history.count("Assistant:")
    assert words == 40 and "Turn 1 " in history and "Turn 0 " not in history


SUMMARY_MODEL = {"provider": "scripted", "responses": ["Ada introduced herself and said she lives in Lisbon "
                                                       "and keeps bees in her garden."]}


def test_summary_memory_folds_old_turns_into_a_summary_within_budget(tmp_path: Path) -> None:
    flow = chat_flow(("memory.summary", {"max_tokens": 25, "summary_tokens": 10, **SUMMARY_MODEL}),
                     llm={"provider": "scripted", "responses": ["Nice to meet you, tell me more."]})
    chat = Chat(tmp_path, flow)
    first = chat.say("Hi, I am Ada and I live in Lisbon.")
    assert not any(e.kind == "node.step" and e.name == "summarised" for e in first.events)  # 14 words fit
    second = chat.say("I keep bees in my garden, three hives.")
    summarised = [e for e in second.events if e.kind == "node.step" and e.name == "summarised"]
    assert len(summarised) == 1 and summarised[0].node == "save"
    assert summarised[0].data == {"turns": 1, "summary": "Ada introduced herself and said she lives in Lisbon and"}
    history = chat.history("What do I keep?")
    assert history == ("Summary of the conversation so far: Ada introduced herself and said she lives in "
                       "Lisbon and\n\n"
                       "User: I keep bees in my garden, three hives.\nAssistant: Nice to meet you, tell me more.")
    summary_usage = second.usage
    assert summary_usage["total_tokens"] > 0


def test_vector_memory_recalls_the_most_similar_past_turns(tmp_path: Path) -> None:
    extra = {"embed": ("embeddings.hashing", {}), "vs": ("vectorstore.chroma", {"collection": "chat-memory"})}
    flow = chat_flow(("memory.vector", {"k": 1}), extra=extra,
                     extra_edges=[("embed.embeddings", "vs.embeddings"), ("vs.store", "mem.store")])
    chat = Chat(tmp_path, flow)
    chat.say("My favourite colour is green.")
    chat.say("The cat is called Miso.")
    chat.say("I was born in Porto.", session="other")
    history = chat.history("What is the cat called?")
    assert history == "User: The cat is called Miso.\nAssistant: Noted."
    assert "Porto" not in chat.history("Where was I born?")


def test_entity_memory_recalls_facts_about_mentioned_entities(tmp_path: Path) -> None:
    chat = Chat(tmp_path, chat_flow(("memory.entity", {"k": 0})))
    chat.say("My sister Grace lives in Boston.")
    chat.say("Lisbon is sunny in May.")
    assert chat.history("How is Grace?") == ("What is known about the entities mentioned:\n"
                                             "- Grace: My sister Grace lives in Boston.")


@pytest.mark.parametrize(("answer", "found"), [
    ('{"Grace": "is the user\'s sister"}', {"Grace": ["is the user's sister"]}),
    ("I could not find any.", {"Grace": ["My sister Grace lives in Boston."],
                               "Boston": ["My sister Grace lives in Boston."]}),  # the rules take over
])
def test_entity_memory_can_ask_the_model_and_falls_back_to_rules(tmp_path: Path, answer: str,
                                                                  found: dict[str, list[str]]) -> None:
    flow = chat_flow(("memory.entity", {"extractor": "model", "provider": "scripted", "responses": [answer]}))
    result = Chat(tmp_path, flow).say("My sister Grace lives in Boston.")
    assert [e.data for e in result.events if e.kind == "node.step" and e.name == "entities"] == [{"found": found}]


def test_knowledge_graph_memory_stores_triples_and_recalls_them(tmp_path: Path) -> None:
    chat = Chat(tmp_path, chat_flow(("memory.knowledge_graph", {"k": 0})))
    first = chat.say("My dog is called Rex and I live in Lisbon.")
    steps = [e.data for e in first.events if e.kind == "node.step" and e.name == "triples"]
    assert steps == [{"found": ["user's dog | is called | Rex", "user | lives in | Lisbon"]}]
    chat.say("Rex likes long walks.")
    assert chat.history("What does Rex like?") == ("Known facts:\n- Rex likes long walks\n"
                                                   "- user's dog is called Rex")
    assert chat.history("Where do I live?") == ("Known facts:\n- user's dog is called Rex\n"
                                                "- user lives in Lisbon")


def test_memory_select_picks_the_kind_named_at_run_time(tmp_path: Path) -> None:
    flow = chat_flow(("memory.select", {}), extra={
        "kind": ("input.text", {"name": "memory", "default": "window"}),
        "buf": ("memory.buffer", {}), "win": ("memory.window", {"k": 1})},
        extra_edges=[("buf.memory", "mem.memories"), ("win.memory", "mem.memories"), ("kind.text", "mem.kind")])
    runner = Runner(default_registry(), services={"home": str(tmp_path)})
    for text in ("One.", "Two."):
        runner.run(flow, {"message": text}, session_id="s")
    window = runner.run(flow, {"message": "?", "memory": "window"}, session_id="s")
    buffer = runner.run(flow, {"message": "?", "memory": "buffer"}, session_id="s")
    assert window.outputs["history"].count("User:") == 1 and buffer.outputs["history"].count("User:") == 3
    wrong = runner.run(flow, {"message": "?", "memory": "summary"}, session_id="s")
    assert str(wrong.error).endswith("no memory of kind 'summary' is connected to 'memories' (choose one of: "
                                     "buffer, window)")


def test_chat_input_gives_the_run_session_and_a_default(tmp_path: Path) -> None:
    flow = make_flow({"chat": ("input.chat", {"default": "hi"}), "s": ("output.text", {"name": "session"})},
                     [("chat.session", "s.value")])
    runner = Runner(default_registry())
    assert runner.run(flow, session_id="abc").outputs == {"session": "abc"}
    assert runner.run(flow).outputs == {"session": "default"}


# ---------------------------------------------------------------- pieces
def test_store_turns_and_state(tmp_path: Path) -> None:
    store = memory_store(context(services={"home": str(tmp_path)}))
    for i in range(5):
        store.add_turn("m", "s", f"u{i}", f"a{i}")
    assert [t.user for t in store.turns("m", "s", last=2)] == ["u3", "u4"]
    assert [t.user for t in store.turns("m", "s", after=store.turns("m", "s")[2].id)] == ["u3", "u4"]
    assert store.turns("m", "other") == [] and store.turns("other", "s") == []
    store.set_state("m", "s", "k", {"a": 1})
    store.set_state("m", "s", "k", {"a": 2})
    assert store.state("m", "s", "k") == {"a": 2} and store.state("m", "t", "k") == {}
    store.clear("m", "s")
    assert store.turns("m", "s") == [] and store.state("m", "s", "k") == {}


def test_budget_keeps_the_newest_turns() -> None:
    turns = [Turn(i, "one two three", "four five") for i in range(5)]
    assert [t.id for t in within_budget(turns, 10)] == [3, 4]
    assert within_budget(turns, 4) == []
    assert Recall(()).text() == ""


def test_rule_extraction() -> None:
    assert rule_entities("Yesterday I met Ada Lovelace in London. She likes maths.") == {
        "Ada Lovelace": ["Yesterday I met Ada Lovelace in London."],
        "London": ["Yesterday I met Ada Lovelace in London."]}
    assert rule_triples("I am a teacher, and my cat is called Tom. Where is Tom?") == [
        ("user", "is", "a teacher"), ("user's cat", "is called", "Tom")]


def test_model_extraction_answers_are_parsed_or_refused() -> None:
    assert parse_entities('Sure: {"Ada": ["a mathematician"], "": "x"}') == {"Ada": ["a mathematician"]}
    assert parse_entities("none") is None
    assert parse_triples("Ada | Knows | Babbage\nnot a triple") == [("Ada", "knows", "Babbage")]
    assert parse_triples("NONE") is None


def test_memory_load_refuses_a_value_that_is_not_a_memory() -> None:
    from nodes.memory import LoadConfig, load_node

    with pytest.raises(Exception, match="input 'memory' needs a memory node's output; got str"):
        asyncio.run(load_node.run(LoadConfig(), {"memory": "buffer"}, context()))
