"""``Server.wsgi_app`` / ``Server.run_http``: MCP served over Streamable HTTP, both eras.

syncmcp's own HTTP client drives the server through every feature; raw ``http.client``
requests check what the spec says about bad input, security and sessions. The official SDK
client and the WSGI servers (gunicorn, waitress) are in their own files.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

import syncmcp
from syncmcp.server import Context, InvalidToken, Server, ToolError

from .conftest import wait_until

MODERN = "2026-07-28"
ENVELOPE = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
}


def make_server(**options: Any) -> Server:
    server = Server("http-test", "1.0", page_size=2, **options)
    seen: Dict[str, Any] = {"cancelled": threading.Event(), "claims": None}
    server.seen = seen  # type: ignore[attr-defined]

    @server.tool(structured_output=True)
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def count(n: int, ctx: Context) -> str:
        """Count to n with progress and logs."""
        for i in range(n):
            ctx.report_progress(i + 1, n, f"step {i + 1}")
            ctx.info(f"step {i + 1}")
        return f"counted to {n}"

    @server.tool()
    def wait(ctx: Context, seconds: float = 30.0) -> str:
        """Wait until cancelled."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ctx.report_progress(time.monotonic(), None)
            if ctx.cancelled.wait(0.02):
                seen["cancelled"].set()
                return "cancelled"
        return "waited"

    @server.tool()
    def ask_name(ctx: Context) -> str:
        """Elicit a name."""
        answer = ctx.elicit("Your name?", {"type": "object", "properties": {"name": {"type": "string"}}})
        return f"hello {answer.content['name']}" if answer.action == "accept" else answer.action

    @server.tool()
    def whoami(ctx: Context) -> str:
        """The token's subject."""
        seen["claims"] = ctx.auth
        return str((ctx.auth or {}).get("sub"))

    @server.tool()
    def fail() -> str:
        """Always fails."""
        raise ToolError("it broke")

    @server.resource("note://one", mime_type="text/plain")
    def note() -> str:
        """A note."""
        return "note one"

    @server.prompt()
    def greet(name: str) -> str:
        """Greet someone."""
        return f"Hello {name}"

    return server


@contextmanager
def serving(server: Optional[Server] = None, **options: Any) -> Iterator[Tuple[Server, str, int]]:
    """``server.run_http`` on a free port in a thread; ``(server, url, port)``."""
    server = server or make_server()
    ready = threading.Event()
    bound: List[int] = []
    stop = threading.Event()

    def on_ready(_host: str, port: int) -> None:
        bound.append(port)
        ready.set()

    thread = threading.Thread(
        target=server.run_http, kwargs={"port": 0, "handle_signals": False, "stop": stop, "on_ready": on_ready, **options}
    )
    thread.start()
    assert ready.wait(10), "the HTTP server did not start"
    try:
        yield server, f"http://127.0.0.1:{bound[0]}/mcp", bound[0]
    finally:
        stop.set()
        thread.join(15)
        assert not thread.is_alive(), "run_http did not return after stop"


def post(
    port: int, body: Any, *, headers: Optional[Dict[str, str]] = None, path: str = "/mcp", method: str = "POST", raw: Optional[bytes] = None
) -> Tuple[int, Dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        sent = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        sent.update(headers or {})
        connection.request(method, path, body=data, headers={k: v for k, v in sent.items() if v is not None})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def sse_messages(body: bytes) -> List[Dict[str, Any]]:
    return [json.loads(line[5:]) for line in body.decode().splitlines() if line.startswith("data:") and line[5:].strip()]


def initialize(port: int, version: str = "2025-06-18") -> str:
    status, headers, body = post(
        port,
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}},
    )
    assert status == 200, body
    assert json.loads(body)["result"]["protocolVersion"] == version
    session = headers["mcp-session-id"]
    status, _, _ = post(port, {"jsonrpc": "2.0", "method": "notifications/initialized"}, headers={"Mcp-Session-Id": session, "MCP-Protocol-Version": version})
    assert status == 202
    return session


def modern_call(port: int, request_id: Any, name: str, arguments: Dict[str, Any], **headers: str) -> Tuple[int, Dict[str, str], bytes]:
    body = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {"name": name, "arguments": arguments, "_meta": ENVELOPE}}
    sent = {"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call", "Mcp-Name": name}
    sent.update(headers)
    return post(port, body, headers=sent)


# ----------------------------------------------------------------------------- syncmcp's client, every feature


@pytest.mark.parametrize(("era", "stateless"), [("legacy", False), ("legacy", True), ("modern", False)])
def test_syncmcp_client_uses_every_feature(era: str, stateless: bool) -> None:
    answers: List[Any] = []
    with serving(stateless=stateless) as (_server, url, _port), syncmcp.connect(
        url, protocol_era=era, elicitation_handler=lambda ctx, params: {"action": "accept", "content": {"name": "Ann"}},
        on_log=lambda level, logger, data: answers.append(data),
    ) as session:  # fmt: skip
        assert session.protocol_version == (MODERN if era == "modern" else "2025-11-25")
        assert [tool.name for tool in session.list_tools()] == ["add", "count", "wait", "ask_name", "whoami", "fail"]
        assert session.call_tool("add", {"a": 2, "b": 40}).structured_content == {"result": 42}
        if not stateless:  # a stateless legacy server has no session to keep the level in
            session.set_logging_level("info")
        progress: List[float] = []
        result = session.call_tool("count", {"n": 3}, on_progress=lambda done, total, message: progress.append(done))
        assert result.text == "counted to 3"
        assert progress == [1, 2, 3]
        failed = session.call_tool("fail", {})
        assert failed.is_error and "it broke" in failed.text
        assert session.read_resource("note://one").text == "note one"
        assert session.get_prompt("greet", {"name": "Bo"}).messages[0].content.text == "Hello Bo"
        asked = session.call_tool("ask_name", {})
        if stateless:  # no stream can carry the client's answer back
            assert asked.is_error and "stateless" in asked.text
        else:
            assert asked.text == "hello Ann"
        with pytest.raises(syncmcp.RemoteError) as error:
            session.request("tools/call", {"name": "nope", "arguments": {}})
        assert "Unknown tool" in str(error.value)
    if not stateless:
        assert answers[:3] == ["step 1", "step 2", "step 3"]  # on the request's stream, before its answer


def test_list_changed_reaches_legacy_get_stream_and_modern_listen_stream() -> None:
    server = make_server()
    with serving(server) as (_server, url, _port):
        legacy_changes: List[str] = []
        modern_changes: List[str] = []
        with syncmcp.connect(url, protocol_era="legacy", on_list_changed=legacy_changes.append) as legacy, syncmcp.connect(
            url, protocol_era="modern", on_list_changed=modern_changes.append
        ) as modern:  # fmt: skip
            legacy.list_tools()
            modern.list_tools()
            assert wait_until(lambda: len(server.connections) == 1)  # the legacy session
            # Each client has opened its stream (GET, listen) when a change is seen through it.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not (legacy_changes and modern_changes):
                server.add_tool(lambda: "x", name=f"extra_{int(time.monotonic() * 1000)}")
                time.sleep(0.2)
            assert "tools" in legacy_changes and "tools" in modern_changes
            assert "extra_" in " ".join(tool.name for tool in modern.list_tools())


@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_a_call_cancelled_by_its_timeout_cancels_the_handler(era: str) -> None:
    server = make_server()
    with serving(server) as (_server, url, _port), syncmcp.connect(url, protocol_era=era) as session:
        with pytest.raises(syncmcp.RequestTimeout):
            session.call_tool("wait", {}, timeout=0.5)
        assert server.seen["cancelled"].wait(5), "the handler was not told its call was cancelled"  # type: ignore[attr-defined]
        assert session.call_tool("add", {"a": 1, "b": 1}).text == "2"


def test_a_modern_client_that_leaves_mid_stream_cancels_its_handler() -> None:
    server = make_server()
    with serving(server, keepalive_interval=0.2) as (_server, _url, port):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        body = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "wait", "arguments": {}, "_meta": {**ENVELOPE, "progressToken": 1}}}
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call", "Mcp-Name": "wait"}
        connection.request("POST", "/mcp", body=json.dumps(body), headers=headers)
        response = connection.getresponse()
        assert response.status == 200 and response.getheader("Content-Type") == "text/event-stream"
        assert b"notifications/progress" in response.fp.readline() + response.fp.readline() + response.fp.readline()
        connection.close()
        response.close()
        assert server.seen["cancelled"].wait(10), "closing the stream did not cancel the request"  # type: ignore[attr-defined]
        status, _, answer = modern_call(port, 8, "add", {"a": 1, "b": 2})
        assert status == 200 and json.loads(answer)["result"]["content"][0]["text"] == "3"


def test_request_timeout_cancels_and_answers_minus_32001() -> None:
    server = make_server()
    with serving(server, request_timeout=0.5) as (_server, _url, port):
        status, _, body = modern_call(port, 1, "wait", {"seconds": 30})
        assert status == 200
        message = json.loads(body) if body.startswith(b"{") else sse_messages(body)[-1]
        assert message["error"]["code"] == -32001 and "request_timeout" in message["error"]["message"]
        assert server.seen["cancelled"].wait(5)  # type: ignore[attr-defined]


def test_a_handler_that_answers_as_it_is_timed_out_does_not_replace_the_timeout_error() -> None:
    from syncmcp.server._answers import _Stream
    from syncmcp.server._sseout import Outbox

    outbox = Outbox("1", expected=1)
    late = {"jsonrpc": "2.0", "id": 1, "result": {"content": [], "isError": False}}
    # The cancelled handler answers at once, inside the cancellation itself.
    stream = _Stream(outbox, [1], lambda: outbox.put(late, final=True), None, 0.0, None)
    stream.time_out(lambda ids: [{"jsonrpc": "2.0", "id": i, "error": {"code": -32001, "message": "late"}} for i in ids])
    assert outbox.finished and [m["error"]["code"] for m in outbox.final_messages()] == [-32001]
    assert [message for _, message in outbox.read(0, 0.0)[0]] == outbox.final_messages()


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("stateless", [False, True])
def test_bad_requests_get_the_spec_status_and_a_clear_message(stateless: bool) -> None:
    with serving(stateless=stateless, max_body_size=1000) as (_server, _url, port):
        status, _, body = post(port, None, raw=b"{not json")
        assert status == 400 and json.loads(body)["error"]["code"] == -32700
        status, _, body = post(port, [{"jsonrpc": "2.0", "id": 1, "method": "ping"}])
        assert status == 400 and "2025-03-26 session" in json.loads(body)["error"]["message"]
        status, _, body = post(port, {"jsonrpc": "2.0", "id": 1})
        assert status == 400 and json.loads(body)["error"]["code"] == -32600
        status, _, body = post(port, {"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"x": "y" * 2000}})
        assert status == 413 and "max_body_size" in json.loads(body)["error"]["message"]
        status, _, body = post(port, {"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers={"Content-Type": "text/plain"})
        assert status == 415 and "application/json" in json.loads(body)["error"]["message"]
        status, _, body = post(port, {"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers={"Accept": "text/html"})
        assert status == 406 and "text/event-stream" in json.loads(body)["error"]["message"]
        status, headers, body = post(port, None, method="PUT")
        assert status == 405 and "POST" in headers["allow"]
        status, _, body = post(port, {"jsonrpc": "2.0", "id": 1, "method": "ping"}, path="/elsewhere")
        assert status == 404 and "/mcp" in json.loads(body)["error"]["message"]
        status, _, body = post(port, {"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers={"MCP-Protocol-Version": "1999-01-01"})
        assert status == 400 and "1999-01-01" in json.loads(body)["error"]["message"]
        # ... and the server keeps serving.
        status, _, body = modern_call(port, 2, "add", {"a": 2, "b": 2})
        assert status == 200 and json.loads(body)["result"]["content"][0]["text"] == "4"


@pytest.mark.parametrize("json_response", [True, False])
def test_json_when_nothing_streams_sse_otherwise(json_response: bool) -> None:
    with serving(json_response=json_response) as (_server, _url, port):
        status, headers, body = modern_call(port, 1, "add", {"a": 1, "b": 2})
        assert status == 200 and headers["content-type"] == ("application/json" if json_response else "text/event-stream")
        progress_meta = {**ENVELOPE, "progressToken": "t"}
        request = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "count", "arguments": {"n": 3}, "_meta": progress_meta}}
        headers_out = {"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call", "Mcp-Name": "count"}
        status, headers, body = post(port, request, headers=headers_out)
        assert status == 200 and headers["content-type"] == "text/event-stream"
        methods = [message.get("method") for message in sse_messages(body)]
        assert methods == ["notifications/progress"] * 3 + [None]
        # A client that takes JSON only gets the response alone, once it is there.
        status, headers, body = post(port, request, headers={**headers_out, "Accept": "application/json"})
        assert status == 200 and headers["content-type"] == "application/json"
        assert json.loads(body)["result"]["content"][0]["text"] == "counted to 3"


def test_modern_headers_must_agree_with_the_body() -> None:
    with serving() as (_server, _url, port):
        status, _, body = modern_call(port, 1, "add", {"a": 1, "b": 2}, **{"Mcp-Name": "fail"})
        error = json.loads(body)["error"]
        assert status == 400 and error["code"] == -32020 and "Mcp-Name" in error["message"]
        status, _, body = modern_call(port, 2, "add", {"a": 1, "b": 2}, **{"Mcp-Method": "tools/list"})
        assert status == 400 and json.loads(body)["error"]["code"] == -32020
        request = {"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": {"_meta": ENVELOPE}}
        status, _, body = post(port, request, headers={"MCP-Protocol-Version": MODERN})  # no Mcp-Method
        assert status == 400 and "Mcp-Method" in json.loads(body)["error"]["message"]
        wrong_version = {"jsonrpc": "2.0", "id": 4, "method": "server/discover", "params": {"_meta": {**ENVELOPE, "io.modelcontextprotocol/protocolVersion": "2030-01-01"}}}
        status, _, body = post(port, wrong_version, headers={"Mcp-Method": "server/discover"})
        assert status == 400 and json.loads(body)["error"]["code"] == -32022
        status, _, body = modern_call(port, 5, "add", {"a": 1, "b": 2})
        assert status == 200


def test_modern_get_and_delete_are_not_allowed() -> None:
    with serving() as (_server, _url, port):
        for method in ("GET", "DELETE"):
            status, headers, _ = post(port, None, method=method, headers={"MCP-Protocol-Version": MODERN})
            assert status == 405 and headers["allow"] == "POST"


# ----------------------------------------------------------------------------- sessions


def test_legacy_sessions_need_their_id_and_end_with_delete() -> None:
    with serving() as (server, _url, port):
        status, _, body = post(port, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        assert status == 400 and "Mcp-Session-Id" in json.loads(body)["error"]["message"]
        status, _, body = post(port, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, headers={"Mcp-Session-Id": "nope"})
        assert status == 404
        session = initialize(port)
        status, headers, body = post(port, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, headers={"Mcp-Session-Id": session})
        assert status == 200 and headers["content-type"] == "application/json"
        assert [tool["name"] for tool in json.loads(body)["result"]["tools"]] == ["add", "count"]  # page_size=2
        assert len(server.connections) == 1
        status, _, _ = post(port, None, method="DELETE", headers={"Mcp-Session-Id": session})
        assert status == 200
        assert wait_until(lambda: not server.connections)
        status, _, _ = post(port, {"jsonrpc": "2.0", "id": 3, "method": "tools/list"}, headers={"Mcp-Session-Id": session})
        assert status == 404
        status, _, _ = post(port, None, method="DELETE", headers={"Mcp-Session-Id": session})
        assert status == 404


def test_batches_are_taken_in_2025_03_26_sessions_only() -> None:
    with serving() as (_server, _url, port):
        old = initialize(port, "2025-03-26")
        batch = [
            {"jsonrpc": "2.0", "id": "a", "method": "tools/call", "params": {"name": "add", "arguments": {"a": 1, "b": 2}}},
            {"jsonrpc": "2.0", "method": "notifications/roots/list_changed"},
            {"jsonrpc": "2.0", "id": "b", "method": "ping"},
        ]
        status, headers, body = post(port, batch, headers={"Mcp-Session-Id": old})
        assert status == 200 and headers["content-type"] == "application/json"
        answers = {answer["id"]: answer for answer in json.loads(body)}
        assert answers["a"]["result"]["content"][0]["text"] == "3" and answers["b"]["result"] == {}
        status, _, body = post(port, batch, headers={"Mcp-Session-Id": old, "Accept": "text/event-stream"})
        assert status == 200 and {message["id"] for message in sse_messages(body)} == {"a", "b"}
        new = initialize(port, "2025-06-18")
        status, _, body = post(port, batch, headers={"Mcp-Session-Id": new})
        assert status == 400 and "2025-03-26 only" in json.loads(body)["error"]["message"]


def test_a_failed_initialize_leaves_no_session() -> None:
    with serving() as (server, _url, port):
        status, headers, body = post(port, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}})
        assert status == 200 and json.loads(body)["error"]["code"] == -32602
        assert "mcp-session-id" not in headers
        assert wait_until(lambda: not server.connections)


def open_get(port: int, session: str) -> Tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    connection.request("GET", "/mcp", headers={"Accept": "text/event-stream", "Mcp-Session-Id": session})
    response = connection.getresponse()  # at once: the head does not wait for a first event
    assert response.status == 200 and response.getheader("Content-Type") == "text/event-stream"
    return connection, response


INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}


def test_idle_sessions_expire() -> None:
    with serving(session_idle_timeout=0.3) as (server, _url, port):
        first = initialize(port)
        time.sleep(0.4)
        initialize(port)  # the sweep ends the idle one
        status, _, _ = post(port, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, headers={"Mcp-Session-Id": first})
        assert status == 404
        assert wait_until(lambda: len(server.connections) == 1)


def test_a_full_store_makes_room_by_ending_the_least_recently_used_idle_session() -> None:
    with serving(max_sessions=2) as (server, _url, port):
        first = initialize(port)
        second = initialize(port)
        streams = [open_get(port, first), open_get(port, second)]  # both busy: no room
        status, _, body = post(port, INITIALIZE)
        assert status == 503 and "too many sessions" in json.loads(body)["error"]["message"]
        for connection, response in streams:
            connection.close()
            response.close()
        assert wait_until(lambda: post(port, INITIALIZE)[0] == 200)  # one became idle and made room
        alive = [post(port, {"jsonrpc": "2.0", "id": 2, "method": "ping"}, headers={"Mcp-Session-Id": s})[0] for s in (first, second)]
        assert sorted(alive) == [200, 404]
        assert wait_until(lambda: len(server.connections) == 2)


def test_a_request_whose_session_ends_gets_an_answer_in_the_type_it_asked_for() -> None:
    server = make_server()
    with serving(server) as (_server, _url, port):
        session = initialize(port)
        answers: List[Any] = []
        call = {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "wait", "arguments": {"seconds": 20}}}
        caller = threading.Thread(target=lambda: answers.append(post(port, call, headers={"Mcp-Session-Id": session, "Accept": "application/json"})))
        caller.start()
        time.sleep(0.3)
        assert post(port, None, method="DELETE", headers={"Mcp-Session-Id": session})[0] == 200
        caller.join(10)
        status, headers, body = answers[0]
        assert status == 404 and headers["content-type"] == "application/json"
        assert json.loads(body)["error"]["message"] == "the request ended without an answer"
        assert server.seen["cancelled"].wait(5)  # type: ignore[attr-defined]


def test_a_batch_past_its_deadline_answers_each_request_once() -> None:
    with serving(request_timeout=0.5) as (_server, _url, port):
        session = initialize(port, "2025-03-26")
        batch = [
            {"jsonrpc": "2.0", "id": 20, "method": "tools/call", "params": {"name": "add", "arguments": {"a": 1, "b": 2}}},
            {"jsonrpc": "2.0", "id": 21, "method": "tools/call", "params": {"name": "wait", "arguments": {"seconds": 20}}},
        ]
        status, _, body = post(port, batch, headers={"Mcp-Session-Id": session, "Accept": "application/json"})
        assert status == 200
        answers = {answer["id"]: answer for answer in json.loads(body)}
        assert len(json.loads(body)) == 2
        assert answers[20]["result"]["content"][0]["text"] == "3" and answers[21]["error"]["code"] == -32001
        assert post(port, batch[:1], headers={"Mcp-Session-Id": session})[0] == 200  # the ids are free again


def test_a_broken_stream_resumes_with_last_event_id() -> None:
    server = make_server()
    with serving(server, keepalive_interval=0.2) as (_server, _url, port):
        session = initialize(port, "2025-11-25")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        body = {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "count", "arguments": {"n": 50}, "_meta": {"progressToken": "p"}}}
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream", "Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"}
        connection.request("POST", "/mcp", body=json.dumps(body), headers=headers)
        response = connection.getresponse()
        assert response.status == 200
        lines = [response.fp.readline().decode() for _ in range(8)]
        assert lines[0].startswith("id: ") and lines[1].startswith("retry: ")  # the priming event
        ids = [line[4:].strip() for line in lines if line.startswith("id: ")]
        last = ids[-1]
        connection.close()
        response.close()
        status, _, rest = post(port, None, method="GET", headers={"Accept": "text/event-stream", "Mcp-Session-Id": session, "Last-Event-ID": last})
        assert status == 200
        messages = sse_messages(rest)
        assert messages[-1]["id"] == 5 and messages[-1]["result"]["content"][0]["text"] == "counted to 50"
        progress = [m["params"]["progress"] for m in messages if m.get("method") == "notifications/progress"]
        assert progress == list(range(progress[0], 51)) and progress[0] > 1  # nothing lost, nothing repeated
        status, _, _ = post(port, None, method="GET", headers={"Accept": "text/event-stream", "Mcp-Session-Id": session, "Last-Event-ID": "zz:1"})
        assert status == 404


def test_a_new_get_stream_takes_over_the_session_s_old_one() -> None:
    server = make_server()
    with serving(server) as (_server, _url, port):
        session = initialize(port)
        old_connection, old = open_get(port, session)
        new_connection, new = open_get(port, session)
        assert old.read() == b": keep-alive\n\n"  # the old stream ends at once
        server.notify_resource_updated("note://one")  # not subscribed: nothing
        server.add_tool(lambda: "x", name="late")
        assert new.fp.readline() == b": keep-alive\n"
        seen = b""
        while b"notifications/tools/list_changed" not in seen:
            line = new.fp.readline()  # bounded by the connection's timeout
            assert line, f"the stream ended before the notification: {seen!r}"
            seen += line
        for connection, response in ((old_connection, old), (new_connection, new)):
            connection.close()
            response.close()
        assert post(port, None, method="GET", headers={"Accept": "application/json", "Mcp-Session-Id": session})[0] == 406


# ----------------------------------------------------------------------------- security


def test_dns_rebinding_is_refused_on_a_loopback_bind() -> None:
    with serving(allowed_origins=["https://app.example.com"]) as (_server, _url, port):
        request = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        status, _, body = post(port, request, headers={"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"})
        assert status == 403 and "Host" in json.loads(body)["error"]["message"]
        status, _, body = post(port, request, headers={"Origin": "https://evil.example"})
        assert status == 403 and "Origin" in json.loads(body)["error"]["message"]
        assert modern_call(port, 2, "add", {"a": 1, "b": 1}, Origin="https://app.example.com")[0] == 200
        assert modern_call(port, 3, "add", {"a": 1, "b": 1}, Origin=f"http://127.0.0.1:{port}")[0] == 200
        assert modern_call(port, 4, "add", {"a": 1, "b": 1}, Host=f"localhost:{port}")[0] == 200


def test_an_allowed_browser_origin_gets_cors_headers_and_its_preflight_answered() -> None:
    with serving(allowed_origins=["https://app.example.com"]) as (_server, _url, port):
        status, headers, _ = post(port, None, method="OPTIONS", headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"})
        assert status == 204 and headers["access-control-allow-origin"] == "https://app.example.com"
        assert "Mcp-Session-Id" in headers["access-control-allow-headers"] and "POST" in headers["access-control-allow-methods"]
        status, headers, _ = modern_call(port, 1, "add", {"a": 1, "b": 1}, Origin="https://app.example.com")
        assert status == 200 and headers["access-control-allow-origin"] == "https://app.example.com"
        assert "Mcp-Session-Id" in headers["access-control-expose-headers"]
        status, headers, _ = post(port, None, method="OPTIONS", headers={"Origin": "https://evil.example"})
        assert status == 403 and "access-control-allow-origin" not in headers
        status, headers, _ = modern_call(port, 2, "add", {"a": 1, "b": 1})
        assert status == 200 and "access-control-allow-origin" not in headers  # not a browser


def _verify(token: str) -> Optional[Dict[str, Any]]:
    if token == "expired":
        return {"sub": "ann", "scope": "mcp", "exp": time.time() - 10}
    if token == "revoked":
        raise InvalidToken("the token was revoked")
    return {"ann-token": {"sub": "ann", "scope": "mcp"}, "bob-token": {"sub": "bob", "scope": "mcp"}, "weak": {"sub": "cy", "scope": "read"}}.get(token)


def test_bearer_tokens_as_an_oauth_resource_server() -> None:
    server = make_server()
    options = {"verify_token": _verify, "authorization_servers": ["https://auth.example.com"], "required_scopes": ["mcp"]}
    with serving(server, **options) as (_server, url, port):
        status, headers, body = modern_call(port, 1, "add", {"a": 1, "b": 1})
        assert status == 401
        challenge = headers["www-authenticate"]
        assert challenge.startswith("Bearer ") and f'resource_metadata="http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp"' in challenge
        status, headers, body = post(port, None, method="GET", path="/.well-known/oauth-protected-resource/mcp")
        document = json.loads(body)
        assert status == 200 and document["resource"] == url and document["authorization_servers"] == ["https://auth.example.com"]
        assert document["scopes_supported"] == ["mcp"]
        for token, expected in (("bogus", "not valid"), ("expired", "expired"), ("revoked", "revoked")):
            status, headers, body = modern_call(port, 2, "add", {"a": 1, "b": 1}, Authorization=f"Bearer {token}")
            assert status == 401 and 'error="invalid_token"' in headers["www-authenticate"]
            assert expected in json.loads(body)["error"]["message"]
        status, headers, _ = modern_call(port, 3, "add", {"a": 1, "b": 1}, Authorization="Bearer weak")
        assert status == 403 and 'error="insufficient_scope"' in headers["www-authenticate"] and 'scope="mcp"' in headers["www-authenticate"]
        with syncmcp.connect_http(url, bearer_token="ann-token", protocol_era="legacy") as session:
            assert session.call_tool("whoami", {}).text == "ann"
            assert server.seen["claims"] == {"sub": "ann", "scope": "mcp"}  # type: ignore[attr-defined]
        # A session belongs to the subject that opened it.
        session_id = initialize_with_token(port, "ann-token")
        status, _, _ = post(port, {"jsonrpc": "2.0", "id": 9, "method": "tools/list"}, headers={"Mcp-Session-Id": session_id, "Authorization": "Bearer bob-token"})
        assert status == 404
        status, _, _ = post(port, {"jsonrpc": "2.0", "id": 9, "method": "tools/list"}, headers={"Mcp-Session-Id": session_id, "Authorization": "Bearer ann-token"})
        assert status == 200
        with syncmcp.connect_http(url, bearer_token="bob-token", protocol_era="modern") as session:
            assert session.call_tool("whoami", {}).text == "bob"


def test_a_failing_verifier_is_a_503_and_tokens_without_sub_are_told_apart() -> None:
    def verify(token: str) -> Optional[Dict[str, Any]]:
        if token == "explode":
            raise ConnectionError("the introspection endpoint is down")
        return {"scope": "mcp"} if token in ("anon-1", "anon-2") else None

    with serving(verify_token=verify) as (_server, _url, port):
        status, _, body = modern_call(port, 1, "add", {"a": 1, "b": 1}, Authorization="Bearer explode")
        assert status == 503 and "introspection endpoint is down" in json.loads(body)["error"]["message"]
        session_id = initialize_with_token(port, "anon-1")
        request = {"jsonrpc": "2.0", "id": 9, "method": "ping"}
        assert post(port, request, headers={"Mcp-Session-Id": session_id, "Authorization": "Bearer anon-2"})[0] == 404
        assert post(port, request, headers={"Mcp-Session-Id": session_id, "Authorization": "Bearer anon-1"})[0] == 200


def initialize_with_token(port: int, token: str) -> str:
    params = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
    status, headers, _ = post(port, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}, headers={"Authorization": f"Bearer {token}"})
    assert status == 200
    return headers["mcp-session-id"]


# ----------------------------------------------------------------------------- mounting and shutting down


def test_other_paths_go_to_the_fallback_application() -> None:
    def fallback(environ: Dict[str, Any], start_response: Callable[..., Any]) -> List[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"the web app: " + environ["PATH_INFO"].encode()]

    with serving(fallback=fallback) as (_server, url, port):
        status, _, body = post(port, None, method="GET", path="/hello")
        assert status == 200 and body == b"the web app: /hello"
        with syncmcp.connect(url) as session:
            assert session.call_tool("add", {"a": 3, "b": 4}).text == "7"


def test_stopping_the_server_ends_open_streams_and_sessions() -> None:
    server = make_server()
    results: List[Any] = []
    with serving(server, keepalive_interval=0.2) as (_server, url, _port):
        session = syncmcp.connect(url, protocol_era="legacy")
        session.list_tools()

        def call() -> None:
            try:
                results.append(session.call_tool("wait", {"seconds": 60}, timeout=30))
            except syncmcp.MCPError as exc:
                results.append(exc)

        caller = threading.Thread(target=call)
        caller.start()
        time.sleep(0.3)
    caller.join(20)
    assert not caller.is_alive() and results and not isinstance(results[0], syncmcp.CallToolResult)
    session.close()
    assert not server.connections


def raw_exchange(port: int, data: bytes, wait: float = 2.0) -> bytes:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(data)
        received = b""
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return received
                received += chunk
        except socket.timeout:
            return received


def test_the_embedded_server_takes_content_length_framing_only() -> None:
    with serving() as (_server, _url, port):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INITIALIZE["params"]}).encode()
        smuggled = b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        smuggled += b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
        smuggled += b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
        answer = raw_exchange(port, smuggled)
        assert answer.startswith(b"HTTP/1.1 411") and answer.count(b"HTTP/1.1 ") == 1  # one answer, then the end
        negative = b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -5\r\n\r\nGET /mcp HTTP/1.1\r\n\r\n"
        answer = raw_exchange(port, negative)
        assert answer.startswith(b"HTTP/1.1 400") and answer.count(b"HTTP/1.1 ") == 1


def test_expect_100_continue_is_answered_at_once() -> None:
    import socket

    with serving(stateless=True) as (_server, _url, port), socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"}).encode()
        head = b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
        sock.sendall(head + b"Content-Length: %d\r\n\r\n" % len(body))
        sock.settimeout(0.5)
        assert sock.recv(100).startswith(b"HTTP/1.1 100")
        sock.sendall(body)
        sock.settimeout(5)
        assert b"200 OK" in sock.recv(65536)


def test_the_disconnect_check_works_past_descriptor_1024() -> None:
    import resource
    import socket

    from syncmcp.server._answers import _disconnect_probe

    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft <= 1100:
        pytest.skip("the descriptor limit is too low to open descriptor 1100")
    left, right = socket.socketpair()
    high = socket.socket(fileno=os.dup2(left.fileno(), 1100))
    try:
        probe = _disconnect_probe({"syncmcp.socket": high})
        assert probe is not None and probe() is False  # select() would have failed here
        right.close()
        assert probe() is True
    finally:
        high.close()
        left.close()
