"""Tweaks over HTTP: an API caller can never redirect the operator's key or widen a tool.

The property test throws arbitrary tweaks (real field names of every node, made-up
ones, any JSON value) at a flow whose author marked every ordinary field tweakable,
and checks that whenever the API accepts the tweaks, no where field (URL, host,
secret reference, provider, path, database, node type, tool wiring) has changed.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

import server.running
from engine.fields import where_kind
from engine.flow import Flow
from engine.validate import Issue
from nodes.registry import default_registry
from server.app import create_app
from server.keys import create_key
from server.settings import Settings
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.replay import TEST_KEY
from tests.server.conftest import save

REGISTRY = default_registry()
WIDE_NODES: list[tuple[str, str, dict[str, Any]]] = [
    ("llm", "llm.model", {"provider": "offline"}),
    ("http", "tool.http", {"allowed_hosts": ["api.example.com"], "auth_header": "Authorization",
                           "auth_env": "OPERATOR_KEY"}),
    ("emb", "embeddings.openai", {"api_key_env": "CHAINLOOM_TEST_NEVER_SET"}),
    ("sql", "tool.sql_database", {"url": "sqlite:///missing.db"}),
    ("mem", "memory.buffer", {}),
    ("prompt", "prompt.template", {"template": "Q: {question}"}),
]


def ordinary_fields(node_type: str) -> list[str]:
    config = REGISTRY.get(node_type).config
    return [n for n in config.model_fields if where_kind(config, n) is None]


def wide_flow() -> dict[str, Any]:
    """Every ordinary field of every node marked tweakable: the most a flow author can allow."""
    nodes: list[dict[str, Any]] = [{"id": "question", "type": "input.text", "config": {"name": "question"}}]
    for node_id, node_type, config in WIDE_NODES:
        nodes.append({"id": node_id, "type": node_type, "config": config, "tweakable": ordinary_fields(node_type)})
    nodes.append({"id": "answer", "type": "output.text", "config": {"name": "answer"}})
    return {"schema_version": 1, "id": "wide", "nodes": nodes,
            "edges": [{"from": "question.text", "to": "prompt.question"},
                      {"from": "prompt.prompt", "to": "answer.value"}]}


def where_values(flow: Flow) -> dict[tuple[str, str], Any]:
    out: dict[tuple[str, str], Any] = {}
    for n in flow.nodes:
        config = REGISTRY.get(n.type).config
        for name in config.model_fields:
            if where_kind(config, name) is not None:
                out[(n.id, name)] = n.config.get(name)
    return out


@pytest.fixture(scope="module")
def wide_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    app = create_app(Settings(home=str(tmp_path_factory.mktemp("home")), cancel_poll=0.05), registry=REGISTRY)
    key = create_key(app.state.chainloom.store.engine, "tests")[1]
    with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as client:
        save(client, wide_flow())
        yield client


ALL_FIELDS = sorted({f for _, t, _ in WIDE_NODES for f in REGISTRY.get(t).config.model_fields})
json_values = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6)
                           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30)
                           | st.sampled_from(["http://attacker.example/v1", "openai", "OTHER_KEY",
                                              "../../etc/passwd", "evil.example", "sqlite:///x.db"]),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                      max_size=3), max_leaves=6)
tweak_sets = st.dictionaries(
    st.sampled_from([n for n, _, _ in WIDE_NODES] + ["question", "answer", "ghost"]),
    st.dictionaries(st.sampled_from(ALL_FIELDS) | st.text(min_size=1, max_size=12), json_values,
                    min_size=1, max_size=4),
    min_size=1, max_size=4)


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tweaks=tweak_sets)
def test_no_tweak_accepted_by_the_api_changes_a_where_field(wide_client: TestClient,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            tweaks: dict[str, dict[str, Any]]) -> None:
    seen: list[tuple[Flow, Flow, list[Issue]]] = []
    real = server.running.apply_tweaks

    def spy(flow: Flow, given_tweaks: Any, registry: Any) -> tuple[Flow, list[Issue]]:
        tweaked, issues = real(flow, given_tweaks, registry)
        seen.append((flow, tweaked, issues))
        return tweaked, issues

    monkeypatch.setattr(server.running, "apply_tweaks", spy)
    r = wide_client.post("/flows/wide/run", json={"inputs": {"question": "q"}, "tweaks": tweaks})
    assert r.status_code in (200, 422), r.text
    if r.status_code == 422:
        return
    (before, after, issues), = seen
    assert issues == []
    assert where_values(after) == where_values(before)
    touched = {(node, field) for node, fields in tweaks.items() for field in fields}
    assert touched.isdisjoint(where_values(before))


def test_the_operators_key_never_reaches_a_tweaked_address(client: TestClient,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPERATOR_KEY", TEST_KEY)
    with FakeOpenAIServer() as operator, FakeOpenAIServer(api_key=None) as attacker:
        flow = {"schema_version": 1, "id": "keyed", "nodes": [
            {"id": "question", "type": "input.text", "config": {"name": "question"}},
            {"id": "llm", "type": "llm.chat", "tweakable": ["temperature"],
             "config": {"provider": "openai", "base_url": operator.url, "api_key_env": "OPERATOR_KEY", "model": "m",
                        "stream": False}},
            {"id": "answer", "type": "output.text", "config": {"name": "answer"}}],
            "edges": [{"from": "question.text", "to": "llm.prompt"}, {"from": "llm.text", "to": "answer.value"}]}
        save(client, flow)
        for tweak in ({"base_url": attacker.url}, {"provider": "cohere"}, {"api_key_env": "OTHER"},
                      {"base_url": attacker.url, "temperature": 0.1}):
            r = client.post("/flows/keyed/run", json={"inputs": {"question": "q"}, "tweaks": {"llm": tweak}})
            assert r.status_code == 422
            assert {i["code"] for i in r.json()["error"]["issues"]} == {"where_field"}
        assert attacker.requests == []
        ok = client.post("/flows/keyed/run", json={"inputs": {"question": "q"},
                                                   "tweaks": {"llm": {"temperature": 0.1}}})
        assert ok.status_code == 200 and ok.json()["status"] == "succeeded", ok.text
        assert attacker.requests == [] and len(operator.requests) == 1


def test_a_flow_marking_a_where_field_cannot_be_saved(client: TestClient) -> None:
    for node_type, config, field in [("llm.chat", {}, "base_url"), ("tool.http", {"allowed_hosts": ["a.example"]},
                                                                    "allowed_hosts"),
                                     ("loader.text", {}, "path"), ("llm.chat", {}, "provider")]:
        body = copy.deepcopy(wide_flow())
        body["nodes"].append({"id": "extra", "type": node_type, "config": config, "tweakable": [field]})
        r = client.post("/flows", json={"flow": body | {"id": f"bad-{field}"}})
        assert r.status_code == 422
        assert [(i["code"], i["node"], i["field"]) for i in r.json()["error"]["issues"]] == [
            ("bad_tweakable", "extra", f"config.{field}")]
