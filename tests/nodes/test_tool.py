"""Tools: calculator safety, HTTP allowlist and SSRF refusals, read-only SQL, retriever, flows and nodes as tools."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from engine.flow import save_flow
from nodes.support.safe_http import allow_loopback_for_tests
from nodes.support.sql_database import ReadOnlyDatabase
from nodes.support.tools import Observation, Tool, ToolError, as_tools, object_schema, tool_table
from nodes.tool.calculator import CalculationError, CalculatorConfig, calculator_tool, evaluate
from nodes.tool.flow import FlowToolConfig, flow_tool_node
from nodes.tool.http import HttpToolConfig, http_tool
from nodes.tool.node import NodeToolConfig, node_tool_node
from nodes.tool.sql_database import SqlToolkitConfig, sql_toolkit_node
from tests.fakes.api_server import FakeApiServer
from tests.nodes.agentkit import context, make_db, snapshot
from tests.nodes.flowkit import make_flow, run


def call(tool: Tool, args: Any, **ctx: Any) -> Observation:
    return asyncio.run(tool.call(args, context(**ctx)))


# ---------------------------------------------------------------- calculator
@pytest.mark.parametrize(("expression", "value"), [
    ("2 + 3 * 4", 14), ("2 ^ 10", 1024), ("(1 + 2) / 4", 0.75), ("-2 ** 2", -4), ("sqrt(16) + abs(-2)", 6.0),
    ("round(2.567, 2)", 2.57), ("max(3, 7, 5) // 2", 3), ("10 % 4", 2), ("2 * pi", 6.283185307179586),
    ("12 × 3 ÷ 4", 9.0), ("10 ** 300 // 10 ** 299", 10),
])
def test_calculator_computes(expression: str, value: float) -> None:
    assert evaluate(expression) == value


@pytest.mark.parametrize(("expression", "message"), [
    ("__import__('os').system('id')", "'__import__('os').system' is not an allowed function"),
    ("(1).real", "'1 .real' is not allowed"),
    ("().__class__.__bases__[0].__subclasses__()", "is not an allowed function"),
    ("9 ** 9 ** 9", "exponent 387420489 is beyond the limit of 10000"),
    ("2 ** 100000", "exponent 100000 is beyond the limit of 10000"),
    ("7 ** 9999", "7**9999 would be larger than 4096 bits"),
    ("10 ** 1000 * 10 ** 1000", "the result has more than 4096 bits"),
    ("1e308 * 10", "has no finite value"),
    ("1 / 0", "cannot compute '1 / 0': division by zero"),
    ("'a' * 3", "only numbers are allowed, not 'a'"),
    ("True + 1", "only numbers are allowed, not True"),
    ("x + 1", "'x' is not allowed"),
    ("lambda: 1", "'lambda: 1' is not allowed"),
    ("open('/etc/passwd')", "'open' is not an allowed function"),
    ("sqrt(x=4)", "sqrt() takes 1 to 8 plain arguments"),
    ("(-8) ** 0.5", "the result is a complex number"),
    ("1 +", "'1 +' is not an arithmetic expression"),
    ("1" + "+1" * 300, "is 601 characters; the limit is 500"),
    ("1+" * 150 + "1", "more than 200 parts"),
    ("", "the expression is empty"),
])
def test_calculator_refuses(expression: str, message: str) -> None:
    with pytest.raises(CalculationError) as caught:
        evaluate(expression)
    assert message in caught.value.message


def test_calculator_tool_answers_refusals_as_observations() -> None:
    tool = calculator_tool(CalculatorConfig())
    assert call(tool, {"expression": "6 * 7"}) == Observation("42")
    assert call(tool, "6 * 7.5") == Observation("45")  # a bare value for a one-argument tool
    refused = call(tool, {"expression": "__import__('os').system('id')"})
    assert not refused.ok and refused.text.startswith("Error: '__import__('os').system' is not an allowed function")
    wrong = call(tool, {"expr": "1"})
    assert not wrong.ok and "Additional properties are not allowed ('expr' was unexpected)" in wrong.text


def test_tool_names_and_tables() -> None:
    calc = calculator_tool(CalculatorConfig())
    assert as_tools([calc, [calc]]) == [calc, calc]
    with pytest.raises(Exception, match="two tools are named 'calculator'"):
        tool_table([calc, calc])
    with pytest.raises(ValueError, match="tool name 'bad name'"):
        Tool("bad name", "", object_schema({}), calc.run)


def test_calculator_node_evaluates_in_a_flow() -> None:
    flow = make_flow({"calc": ("tool.calculator", {}), "out": ("output.text", {"name": "r"}),
                      "q": ("input.text", {"name": "q"})},
                     [("q.text", "calc.expression"), ("calc.result", "out.value")])
    assert run(flow, {"q": "(2 + 3) ^ 2"}).outputs == {"r": "25"}


# ---------------------------------------------------------------- http
def http(server: FakeApiServer, **config: Any) -> Tool:
    return http_tool(HttpToolConfig(**{"allowed_hosts": ["127.0.0.1"], **config}), context())


def test_http_tool_gets_from_an_allowed_host() -> None:
    with FakeApiServer({"GET /v1/rates": (200, {"EUR": 0.9})}) as server, allow_loopback_for_tests(server.port):
        got = call(http(server, base_url=server.url + "/v1/"), {"url": "rates", "params": {"base": "USD"}})
    assert got == Observation('HTTP 200 (application/json)\n{"EUR": 0.9}')
    assert server.requests[0][:2] == ("GET", "/v1/rates?base=USD")


def test_http_tool_refuses_hosts_outside_the_allowlist_and_an_empty_one() -> None:
    with FakeApiServer({"GET /": (200, {})}) as server, allow_loopback_for_tests(server.port):
        outside = call(http(server, allowed_hosts=["api.example.com"]), {"url": server.url + "/"})
        empty = call(http(server, allowed_hosts=[]), {"url": server.url + "/"})
    assert outside.text == "Error: host '127.0.0.1' is not in the allowlist (api.example.com) (add the host to " \
                           "the node's allowed hosts)"
    assert empty.text.startswith("Error: this HTTP tool has no allowed hosts, so every request is refused")
    assert server.requests == []


@pytest.mark.parametrize("url", ["http://127.0.0.1/", "http://169.254.169.254/latest/meta-data/",
                                 "http://10.0.0.7/", "http://[::1]/", "http://2130706433/", "file:///etc/passwd"])
def test_http_tool_refuses_private_addresses_even_when_allowlisted(url: str) -> None:
    tool = http_tool(HttpToolConfig(allowed_hosts=["127.0.0.1", "169.254.169.254", "10.0.0.7", "::1",
                                                   "2130706433"]), context())
    got = call(tool, {"url": url})
    assert not got.ok and ("resolves to" in got.text or "scheme 'file'" in got.text)


def test_http_tool_side_effect_methods_need_the_flow_author() -> None:
    routes = {"POST /items": (201, {"id": 7})}
    with FakeApiServer(routes) as server, allow_loopback_for_tests(server.port):
        refused = call(http(server), {"url": server.url + "/items", "method": "POST"})
        allowed = call(http(server, allow_side_effects=True),
                       {"url": server.url + "/items", "method": "POST", "body": {"name": "cup"}})
    assert "'POST' is not one of ['GET', 'HEAD']" in refused.text
    assert allowed.text == 'HTTP 201 (application/json)\n{"id": 7}'
    assert [(m, b) for m, _, _, b in server.requests] == [("POST", '{"name": "cup"}')]


def test_http_tool_sends_the_credential_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_API_TOKEN", "Bearer s3cret-value")
    with FakeApiServer({"GET /me": (200, {"ok": True})}) as server, allow_loopback_for_tests(server.port):
        call(http(server, auth_header="Authorization", auth_env="TEST_API_TOKEN"), {"url": server.url + "/me"})
    assert server.requests[0][2]["Authorization"] == "Bearer s3cret-value"


def test_http_tool_caps_the_response_size() -> None:
    with FakeApiServer({"GET /big": (200, {"x": "y" * 5000})}) as server, allow_loopback_for_tests(server.port):
        got = call(http(server, max_bytes=1000), {"url": server.url + "/big"})
    assert got.text == "Error: response is 5009 bytes, over the 1000-byte limit"


@pytest.mark.parametrize("host", ["http://api.example.com", "api.example.com/v1", "a b"])
def test_http_tool_allowlist_takes_bare_host_names(host: str) -> None:
    with pytest.raises(ValidationError, match="is not a host name"):
        HttpToolConfig(allowed_hosts=[host])


# ---------------------------------------------------------------- sql
@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CHAINLOOM_FILES_ROOT", str(tmp_path))
    return make_db(tmp_path / "shop.db")


def sql_tools(db: Path, **config: Any) -> dict[str, Tool]:
    out = sql_toolkit_node.run(SqlToolkitConfig(url=f"sqlite:///{db}", **config), {}, context())
    return {t.name: t for t in out["tools"]}


def test_sql_toolkit_lists_describes_and_queries(shop: Path) -> None:
    tools = sql_tools(shop)
    assert call(tools["sql_list_tables"], {}).text == "customers, orders"
    schema = call(tools["sql_schema"], {"table": "orders"}).text
    assert schema.startswith("TABLE orders (\n  id INTEGER PRIMARY KEY,\n  customer_id INTEGER,\n"
                             "  total REAL NOT NULL,\n  FOREIGN KEY (customer_id) REFERENCES customers(id)\n)")
    got = call(tools["sql_query"], {"query": "SELECT name, SUM(total) AS spent FROM customers JOIN orders "
                                             "ON orders.customer_id = customers.id GROUP BY name ORDER BY name;"})
    assert got.text == "name | spent\nAda | 30.0\nGrace | 100.0"


@pytest.mark.parametrize(("query", "message"), [
    ("DELETE FROM customers", "only SELECT queries may run here; this statement starts with 'delete'"),
    ("SELECT 1; DROP TABLE customers", "the query holds more than one statement"),
    ("UPDATE customers SET name = 'x'", "starts with 'update'"),
    ("WITH gone AS (SELECT 1) DELETE FROM customers", "attempt to write a readonly database"),
    ("ATTACH 'other.db' AS other", "starts with 'attach'"),
    ("PRAGMA query_only = OFF", "starts with 'pragma'"),
    ("SELECT * FROM missing", "no such table: missing"),
])
def test_sql_refuses_writes_and_several_statements(shop: Path, query: str, message: str) -> None:
    before = snapshot(shop)
    got = call(sql_tools(shop)["sql_query"], {"query": query})
    assert not got.ok and message in got.text
    assert snapshot(shop) == before
    assert sorted(p.name for p in shop.parent.iterdir()) == ["shop.db"]


def test_sql_caps_rows_and_time(shop: Path) -> None:
    rows = call(sql_tools(shop, max_rows=2)["sql_query"], {"query": "SELECT id FROM customers ORDER BY id"})
    assert rows.text == "id\n1\n2\n(only the first 2 rows are shown)"
    endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
    stopped = call(sql_tools(shop, timeout=0.2)["sql_query"], {"query": endless})
    assert stopped.text == "Error: the query ran longer than 0.2s and was stopped (ask for fewer rows, or add a " \
                           "WHERE clause)"


def test_sql_schema_of_an_unknown_table_lists_the_real_ones(shop: Path) -> None:
    got = call(sql_tools(shop)["sql_schema"], {"table": "users; DROP TABLE orders"})
    assert got.text == "Error: there is no table named 'users; DROP TABLE orders' (tables: customers, orders)"


def test_sql_database_outside_the_allowed_folder_is_refused(shop: Path) -> None:
    with pytest.raises(Exception, match="outside the allowed folder"):
        ReadOnlyDatabase("sqlite:////etc/hosts.db")


def test_sql_database_from_a_script_is_built_once_then_read_only(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAINLOOM_FILES_ROOT", str(tmp_path))
    (tmp_path / "seed.sql").write_text("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2);")
    ctx = context(services={"home": str(tmp_path / "home")})
    first = sql_toolkit_node.run(SqlToolkitConfig(script="seed.sql"), {}, ctx)
    again = sql_toolkit_node.run(SqlToolkitConfig(script="seed.sql"), {}, ctx)
    built = list((tmp_path / "home" / "sqldb").iterdir())
    assert first["tables"] == again["tables"] == ["t"] and len(built) == 1
    query = {t.name: t for t in first["tools"]}["sql_query"]
    assert "readonly" in call(query, {"query": "WITH a AS (SELECT 1) INSERT INTO t VALUES (3)"}).text


def test_sql_config_needs_exactly_one_database() -> None:
    with pytest.raises(ValidationError, match="set exactly one of url, url_env or script"):
        SqlToolkitConfig()
    with pytest.raises(ValidationError, match=r"\(got url, script\)"):
        SqlToolkitConfig(url="sqlite:///a.db", script="a.sql")


# ---------------------------------------------------------------- flows and nodes as tools
def test_a_saved_flow_file_is_a_tool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAINLOOM_FILES_ROOT", str(tmp_path))
    inner = make_flow({"who": ("input.text", {"name": "who", "description": "A name."}),
                       "greet": ("prompt.template", {"template": "Hello, {who}!"}),
                       "out": ("output.text", {"name": "greeting"})},
                      [("who.text", "greet.who"), ("greet.prompt", "out.value")])
    save_flow(inner.model_copy(update={"description": "Greets someone."}), tmp_path / "greet.json")
    tool = flow_tool_node.run(FlowToolConfig(name="greet", flow="greet.json"), {}, context())["tool"]
    assert tool.spec() == {"name": "greet", "description": "Greets someone.", "parameters": {
        "type": "object", "properties": {"who": {"type": "string", "description": "A name."}},
        "required": ["who"], "additionalProperties": False}}
    assert call(tool, {"who": "Ada"}) == Observation("Hello, Ada!")
    assert "'who' is a required property" in call(tool, {}).text


def test_a_flow_that_calls_itself_as_a_tool_stops_at_the_depth_limit(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAINLOOM_FILES_ROOT", str(tmp_path))
    loop = make_flow({"q": ("input.text", {"name": "q"}), "me": ("tool.flow", {"flow": "loop.json", "name": "me"}),
                      "out": ("output.text", {"name": "r"})}, [("q.text", "out.value")])
    save_flow(loop, tmp_path / "loop.json")
    tool = flow_tool_node.run(FlowToolConfig(name="me", flow="loop.json"), {}, context())["tool"]
    got = call(tool, {"q": "x"}, services={"tool_depth": 3})
    assert got.text == "Error: flows call flows as tools 3 deep; 'test' is not run again (a flow may not call " \
                       "itself (directly or through others) as a tool)"


def test_a_node_is_a_tool() -> None:
    config = NodeToolConfig(name="shout", node_type="transform.text", node_config={"steps": [{"op": "upper"}]})
    tool = node_tool_node.run(config, {}, context())["tool"]
    assert list(tool.parameters["properties"]) == ["text"]
    assert call(tool, {"text": "quiet"}) == Observation("QUIET")


@pytest.mark.parametrize(("node_type", "message"), [
    ("input.text", "is a flow input node, which cannot be a tool"),
    ("flow.condition", "is a flow router node"),
    ("tool.retriever", "input 'retriever' takes Retriever, which a model cannot pass as an argument"),
])
def test_nodes_that_cannot_be_tools_say_why(node_type: str, message: str) -> None:
    with pytest.raises(Exception, match=message):
        node_tool_node.run(NodeToolConfig(node_type=node_type), {}, context())


def test_tool_error_is_permanent() -> None:
    assert issubclass(ToolError, Exception) and ToolError("x").message == "x"
