"""The server framework over a real connection: syncmcp's ClientSession in memory for the MCP
features, and a hand-driven client over the stdio server transport for the protocol rules of
both eras (handshake and 2026-07-28)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import pytest

import syncmcp
from syncmcp import RemoteError, SchemaValidationError
from syncmcp.server import Audio, Context, EmbeddedResource, Image, ResourceNotFound, Server, ToolError

from .conftest import serve_in_process, syncmcp_threads, wait_until

SUPPORTED = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]
ENVELOPE = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"},
}


def modern(extra: Optional[Dict[str, Any]] = None, capabilities: Optional[Dict[str, Any]] = None, **meta: Any) -> Dict[str, Any]:
    """Params of a 2026-07-28 request: ``extra`` plus the ``_meta`` envelope."""
    envelope = {**ENVELOPE, **meta}
    if capabilities is not None:
        envelope["io.modelcontextprotocol/clientCapabilities"] = capabilities
    return {**(extra or {}), "_meta": envelope}


@dataclass
class Total:
    value: int
    label: str


class Gate:
    """Lets a test hold a handler inside its call and release it when ready."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.saw_cancel = threading.Event()


def make_server(**options: Any) -> Server:
    server = Server("test-server", "3.1", instructions="Test instructions.", **options)
    gates: Dict[str, Gate] = {}
    server.gates = gates  # type: ignore[attr-defined]

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def total(values: List[int]) -> Total:
        """Sum a list (structured)."""
        return Total(sum(values), "sum")

    @server.tool()
    def gated(name: str, ctx: Context) -> str:
        """Wait at the named gate until released or cancelled."""
        gate = gates.setdefault(name, Gate())
        gate.entered.set()
        while not gate.release.wait(0.01):
            if ctx.cancelled.is_set():
                gate.saw_cancel.set()
                return "cancelled"
        return f"released {name}"

    @server.tool()
    def progress(steps: int, ctx: Context) -> str:
        """Report progress, including values that do not increase (they are dropped)."""
        sent = [ctx.report_progress(step, steps, f"step {step}") for step in range(1, steps + 1)]
        sent.append(ctx.report_progress(1, steps))
        return str(sent)

    @server.tool()
    def log_all(ctx: Context) -> List[bool]:
        """Log once at each level; which were sent."""
        return [ctx.log(level, f"at {level}") for level in ("debug", "info", "warning", "error")]

    @server.tool()
    def ask(ctx: Context) -> str:
        """Elicit a name, then sample, then list roots; report what came back."""
        answer = ctx.elicit("Name?", {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]})
        if not answer.accepted:
            return answer.action
        sampled = ctx.sample("Say hi", max_tokens=5)
        roots = ctx.list_roots()
        return f"{answer.content['name']}|{sampled.text}|{roots[0]['uri']}"  # type: ignore[index]

    @server.tool()
    def only_elicit(ctx: Context) -> str:
        """Elicit a number."""
        answer = ctx.elicit("Number?", {"type": "object", "properties": {"n": {"type": "integer"}}})
        return f"{answer.action} {answer.content}"

    @server.tool()
    def refuse() -> str:
        """Fails on purpose."""
        raise ToolError("refused on purpose")

    @server.tool()
    def protocol_error() -> str:
        """Answers with a JSON-RPC error."""
        raise syncmcp.JSONRPCError(-32000, "custom failure", {"why": "test"})

    @server.resource("test://static", mime_type="text/plain")
    def static() -> str:
        """Static text."""
        return "static text"

    @server.resource("test://blob")
    def blob() -> bytes:
        return b"\x00\x01"

    @server.resource_template("test://items/{item_id}", completions={"item_id": [f"item{n:03d}" for n in range(150)]})
    def item(item_id: int) -> Dict[str, int]:
        """An item by number."""
        if item_id > 100:
            raise ResourceNotFound(f"test://items/{item_id}")
        return {"id": item_id}

    @server.prompt(completions={"city": ["Paris", "Porto", "Oslo"]})
    def trip(city: str, days: int = 3) -> str:
        """Plan a trip.

        Args:
            city: where to.
            days: how long.
        """
        return f"Plan {days} days in {city}."

    @server.request_handler("test/echo")
    def echo(ctx: Context, params: Dict[str, Any]) -> Dict[str, Any]:
        if "fail" in params:
            raise ValueError("fail was given")
        return {"echo": params.get("value")}

    return server


@pytest.fixture
def server() -> Server:
    return make_server()


# ----------------------------------------------------------------------------------- handshake


@pytest.mark.parametrize("version", SUPPORTED)
def test_initialize_echoes_every_supported_version(server: Server, raw_client: Any, version: str) -> None:
    client = raw_client(server)
    result = client.initialize(version)["result"]
    assert result["protocolVersion"] == version
    assert result["serverInfo"] == {"name": "test-server", "version": "3.1"}
    assert result["instructions"] == "Test instructions."


@pytest.mark.parametrize("version", ["1999-01-01", "2026-07-28"])
def test_initialize_answers_an_unknown_version_with_the_latest(server: Server, raw_client: Any, version: str) -> None:
    assert raw_client(server).initialize(version)["result"]["protocolVersion"] == "2025-11-25"


def test_capabilities_follow_what_is_registered(server: Server, raw_client: Any) -> None:
    capabilities = raw_client(server).initialize()["result"]["capabilities"]
    assert capabilities == {
        "logging": {},
        "completions": {},
        "prompts": {"listChanged": True},
        "resources": {"subscribe": True, "listChanged": True},
        "tools": {"listChanged": True},
    }
    empty = raw_client(Server("empty"))
    assert empty.initialize()["result"]["capabilities"] == {"logging": {}}
    assert empty.request("tools/list")["error"]["code"] == -32601


def test_a_second_initialize_is_an_error(server: Server, raw_client: Any) -> None:
    client = raw_client(server)
    client.initialize()
    error = client.initialize()["error"]
    assert error["code"] == -32600 and "already" in error["message"]


def test_requests_before_initialize_are_refused_but_ping_is_answered(server: Server, raw_client: Any) -> None:
    client = raw_client(server)
    assert client.request("ping") == {"jsonrpc": "2.0", "id": 1, "result": {}}
    error = client.request("tools/list")["error"]
    assert error["code"] == -32600 and "initialize" in error["message"]


def test_invalid_initialize_params_are_refused(server: Server, raw_client: Any) -> None:
    assert raw_client(server).request("initialize", {"capabilities": {}})["error"]["code"] == -32602


# ----------------------------------------------------------------------------------- errors


def test_unknown_methods_and_bad_params_get_json_rpc_errors(server: Server, raw_client: Any) -> None:
    client = raw_client(server)
    client.initialize()
    assert client.request("no/such/method")["error"] == {"code": -32601, "message": "Method not found: no/such/method"}
    assert client.request("tools/call", {"name": "nope"})["error"] == {"code": -32602, "message": "Unknown tool: 'nope'"}
    assert client.request("tools/call", {"name": "add", "arguments": [1, 2]})["error"]["code"] == -32602
    assert client.request("tools/call", {"arguments": {}})["error"]["code"] == -32602
    assert client.request("prompts/get", {"name": "nope"})["error"]["code"] == -32602
    assert client.request("resources/read", {"uri": "test://nope"})["error"] == {
        "code": -32002,
        "message": "Resource not found: test://nope",
        "data": {"uri": "test://nope"},
    }
    assert client.request("resources/read", {"uri": "test://items/500"})["error"]["code"] == -32002
    assert client.request("resources/read", {"uri": "test://items/abc"})["error"]["code"] == -32602
    assert client.request("logging/setLevel", {"level": "loud"})["error"]["code"] == -32602
    assert client.request("server/discover", modern())["error"]["code"] == -32601  # not on a legacy connection


def test_tool_failures_are_error_results_not_protocol_errors(server: Server) -> None:
    with serve_in_process(server) as session:
        with pytest.raises(SchemaValidationError):  # syncmcp's client refuses to send it...
            session.call_tool("add", {"a": "one"})
        invalid = session.call_tool("add", {"a": "one"}, validate=False)  # ...so the server sees it only on request
        assert invalid.is_error
        assert (
            invalid.text
            == "Invalid arguments for tool 'add': at the top level: 'b' is a required property; at 'a': 'one' is not of type 'integer'"
        )
        refused = session.call_tool("refuse")
        assert refused.is_error and refused.text == "refused on purpose"
        with pytest.raises(RemoteError) as caught:
            session.call_tool("protocol_error")
        assert (caught.value.code, caught.value.data) == (-32000, {"why": "test"})
        with pytest.raises(RemoteError) as custom:
            session.request("test/echo", {"fail": True})
        assert custom.value.code == -32602 and "fail was given" in custom.value.message
        assert session.request("test/echo", {"value": 7})["echo"] == 7


# ----------------------------------------------------------------------------------- features


def test_tools_resources_prompts_and_completion_through_a_client_session(server: Server) -> None:
    with serve_in_process(server) as session:
        assert [tool.name for tool in session.list_tools()][:3] == ["add", "total", "gated"]
        assert session.call_tool("add", {"a": 2, "b": 40}).text == "42"
        total = session.call_tool("total", {"values": [1, 2, 3]})
        assert total.structured_content == {"value": 6, "label": "sum"}
        assert session.list_tools()[1].output_schema == {
            "type": "object",
            "properties": {"value": {"type": "integer"}, "label": {"type": "string"}},
            "required": ["value", "label"],
        }
        assert session.read_resource("test://static").text == "static text"
        assert session.read_resource("test://blob").contents[0].decode() == b"\x00\x01"
        assert session.read_resource("test://items/7").contents[0].text == '{"id": 7}'
        assert [r.uri for r in session.list_resources()] == ["test://static", "test://blob"]
        assert [t.uri_template for t in session.list_resource_templates()] == ["test://items/{item_id}"]
        prompt = session.list_prompts()[0]
        assert (prompt.name, [(a.name, a.required) for a in prompt.arguments]) == ("trip", [("city", True), ("days", False)])
        assert session.get_prompt("trip", {"city": "Oslo", "days": "2"}).text == "Plan 2 days in Oslo."
        assert session.complete({"type": "ref/prompt", "name": "trip"}, "city", "p").values == ["Paris", "Porto"]
        many = session.complete({"type": "ref/resource", "uri": "test://items/{item_id}"}, "item_id", "item")
        assert (len(many.values), many.total, many.has_more) == (100, 150, True)
        with pytest.raises(RemoteError) as caught:
            session.complete({"type": "ref/prompt", "name": "nope"}, "city", "")
        assert caught.value.code == -32602


def test_every_list_is_paginated_with_opaque_cursors(raw_client: Any) -> None:
    server = make_server(page_size=2)
    client = raw_client(server)
    client.initialize()
    names: List[str] = []
    cursor = None
    pages = 0
    while True:
        result = client.request("tools/list", {"cursor": cursor} if cursor else {})["result"]
        names += [tool["name"] for tool in result["tools"]]
        pages += 1
        cursor = result.get("nextCursor")
        if cursor is None:
            break
    assert names == [tool.name for tool in server.registry.tools()]
    assert pages == (len(names) + 1) // 2
    first = client.request("resources/list")["result"]
    assert len(first["resources"]) == 2 and "nextCursor" not in first  # exactly one page
    bad = client.request("tools/list", {"cursor": "not-a-cursor"})["error"]
    assert bad["code"] == -32602 and "Invalid cursor" in bad["message"]
    tools_cursor = client.request("tools/list")["result"]["nextCursor"]
    assert client.request("prompts/list", {"cursor": tools_cursor})["error"]["code"] == -32602
    with serve_in_process(server) as session:  # syncmcp's client follows every page
        assert [tool.name for tool in session.list_tools()] == names


def test_list_changed_is_sent_for_runtime_changes_after_initialized(server: Server, raw_client: Any) -> None:
    client = raw_client(server)
    client.initialize()
    client.request("tools/list")  # a request after the handshake proves `initialized` was sent
    server.add_tool(lambda: "new", name="newcomer")
    server.remove_prompt("trip")
    server.add_resource(lambda: "r", "test://new", name="new")
    client.request("ping")
    methods = [m["method"] for m in client.seen if "method" in m]
    assert methods == [
        "notifications/tools/list_changed",
        "notifications/prompts/list_changed",
        "notifications/resources/list_changed",
    ]


def test_no_list_changed_when_disabled_or_before_initialized(raw_client: Any) -> None:
    quiet = make_server(list_changed=False)
    client = raw_client(quiet)
    client.initialize()
    assert client.request("tools/list")["result"]  # declared without listChanged
    quiet.add_tool(lambda: "x", name="x")
    early_server = make_server()
    early = raw_client(early_server)
    early_server.add_tool(lambda: "y", name="y")
    early.request("ping")
    client.request("ping")
    assert [m for m in client.seen + early.seen if "method" in m] == []


def test_logging_follows_set_level(server: Server) -> None:
    received: List[tuple] = []
    all_arrived = threading.Event()

    def on_log(level: str, logger: str, data: Any) -> None:
        received.append((level, data))
        if len(received) == 11:  # 3 + 3 at the default level, 1 at error, 4 at debug
            all_arrived.set()

    with serve_in_process(server, on_log=on_log) as session:
        assert session.call_tool("log_all").structured_content is None
        assert session.call_tool("log_all").text == "[false, true, true, true]"  # default level: info
        session.set_logging_level("error")
        assert session.call_tool("log_all").text == "[false, false, false, true]"
        session.set_logging_level("debug")
        assert session.call_tool("log_all").text == "[true, true, true, true]"
        assert all_arrived.wait(5), received
    assert received[-4:] == [("debug", "at debug"), ("info", "at info"), ("warning", "at warning"), ("error", "at error")]
    assert received[6] == ("error", "at error")


def test_progress_is_sent_in_order_and_only_increasing(server: Server) -> None:
    seen: List[tuple] = []
    with serve_in_process(server) as session:
        result = session.call_tool("progress", {"steps": 3}, on_progress=lambda p, t, m: seen.append((p, t, m)))
        assert result.text == "[True, True, True, False]"
        assert session.call_tool("progress", {"steps": 2}).text == "[False, False, False]"  # no token: nothing sent
    assert seen == [(1, 3, "step 1"), (2, 3, "step 2"), (3, 3, "step 3")]


def test_resource_subscriptions_deliver_updates(server: Server) -> None:
    updated = threading.Event()
    uris: List[str] = []

    def on_updated(uri: str) -> None:
        uris.append(uri)
        updated.set()

    with serve_in_process(server) as session:
        session.subscribe_resource("test://items/3", on_updated)
        server.notify_resource_updated("test://items/4")  # not subscribed: not sent
        server.notify_resource_updated("test://items/3")
        assert updated.wait(5)
        session.unsubscribe_resource("test://items/3")
        with pytest.raises(RemoteError) as caught:
            session.subscribe_resource("test://missing")
        assert caught.value.code == -32002
    assert uris == ["test://items/3"]


# ----------------------------------------------------------------------------------- concurrency


def test_a_slow_tool_blocks_neither_ping_nor_other_calls(server: Server) -> None:
    gates: Dict[str, Gate] = server.gates  # type: ignore[attr-defined]
    with serve_in_process(server) as session:
        first = session.submit("tools/call", {"name": "gated", "arguments": {"name": "first"}})
        second = session.submit("tools/call", {"name": "gated", "arguments": {"name": "second"}})
        assert gates.setdefault("first", Gate()).entered.wait(5)
        assert gates.setdefault("second", Gate()).entered.wait(5)
        session.ping(timeout=5)
        assert session.call_tool("add", {"a": 1, "b": 1}, timeout=5).text == "2"
        gates["second"].release.set()  # released in reverse order: responses are routed by id
        assert second.result(5)["content"][0]["text"] == "released second"
        assert not first.done()
        gates["first"].release.set()
        assert first.result(5)["content"][0]["text"] == "released first"


def test_cancellation_reaches_the_handler_and_no_response_is_sent(server: Server, raw_client: Any) -> None:
    gates: Dict[str, Gate] = server.gates  # type: ignore[attr-defined]
    client = raw_client(server)
    client.initialize()
    client.send({"jsonrpc": "2.0", "id": 77, "method": "tools/call", "params": {"name": "gated", "arguments": {"name": "c"}}})
    gate = gates.setdefault("c", Gate())
    assert gate.entered.wait(5)
    client.notify("notifications/cancelled", {"requestId": 77, "reason": "user"})
    assert gate.saw_cancel.wait(5)
    client.notify("notifications/cancelled", {"requestId": 12345})  # unknown ids are ignored
    client.request("ping")
    later = client.request("tools/call", {"name": "add", "arguments": {"a": 1, "b": 2}})
    assert later["result"]["content"][0]["text"] == "3"
    assert [m for m in client.seen if m.get("id") == 77] == []


# ----------------------------------------------------------------------------------- asking the client


def test_elicitation_sampling_and_roots_round_trip_in_the_legacy_era(server: Server) -> None:
    asked: List[str] = []

    def elicit(ctx: Any, params: Dict[str, Any]) -> Dict[str, Any]:
        asked.append(params["message"])
        return {"action": "accept", "content": {"name": "Ada"}}

    def sample(ctx: Any, params: Dict[str, Any]) -> Dict[str, Any]:
        asked.append(params["messages"][0]["content"]["text"])
        return {"role": "assistant", "content": {"type": "text", "text": "hi!"}, "model": "m"}

    with serve_in_process(
        server, elicitation_handler=elicit, sampling_handler=sample, roots=[{"uri": "file:///work", "name": "w"}]
    ) as session:
        assert session.call_tool("ask").text == "Ada|hi!|file:///work"
    assert asked == ["Name?", "Say hi"]


def test_a_declined_elicitation_and_an_invalid_answer(server: Server) -> None:
    answers = iter([{"action": "decline"}, {"action": "accept", "content": {"n": "not a number"}}])
    with serve_in_process(server, elicitation_handler=lambda ctx, params: next(answers)) as session:
        assert session.call_tool("only_elicit").text == "decline None"
        invalid = session.call_tool("only_elicit")
        assert invalid.is_error and "does not match the requested schema" in invalid.text


def test_asking_a_client_that_lacks_the_capability_is_a_tool_error(server: Server) -> None:
    with serve_in_process(server) as session:
        result = session.call_tool("ask")
        assert result.is_error
        assert "elicitation" in result.text


# ----------------------------------------------------------------------------------- 2026-07-28


def test_server_discover_starts_the_modern_era(server: Server, raw_client: Any) -> None:
    client = raw_client(server)
    result = client.request("server/discover", modern())["result"]
    assert result["supportedVersions"] == ["2026-07-28"]
    assert result["capabilities"]["tools"] == {"listChanged": True}
    assert result["instructions"] == "Test instructions."
    assert (result["resultType"], result["ttlMs"], result["cacheScope"]) == ("complete", 0, "private")
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"] == {"name": "test-server", "version": "3.1"}
    listed = client.request("tools/list", modern())["result"]
    assert (listed["resultType"], listed["ttlMs"], listed["cacheScope"]) == ("complete", 0, "private")
    called = client.request("tools/call", modern({"name": "add", "arguments": {"a": 1, "b": 2}}))["result"]
    assert called["content"] == [{"type": "text", "text": "3"}] and called["resultType"] == "complete"
    locked = client.initialize()["error"]
    assert locked == {
        "code": -32022,
        "message": "Unsupported protocol version",
        "data": {"supported": ["2026-07-28"], "requested": "2025-11-25"},
    }


@pytest.mark.parametrize(
    ("params", "code", "message"),
    [
        ({}, -32602, "params._meta must be an object"),
        (
            {"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}},
            -32602,
            "missing the required envelope key\\(s\\): io.modelcontextprotocol/clientCapabilities",
        ),
        (
            {"_meta": {"io.modelcontextprotocol/clientCapabilities": {}}},
            -32602,
            "missing the required envelope key\\(s\\): io.modelcontextprotocol/protocolVersion",
        ),
        (modern(**{"io.modelcontextprotocol/protocolVersion": 7}), -32602, "must be a string"),
        (modern(**{"io.modelcontextprotocol/protocolVersion": "2099-01-01"}), -32022, "Unsupported protocol version"),
    ],
)
def test_the_envelope_is_checked_on_every_modern_request(
    server: Server, raw_client: Any, params: Dict[str, Any], code: int, message: str
) -> None:
    client = raw_client(server)
    error = client.request("server/discover", params)["error"]
    assert error["code"] == code
    assert __import__("re").search(message, error["message"])
    if code == -32022:
        assert error["data"] == {"supported": ["2026-07-28"], "requested": "2099-01-01"}
    assert client.initialize()["result"]["protocolVersion"] == "2025-11-25"  # a rejected probe does not lock the era


def test_modern_requests_without_discover_and_removed_methods(server: Server, raw_client: Any) -> None:
    client = raw_client(server)
    assert client.request("prompts/get", modern({"name": "trip", "arguments": {"city": "Rome"}}))["result"]["messages"]
    assert client.request("tools/list", {})["error"]["code"] == -32602  # the era is locked: the envelope is required
    for method in ("logging/setLevel", "resources/subscribe"):
        assert client.request(method, modern({"level": "info", "uri": "test://static"}))["error"]["code"] == -32601
    missing = client.request("resources/read", modern({"uri": "test://nope"}))["error"]
    assert missing["code"] == -32602  # 2026: resource not found is invalid params
    assert client.request("test/echo", modern({"value": 1}))["result"]["resultType"] == "complete"


def test_modern_logging_needs_the_per_request_level(server: Server, raw_client: Any) -> None:
    client = raw_client(server)
    quiet = client.request("tools/call", modern({"name": "log_all"}))["result"]
    assert quiet["content"][0]["text"] == "[false, false, false, false]"
    loud = client.request("tools/call", modern({"name": "log_all"}, **{"io.modelcontextprotocol/logLevel": "warning"}))["result"]
    assert loud["content"][0]["text"] == "[false, false, true, true]"
    assert [m["params"]["data"] for m in client.seen if m.get("method") == "notifications/message"] == ["at warning", "at error"]


def test_modern_questions_become_input_required_results_and_the_retry_completes(server: Server, raw_client: Any) -> None:
    client = raw_client(server)
    capabilities = {"elicitation": {}, "sampling": {}, "roots": {}}
    call = {"name": "ask", "arguments": {}}
    answers = {
        "elicitation/create": {"action": "accept", "content": {"name": "Grace"}},
        "sampling/createMessage": {"role": "assistant", "content": {"type": "text", "text": "yo"}, "model": "m"},
        "roots/list": {"roots": [{"uri": "file:///r"}]},
    }
    responses: Dict[str, Any] = {}
    state = None
    rounds = 0
    while True:
        params = {**call, **({"inputResponses": responses, "requestState": state} if state else {})}
        result = client.request("tools/call", modern(params, capabilities=capabilities))["result"]
        if result["resultType"] == "complete":
            break
        rounds += 1
        assert result["resultType"] == "input_required" and len(result["inputRequests"]) == 1
        ((key, request),) = result["inputRequests"].items()
        responses = {key: answers[request["method"]]}
        state = result["requestState"]
    assert rounds == 3
    assert result["content"][0]["text"] == "Grace|yo|file:///r"
    first = client.request("tools/call", modern(call, capabilities=capabilities))["result"]
    tampered = first["requestState"][:-3] + "AAA"
    bad = client.request(
        "tools/call", modern({**call, "requestState": tampered, "inputResponses": {}}, capabilities=capabilities)
    )
    assert bad["error"]["code"] == -32602 and "requestState" in bad["error"]["message"]
    other = client.request(
        "tools/call", modern({"name": "only_elicit", "requestState": first["requestState"]}, capabilities=capabilities)
    )
    assert other["error"]["code"] == -32602 and "another request" in other["error"]["message"]


def test_a_modern_question_without_the_capability_is_error_32021(server: Server, raw_client: Any) -> None:
    error = raw_client(server).request("tools/call", modern({"name": "ask"}))["error"]
    assert error["code"] == -32021
    assert error["data"] == {"requiredCapabilities": {"elicitation": {}}}


def test_listen_streams_acknowledge_then_deliver_opted_in_notifications(server: Server, raw_client: Any) -> None:
    client = raw_client(server)
    client.request("server/discover", modern())
    wanted = {"toolsListChanged": True, "promptsListChanged": False, "resourceSubscriptions": ["test://items/1", 5]}
    client.send(
        {"jsonrpc": "2.0", "id": "listen-1", "method": "subscriptions/listen", "params": modern({"notifications": wanted})}
    )
    ack = client.receive()
    assert ack["method"] == "notifications/subscriptions/acknowledged"
    assert ack["params"]["notifications"] == {"toolsListChanged": True, "resourceSubscriptions": ["test://items/1"]}
    assert ack["params"]["_meta"] == {"io.modelcontextprotocol/subscriptionId": "listen-1"}
    server.remove_prompt("trip")  # not opted in
    server.add_tool(lambda: "x", name="late")
    server.notify_resource_updated("test://items/2")  # not subscribed
    server.notify_resource_updated("test://items/1")
    tools, updated = client.receive(), client.receive()
    assert tools == {
        "jsonrpc": "2.0",
        "method": "notifications/tools/list_changed",
        "params": {"_meta": {"io.modelcontextprotocol/subscriptionId": "listen-1"}},
    }
    assert updated["params"] == {"uri": "test://items/1", "_meta": {"io.modelcontextprotocol/subscriptionId": "listen-1"}}
    client.notify("notifications/cancelled", {"requestId": "listen-1"})
    client.request("tools/list", modern())
    assert [m for m in client.seen if m.get("id") == "listen-1"] == []


def test_closing_the_server_ends_listen_streams_gracefully(server: Server, raw_client: Any) -> None:
    client = raw_client(server)
    client.send({"jsonrpc": "2.0", "id": 9, "method": "subscriptions/listen", "params": modern({"notifications": {}})})
    assert client.receive()["method"] == "notifications/subscriptions/acknowledged"
    closer = threading.Thread(target=client.connection.close)
    closer.start()
    final = client.receive()
    closer.join(10)
    assert final == {
        "jsonrpc": "2.0",
        "id": 9,
        "result": {
            "_meta": {
                "io.modelcontextprotocol/subscriptionId": 9,
                "io.modelcontextprotocol/serverInfo": {"name": "test-server", "version": "3.1"},
            },
            "resultType": "complete",
        },
    }


# ----------------------------------------------------------------------------------- the wire


def test_unparsable_input_is_answered_with_a_parse_error(server: Server, raw_client: Any) -> None:
    client = raw_client(server)
    client.send_line(b"{this is not json")
    error = client.receive()
    assert error["error"]["code"] == -32700 and "id" not in error
    client.send_line(b"42")
    assert client.receive()["error"]["code"] == -32600
    client.send_line(b"[]")
    assert client.receive()["error"]["code"] == -32600
    assert client.initialize()["result"]  # the connection survived


def test_a_batch_is_answered_with_one_array(server: Server, raw_client: Any) -> None:
    client = raw_client(server)
    client.initialize("2025-03-26")
    client.send(
        [
            {"jsonrpc": "2.0", "id": "a", "method": "tools/call", "params": {"name": "add", "arguments": {"a": 1, "b": 1}}},
            {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": 1, "progress": 1}},
            {"jsonrpc": "2.0", "id": "b", "method": "ping"},
            {"jsonrpc": "2.0", "id": "c", "method": "no/such"},
        ]
    )
    batch = client.receive()
    assert isinstance(batch, list)
    by_id = {item["id"]: item for item in batch}
    assert sorted(by_id) == ["a", "b", "c"]
    assert by_id["a"]["result"]["content"][0]["text"] == "2"
    assert by_id["b"]["result"] == {}
    assert by_id["c"]["error"]["code"] == -32601


def test_closing_the_connection_leaves_no_thread(server: Server) -> None:
    with serve_in_process(server) as session:
        assert session.call_tool("add", {"a": 1, "b": 2}).text == "3"
    # Worker threads exit just after close() releases them: a bounded wait, then the assertion.
    assert wait_until(lambda: not syncmcp_threads(), timeout=5), syncmcp_threads()
    assert server.connections == []


# ----------------------------------------------------------------------------------- both eras, syncmcp's own client


def test_syncmcp_client_finds_the_modern_era_and_everything_still_works(server: Server) -> None:
    """syncmcp's client against syncmcp's server: discovery picks 2026-07-28, and the same calls work."""
    answers = iter([{"action": "accept", "content": {"n": 5}}])
    logs: List[tuple] = []
    updated = threading.Event()
    with serve_in_process(
        server, era="auto", elicitation_handler=lambda ctx, params: next(answers), on_log=lambda *args: logs.append(args)
    ) as session:
        assert session.era == "modern"
        assert session.call_tool("add", {"a": 2, "b": 40}).text == "42"
        assert session.call_tool("only_elicit").text.startswith("accept")  # answered through InputRequiredResult
        session.set_logging_level("debug")  # rides on every later request
        assert session.call_tool("log_all").text == "[true, true, true, true]"
        session.subscribe_resource("test://items/3", lambda uri: updated.set())  # a subscriptions/listen stream
        server.notify_resource_updated("test://items/3")
        assert updated.wait(5)
    assert ("debug", "at debug") in [(level, data) for level, _source, data in logs]


def test_a_missing_client_capability_is_a_protocol_error_in_the_modern_era(server: Server) -> None:
    with serve_in_process(server, era="auto") as session:
        with pytest.raises(RemoteError) as caught:
            session.call_tool("ask")
    assert caught.value.code == -32021


def test_concurrent_subscriptions_in_the_modern_era_lose_nothing_and_repeat_nothing() -> None:
    """Thread A computes its stream ('a' only) first but installs it last: B's newer stream (a and
    b) must stay. Updates must not arrive twice while streams overlap."""
    server = Server("demo")

    @server.resource("demo://a", mime_type="text/plain")
    def resource_a() -> str:
        return "a"

    @server.resource("demo://b", mime_type="text/plain")
    def resource_b() -> str:
        return "b"

    got: List[str] = []
    both = threading.Event()

    def on_updated(uri: str) -> None:
        got.append(uri)
        if {"demo://a", "demo://b"} <= set(got):
            both.set()

    with serve_in_process(server, era="auto") as session:
        b_subscribed = threading.Event()
        real_submit = session.submit

        def submit(method: str, params: Any = None, **kwargs: Any) -> Any:
            subscriptions = (params or {}).get("notifications", {}).get("resourceSubscriptions")
            if method == "subscriptions/listen" and subscriptions == ["demo://a"]:
                assert b_subscribed.wait(10)  # A is overtaken between its snapshot and its swap
            return real_submit(method, params, **kwargs)

        session.submit = submit  # type: ignore[method-assign]
        thread_a = threading.Thread(target=session.subscribe_resource, args=("demo://a", on_updated))
        thread_a.start()
        assert wait_until(lambda: session._subscriptions.generation >= 1)  # A holds its generation
        session.subscribe_resource("demo://b", on_updated)
        b_subscribed.set()
        thread_a.join(10)
        server.notify_resource_updated("demo://a")
        server.notify_resource_updated("demo://b")
        assert both.wait(5), got
        # An ordered request returns only after every notification received before it was handled.
        session.request("resources/list", on_progress=lambda *args: None)
    assert sorted(got) == ["demo://a", "demo://b"]


def test_content_helper_return_annotations_make_content_blocks_not_structured_output() -> None:
    server = Server("content")

    @server.tool()
    def picture() -> Image:
        """A picture."""
        return Image(b"\x89PNG", "image/png")

    @server.tool()
    def sound() -> Audio:
        """A sound."""
        return Audio(b"RIFF", "audio/wav")

    @server.tool()
    def document() -> EmbeddedResource:
        """A document."""
        return EmbeddedResource("test://doc", text="hello", mime_type="text/plain")

    with serve_in_process(server) as session:
        tools = {tool.name: tool for tool in session.list_tools()}
        assert all(tool.output_schema is None for tool in tools.values())
        assert session.call_tool("picture").content[0].type == "image"
        assert session.call_tool("sound").content[0].type == "audio"
        block = session.call_tool("document").content[0]
        assert block.type == "resource" and block.resource.text == "hello"
