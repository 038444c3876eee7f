"""The store: flow versions and stale saves, concurrent saves, run recording, event round trips."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from engine.errors import FlowExists, NotFound, StaleVersion
from engine.events import event_from_dict
from engine.flow import Flow, dumps_flow, parse_flow
from engine.node import FlowInputConfig, FlowOutputConfig, NodeConfig, NodeSpec
from engine.ports import Port, PortType
from engine.registry import Registry
from engine.runner import Runner
from engine.store import Store, open_store
from tests.engine.toy import Toys, flow

CHAIN = flow([("in", "input.text", {"name": "q"}), ("a", "toy.step", {"suffix": "!", "tokens": ["x", "y"]}),
              ("answer", "output.text", {"name": "answer"})],
             [("in.text", "a.text"), ("a.text", "answer.value")], flow_id="chain")


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A store on SQLite, then on PostgreSQL (tests/databases.py)."""
    s = Store(database_url)
    yield s
    s.close()


def make_flow(name: str = "Chain", flow_id: str = "chain", suffix: str = "!") -> Flow:
    body = {**CHAIN, "id": flow_id, "name": name}
    body["nodes"] = [dict(n) for n in CHAIN["nodes"]]
    body["nodes"][1] = {**body["nodes"][1], "config": {"suffix": suffix}}
    return parse_flow(body)


def versions(store: Store, flow_id: str = "chain") -> list[int]:
    return [v.version for v in store.flow_versions(flow_id)]


# ---------------------------------------------------------------- flows and versions
def test_versions_are_numbered_and_each_keeps_its_body(store: Store) -> None:
    assert store.save_flow(make_flow(suffix="1"), None, message="first") == 1
    assert store.save_flow(make_flow(suffix="2", name="Renamed"), 1) == 2
    latest, number = store.get_flow("chain")
    assert number == 2
    assert latest.nodes[1].config == {"suffix": "2"}
    old, number = store.get_flow("chain", version=1)
    assert (number, old.nodes[1].config) == (1, {"suffix": "1"})
    assert [(v.version, v.message) for v in store.flow_versions("chain")] == [(1, "first"), (2, "")]
    [record] = store.list_flows()
    assert (record.id, record.name, record.latest_version) == ("chain", "Renamed", 2)
    assert record.updated_at >= record.created_at


def test_body_is_stored_canonically(store: Store) -> None:
    store.save_flow(make_flow(), None)
    with store.engine.connect() as conn:
        body = conn.execute(text("select body from flow_versions")).scalar_one()
    assert body == dumps_flow(make_flow())


def test_get_flow_by_name_and_unknown_ids(store: Store) -> None:
    store.save_flow(make_flow(name="My chain"), None)
    assert store.get_flow("My chain")[0].id == "chain"
    with pytest.raises(NotFound) as err:
        store.get_flow("nope")
    assert str(err.value) == "no saved flow has the id or name 'nope' (saved flows: chain)"
    with pytest.raises(NotFound) as err:
        store.get_flow("chain", version=7)
    assert err.value.message == "flow 'chain' has no version 7"


def test_ambiguous_name_asks_for_the_id(store: Store) -> None:
    store.save_flow(make_flow(name="Same", flow_id="a"), None)
    store.save_flow(make_flow(name="Same", flow_id="b"), None)
    with pytest.raises(NotFound) as err:
        store.get_flow("Same")
    assert err.value.message == "2 saved flows are named 'Same': a, b"


def test_stale_save_raises_and_writes_nothing(store: Store) -> None:
    store.save_flow(make_flow(suffix="1"), None)
    store.save_flow(make_flow(suffix="2"), 1)
    with pytest.raises(StaleVersion) as err:
        store.save_flow(make_flow(suffix="stale"), 1)
    assert err.value.message == "flow 'chain' is at version 2, but this save was based on version 1"
    assert (err.value.expected, err.value.actual) == (1, 2)
    assert versions(store) == [1, 2]
    assert store.get_flow("chain")[0].nodes[1].config == {"suffix": "2"}
    assert store.list_flows()[0].latest_version == 2


def test_creating_an_existing_flow_is_refused(store: Store) -> None:
    store.save_flow(make_flow(suffix="1"), None)
    with pytest.raises(FlowExists) as err:
        store.save_flow(make_flow(suffix="other"), None)
    assert err.value.message == "flow 'chain' already exists (at version 1)"
    assert isinstance(err.value, StaleVersion)
    assert versions(store) == [1]
    assert store.get_flow("chain")[0].nodes[1].config == {"suffix": "1"}


def test_saving_on_top_of_a_missing_flow_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound) as err:
        store.save_flow(make_flow(), 3)
    assert err.value.message == "flow 'chain' is not saved, so there is no version 3 to save on top of"
    assert store.list_flows() == []


def test_delete_flow(store: Store) -> None:
    store.save_flow(make_flow(), None)
    store.save_flow(make_flow(), 1)
    store.delete_flow("chain")
    assert store.list_flows() == []
    with pytest.raises(NotFound):
        store.delete_flow("chain")
    assert store.save_flow(make_flow(), None) == 1


@pytest.mark.parametrize("shared", [True, False], ids=["one-store", "two-stores"])
def test_concurrent_saves_on_the_same_version_give_exactly_one_success(database_url: str,
                                                                        shared: bool) -> None:
    url = database_url
    stores = [Store(url)] * 2 if shared else [Store(url), Store(url)]
    stores[0].save_flow(make_flow(suffix="0"), None)
    for base in range(1, 11):  # ten races, each against the latest version
        barrier = threading.Barrier(2)
        outcomes: list[Any] = [None, None]

        def save(i: int, base: int = base, barrier: threading.Barrier = barrier,
                 outcomes: list[Any] = outcomes) -> None:
            barrier.wait()
            try:
                outcomes[i] = stores[i].save_flow(make_flow(suffix=f"{base}-{i}"), base)
            except StaleVersion as err:
                outcomes[i] = err

        threads = [threading.Thread(target=save, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wins = [o for o in outcomes if o == base + 1]
        stale = [o for o in outcomes if isinstance(o, StaleVersion)]
        assert (len(wins), len(stale)) == (1, 1), outcomes
        assert (stale[0].expected, stale[0].actual) == (base, base + 1)
    assert versions(stores[0]) == list(range(1, 12))
    for s in set(stores):
        s.close()


# ---------------------------------------------------------------- runs
def test_run_is_recorded_through_a_real_runner(store: Store) -> None:
    toys = Toys()
    result = Runner(toys.registry, store=store).run(parse_flow(CHAIN), {"q": "hi"}, session_id="s-1",
                                                     flow_version=4)
    assert result.ok
    record = store.get_run(result.run_id)
    assert (record.flow_id, record.flow_version, record.status) == ("chain", 4, "succeeded")
    assert (record.inputs, record.outputs, record.session_id) == ({"q": "hi"}, {"answer": "hi!"}, "s-1")
    assert (record.error, record.failed_node) == (None, None)
    assert record.duration == pytest.approx(result.duration, abs=0.01)
    assert record.finished_at is not None and record.finished_at >= record.started_at
    assert [r.id for r in store.list_runs("chain")] == [result.run_id]


def test_events_round_trip(store: Store) -> None:
    result = Runner(Toys().registry, store=store).run(parse_flow(CHAIN), {"q": "hi"})
    stored = store.run_events(result.run_id)
    assert stored == [e.to_dict() for e in result.events]
    assert [event_from_dict(d) for d in stored] == result.events
    assert [d["kind"] for d in stored].count("node.token") == 2


def test_failed_run_records_node_error_and_hint(store: Store) -> None:
    body = flow([("in", "input.text", {"name": "q"}), ("bad", "toy.block", {"fail": True}),
                 ("answer", "output.text", {"name": "answer"})],
                [("in.text", "bad.text"), ("bad.text", "answer.value")], flow_id="broken")
    result = Runner(Toys().registry, store=store).run(parse_flow(body), {"q": "x"})
    record = store.get_run(result.run_id)
    assert (record.status, record.failed_node) == ("failed", "bad")
    assert record.error == "node 'bad' (toy.block) failed: RuntimeError: boom #1"
    assert [d["kind"] for d in store.run_events(result.run_id)][-2:] == ["node.cancelled", "run.finished"]


def test_list_runs_newest_first_with_filter_and_limit(store: Store) -> None:
    runner = Runner(Toys().registry, store=store)
    ids = [runner.run(parse_flow(CHAIN), {"q": str(i)}).run_id for i in range(3)]
    other = runner.run(parse_flow({**CHAIN, "id": "other"}), {"q": "o"}).run_id
    assert [r.id for r in store.list_runs()] == [other, *reversed(ids)]
    assert [r.id for r in store.list_runs("chain", limit=2)] == [ids[2], ids[1]]


def test_get_run_by_unique_prefix_and_unknown_id(store: Store) -> None:
    run_id = Runner(Toys().registry, store=store).run(parse_flow(CHAIN), {"q": "x"}).run_id
    assert store.get_run(run_id[:8]).id == run_id
    with pytest.raises(NotFound) as err:
        store.get_run("does-not-exist")
    assert str(err.value) == ("no recorded run has the id 'does-not-exist' "
                              "(list recent runs with `chainloom runs`)")
    with pytest.raises(NotFound):
        store.run_events("does-not-exist")


class GateConfig(NodeConfig):
    pass


def gated_registry(gate: threading.Event) -> Registry:
    def wait(cfg: GateConfig, inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
        if not gate.wait(30):
            raise RuntimeError("the test never opened the gate")
        return {"text": inputs["text"]}

    text_port = [Port("text", PortType.TEXT)]
    return Registry([
        NodeSpec("input.text", 1, "In", "", FlowInputConfig,
                 lambda c, i, x: {"text": x.flow_inputs[c.name]}, outputs=text_port, role="input"),
        NodeSpec("output.text", 1, "Out", "", FlowOutputConfig, lambda c, i, x: {"value": i["value"]},
                 inputs=[Port("value", PortType.TEXT)], role="output"),
        NodeSpec("test.gate", 1, "Gate", "", GateConfig, wait, inputs=text_port, outputs=text_port),
    ])


def test_events_reach_the_store_while_the_run_is_still_going(store: Store) -> None:
    gate = threading.Event()
    body = flow([("in", "input.text", {"name": "q"}), ("wait", "test.gate", {}),
                 ("answer", "output.text", {"name": "answer"})],
                [("in.text", "wait.text"), ("wait.text", "answer.value")], flow_id="gated")
    runner = Runner(gated_registry(gate), store=store)
    results: list[Any] = []
    worker = threading.Thread(target=lambda: results.append(
        runner.run(parse_flow(body), {"q": "x"}, run_id="gated-run")))
    worker.start()
    try:
        seen: list[tuple[str, Any]] = []
        while ("node.started", "wait") not in seen and worker.is_alive():
            try:
                seen = [(d["kind"], d.get("node")) for d in store.run_events("gated-run")]
            except NotFound:
                pass
            gate.wait(0.05)
        assert ("node.started", "wait") in seen
        assert store.get_run("gated-run").status == "running"
    finally:
        gate.set()
        worker.join()
    assert results[0].ok
    assert store.get_run("gated-run").status == "succeeded"


# ---------------------------------------------------------------- opening
def test_open_store_uses_chainloom_home_and_sqlite_pragmas(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAINLOOM_HOME", str(tmp_path / "home" / "deeper"))
    monkeypatch.delenv("CHAINLOOM_DATABASE_URL", raising=False)
    store = open_store()
    assert open_store() is store
    assert (tmp_path / "home" / "deeper" / "chainloom.db").exists()
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() > 0


def test_open_store_honours_database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAINLOOM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CHAINLOOM_DATABASE_URL", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    store = open_store()
    store.save_flow(make_flow(), None)
    assert (tmp_path / "elsewhere.db").exists()
    assert not (tmp_path / "home").exists()
    assert open_store(tmp_path / "explicit").url.endswith("explicit/chainloom.db")


def test_in_memory_store_works_across_threads() -> None:
    store = Store("sqlite://")
    result = Runner(Toys().registry, store=store).run(parse_flow(CHAIN), {"q": "m"})
    assert store.get_run(result.run_id).outputs == {"answer": "m!"}


def test_drafts_are_kept_replaced_and_deleted_by_key(store: Store) -> None:
    assert store.get_draft("s1:flow") is None
    store.put_draft("s1:flow", '{"a": 1}')
    store.put_draft("s2:flow", "other")
    store.put_draft("s1:flow", '{"a": 2}')
    assert (store.get_draft("s1:flow"), store.get_draft("s2:flow")) == ('{"a": 2}', "other")
    store.delete_draft("s1:flow")
    store.delete_draft("missing")
    assert (store.get_draft("s1:flow"), store.get_draft("s2:flow")) == (None, "other")
