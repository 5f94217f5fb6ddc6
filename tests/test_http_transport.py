"""The Streamable HTTP transport through the public API (``connect_http``, ``ClientSession``).

The far end is the scripted server (``tests/servers/http_scripted.py``), which answers like a
real MCP server by default and is told per test to misbehave: error statuses, cut streams,
resets, slow or silent answers, forgotten sessions, the 2024-11-05 HTTP+SSE transport. What the
client sent is asserted from the server's records. TLS uses the committed test certificates
(``tests/certs``); proxies the in-process test proxy (``tests/servers/proxy.py``).
"""

from __future__ import annotations

import contextlib
import faulthandler
import json
import logging
import ssl
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

import syncmcp
from syncmcp import (
    AuthenticationRequired,
    ConnectionClosed,
    HTTPError,
    HttpTransport,
    MessageTooLarge,
    RemoteError,
    RequestTimeout,
    TransportError,
)

from .conftest import wait_until
from .servers.http_scripted import Exchange, RpcError, ScriptedHTTPServer, sse_event
from .servers.proxy import TestProxy

CERTS = Path(__file__).resolve().parent / "certs"
CA = str(CERTS / "ca.pem")
SERVER_CERT = (str(CERTS / "server.pem"), str(CERTS / "server.key"))
ACCEPT_BOTH = "application/json, text/event-stream"
MODERN = "2026-07-28"
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine's proxy settings must not route the tests' local traffic (tests set their own)."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@contextlib.contextmanager
def serving(*args: Any, **kwargs: Any) -> Iterator[ScriptedHTTPServer]:
    """A scripted server for the block; its scripts must not have raised."""
    with ScriptedHTTPServer(*args, **kwargs) as server:
        yield server
    assert not server.errors, "\n".join(server.errors)


@pytest.fixture
def legacy() -> Iterator[ScriptedHTTPServer]:
    """A 2025-11-25 server that refuses ``server/discover`` with a 400, as the TypeScript SDK does."""
    with serving("legacy") as server:
        yield server


@pytest.fixture
def modern() -> Iterator[ScriptedHTTPServer]:
    """A 2026-07-28 server: ``server/discover``, no session, no ``GET``."""
    with serving("modern") as server:
        yield server


def connect(server: ScriptedHTTPServer, **kwargs: Any) -> syncmcp.ClientSession:
    kwargs.setdefault("name", "scripted")
    kwargs.setdefault("timeout", 10)
    return syncmcp.connect_http(kwargs.pop("url", server.url), **kwargs)


def open_session(server: ScriptedHTTPServer, **transport_options: Any) -> syncmcp.ClientSession:
    """A session over an ``HttpTransport`` built by hand (for options ``connect_http`` does not take)."""
    transport = HttpTransport(server.url, name="scripted", **transport_options)
    session = syncmcp.ClientSession(transport, timeout=10)
    try:
        session.initialize(timeout=10)
    except BaseException:
        session.close()
        raise
    return session


def echo(session: syncmcp.ClientSession, text: str, **kwargs: Any) -> str:
    return session.call_tool("echo", {"text": text}, **kwargs).text


def text_result(text: str) -> Dict[str, Any]:
    return {"content": [{"type": "text", "text": text}]}


def when_text(text: str, misbehave: Any) -> Any:
    """A ``tools/call`` handler: ``misbehave(ex)`` for ``echo(text)``, the echo otherwise."""

    def handler(ex: Exchange) -> Any:
        if ex.params.get("arguments", {}).get("text") == text:
            return misbehave(ex)
        return text_result(ex.params["arguments"]["text"])

    return handler


def result_event(ex: Exchange, text: str, **kwargs: Any) -> bytes:
    return sse_event({"jsonrpc": "2.0", "id": ex.id, "result": text_result(text)}, **kwargs)


def log_event(text: str) -> bytes:
    return sse_event({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": text}})


def http_threads() -> List[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("syncmcp-http")]


# ============================================================================= legacy era


@pytest.mark.parametrize("sse", [False, True], ids=["json", "sse"])
def test_json_and_sse_responses_both_work(legacy: ScriptedHTTPServer, sse: bool) -> None:
    legacy.sse_responses = sse
    with connect(legacy) as session:
        assert session.era == "legacy"
        assert session.server_info.name == "scripted-http"
        assert [tool.name for tool in session.list_tools()] == ["echo"]
        assert echo(session, "hi") == "hi"
    expected = "text/event-stream" if sse else "application/json"
    answered = [r for r in legacy.posts() if r.rpc_id is not None and r.rpc_method != "server/discover"]
    assert [r.rpc_method for r in answered] == ["initialize", "tools/list", "tools/call"]
    assert {(r.status, r.content_type) for r in answered} == {(200, expected)}


@pytest.mark.parametrize("framing", ["chunked", "length", "close"])
def test_an_sse_response_carries_related_notifications_before_the_answer(legacy: ScriptedHTTPServer, framing: str) -> None:
    logs: List[Any] = []
    legacy.handlers["tools/call"] = lambda ex: ex.sse(
        [b": keep-alive\n\n", log_event("working"), result_event(ex, "done", id="7")], framing=framing
    )
    with connect(legacy, on_log=lambda level, name, data: logs.append((level, data))) as session:
        assert echo(session, "x") == "done"
        assert logs == [("info", "working")]  # delivered in order, before the call returned


def test_the_session_id_is_captured_and_echoed_on_every_later_request(legacy: ScriptedHTTPServer) -> None:
    with connect(legacy) as session:
        echo(session, "a")
        session.list_prompts()
        assert legacy.wait_for(lambda: legacy.of("GET"))
    requests = legacy.requests
    discover, initialize = requests[0], requests[1]
    assert (discover.rpc_method, initialize.rpc_method) == ("server/discover", "initialize")
    assert discover.headers.get("Mcp-Session-Id") is None
    assert initialize.headers.get("Mcp-Session-Id") is None
    later = requests[2:]
    assert {r.method for r in later} == {"POST", "GET", "DELETE"}
    assert all(r.headers.get("Mcp-Session-Id") == "session-1" for r in later), later


def test_the_protocol_version_is_sent_after_initialize(legacy: ScriptedHTTPServer) -> None:
    with connect(legacy) as session:
        echo(session, "a")
    initialize = legacy.posts("initialize")[0]
    assert initialize.headers.get("MCP-Protocol-Version") is None
    later = legacy.requests[initialize.number :]
    assert later and all(r.headers.get("MCP-Protocol-Version") == "2025-11-25" for r in later)


def test_posts_accept_json_and_event_streams_and_gets_accept_event_streams(legacy: ScriptedHTTPServer) -> None:
    with connect(legacy) as session:
        echo(session, "a")
        assert legacy.wait_for(lambda: legacy.of("GET"))
    for request in legacy.posts():
        assert request.headers["Accept"] == ACCEPT_BOTH
        assert request.headers["Content-Type"] == "application/json"
    assert legacy.of("GET")[0].headers["Accept"] == "text/event-stream"


def test_notifications_are_accepted_with_202(legacy: ScriptedHTTPServer) -> None:
    with connect(legacy, roots=["/tmp"]) as session:
        session.set_roots(["/srv"])  # notifications/roots/list_changed
        assert legacy.wait_for(lambda: legacy.posts("notifications/roots/list_changed"))
    for method in ("notifications/initialized", "notifications/roots/list_changed"):
        (request,) = legacy.posts(method)
        assert request.status == 202


def test_a_refused_notification_raises_an_http_error_for_the_sender(legacy: ScriptedHTTPServer) -> None:
    legacy.hook = lambda ex: ex.respond(400, b"nope") if ex.request.rpc_method == "notifications/roots/list_changed" else None
    with connect(legacy, roots=["/tmp"]) as session:
        with pytest.raises(HTTPError, match="notifications/roots/list_changed to MCP server 'scripted': HTTP 400: nope"):
            session.send_roots_list_changed()
        assert echo(session, "still fine") == "still fine"


def test_the_standalone_get_stream_carries_server_requests_and_notifications(legacy: ScriptedHTTPServer) -> None:
    logs: List[Any] = []
    logged = threading.Event()

    def on_log(level: str, name: Any, data: Any) -> None:
        logs.append(data)
        logged.set()

    with connect(legacy, roots=["/srv/project"], on_log=on_log) as session:
        legacy.push({"jsonrpc": "2.0", "id": "srv-1", "method": "roots/list"})
        answer = legacy.wait_answer("srv-1")
        assert answer["result"]["roots"][0]["uri"] == "file:///srv/project"
        legacy.push({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": "hello"}})
        assert logged.wait(5)
        assert logs == ["hello"]
        assert echo(session, "after") == "after"
    initialized = legacy.posts("notifications/initialized")[0]
    get = legacy.of("GET")[0]
    assert get.number > initialized.number  # opened only once the session was initialized
    (posted,) = [r for r in legacy.posts() if r.json.get("id") == "srv-1"]
    assert posted.status == 202
    assert posted.headers["Mcp-Session-Id"] == "session-1"


def test_an_elicitation_on_the_get_stream_is_answered_by_post(legacy: ScriptedHTTPServer) -> None:
    def handler(ctx: Any, params: Dict[str, Any]) -> Dict[str, Any]:
        return {"action": "accept", "content": {"name": "Ada"}}

    with connect(legacy, elicitation_handler=handler):
        legacy.push(
            {
                "jsonrpc": "2.0",
                "id": 9,
                "method": "elicitation/create",
                "params": {"message": "Who?", "requestedSchema": {"type": "object", "properties": {"name": {"type": "string"}}}},
            }
        )
        assert legacy.wait_answer(9)["result"] == {"action": "accept", "content": {"name": "Ada"}}


def test_a_405_for_the_get_stream_means_no_stream_and_no_retries() -> None:
    with serving("legacy", get_stream=405) as server:
        with connect(server) as session:
            assert server.wait_for(lambda: server.of("GET"))
            assert wait_until(lambda: not [n for n in http_threads() if n.startswith("syncmcp-http-get")])
            assert echo(session, "a") == "a"
        assert [r.status for r in server.of("GET")] == [405]


def test_a_failing_get_stream_is_retried_with_backoff_not_in_a_storm() -> None:
    with serving("legacy", get_stream=503) as server:
        with connect(server):
            assert server.wait_for(lambda: len(server.of("GET")) >= 2, timeout=3)
            time.sleep(0.3)  # a storm would add dozens of GETs here (the next retry is 2 s away)
            assert len(server.of("GET")) == 2
        gets = server.of("GET")
        assert gets[1].at - gets[0].at >= 0.9  # DEFAULT_RECONNECT_DELAY


@pytest.mark.parametrize("cut", ["end", "reset"])
def test_a_stream_closed_after_a_priming_event_is_resumed_by_get_after_the_retry_delay(
    legacy: ScriptedHTTPServer, cut: str
) -> None:
    ended: List[float] = []

    def call(ex: Exchange) -> None:
        stream = ex.stream()
        stream.write(sse_event("", id="call-1", retry=300))  # priming: id, retry, empty data
        stream.send({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": "w"}}, id="call-2")
        stream.end() if cut == "end" else ex.reset()
        ended.append(time.monotonic())

    def resume(ex: Exchange) -> None:
        if ex.request.method == "GET" and ex.request.headers.get("Last-Event-ID"):
            post = legacy.posts("tools/call")[0]
            ex.sse([sse_event({"jsonrpc": "2.0", "id": post.rpc_id, "result": text_result("resumed")}, id="call-3")])

    legacy.handlers["tools/call"] = call
    legacy.hook = resume
    with connect(legacy) as session:
        assert echo(session, "x") == "resumed"
    (resumed,) = [r for r in legacy.of("GET") if r.headers.get("Last-Event-ID")]
    assert resumed.headers["Last-Event-ID"] == "call-2"
    assert resumed.headers["Mcp-Session-Id"] == "session-1"
    assert resumed.headers["Accept"] == "text/event-stream"
    assert resumed.at - ended[0] >= 0.29


def test_a_stream_cut_without_an_event_id_fails_only_that_call(legacy: ScriptedHTTPServer) -> None:
    def cut(ex: Exchange) -> None:
        stream = ex.stream()
        stream.write(log_event("partial"))
        stream.end()

    legacy.handlers["tools/call"] = when_text("cut", cut)
    with connect(legacy) as session:
        assert echo(session, "before") == "before"
        with pytest.raises(
            HTTPError, match="tools/call to MCP server 'scripted' failed: the server closed the stream before answering"
        ) as cut_off:
            echo(session, "cut")
        assert cut_off.value.status is None and not isinstance(cut_off.value, ConnectionClosed)  # the call, not the connection
        assert echo(session, "after") == "after"
        assert not session.closed
    assert not [r for r in legacy.of("GET") if r.headers.get("Last-Event-ID")]


def test_a_non_json_event_with_an_id_fails_the_call_instead_of_resuming(legacy: ScriptedHTTPServer) -> None:
    legacy.handlers["tools/call"] = when_text(
        "bad", lambda ex: ex.sse([sse_event("", id="1", retry=10), sse_event("<not json>", id="2")])
    )
    with connect(legacy) as session:
        with pytest.raises(HTTPError, match="an SSE event that is not JSON: <not json>"):
            echo(session, "bad")
        assert echo(session, "after") == "after"
    assert not [r for r in legacy.of("GET") if r.headers.get("Last-Event-ID")]


def test_a_refused_resumption_fails_the_call_with_its_status(legacy: ScriptedHTTPServer) -> None:
    legacy.handlers["tools/call"] = lambda ex: ex.sse([sse_event("", id="p1", retry=10)])
    legacy.hook = lambda ex: ex.respond(404, b"no such stream") if ex.request.headers.get("Last-Event-ID") else None
    with connect(legacy) as session:
        with pytest.raises(
            HTTPError, match="resuming the stream of tools/call to MCP server 'scripted': HTTP 404: no such stream"
        ):
            echo(session, "x")


def test_a_request_accepted_with_202_is_answered_on_the_get_stream(legacy: ScriptedHTTPServer) -> None:
    def later(ex: Exchange) -> None:
        ex.respond(202)
        legacy.push({"jsonrpc": "2.0", "id": ex.id, "result": text_result("from the GET stream")})

    legacy.handlers["tools/call"] = later
    with connect(legacy) as session:
        assert echo(session, "x") == "from the GET stream"


def test_a_json_batch_carrying_the_answer_is_read(legacy: ScriptedHTTPServer) -> None:
    logs: List[Any] = []
    legacy.handlers["tools/call"] = lambda ex: ex.json(
        [
            {"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": "first"}},
            {"jsonrpc": "2.0", "id": ex.id, "result": text_result("batched")},
        ]
    )
    with connect(legacy, on_log=lambda level, name, data: logs.append(data)) as session:
        assert echo(session, "x") == "batched"
    assert logs == ["first"]


def test_a_server_request_on_the_calls_own_stream_is_answered_before_the_result(legacy: ScriptedHTTPServer) -> None:
    def call(ex: Exchange) -> None:
        stream = ex.stream()
        stream.send(
            {
                "jsonrpc": "2.0",
                "id": "ask-1",
                "method": "elicitation/create",
                "params": {"message": "Sure?", "requestedSchema": {"type": "object", "properties": {"ok": {"type": "boolean"}}}},
            }
        )
        answer = legacy.wait_answer("ask-1")
        stream.send({"jsonrpc": "2.0", "id": ex.id, "result": text_result(f"answered {answer['result']['action']}")})
        stream.end()

    legacy.handlers["tools/call"] = call
    with connect(legacy, elicitation_handler=lambda ctx, params: {"action": "accept", "content": {"ok": True}}) as session:
        assert echo(session, "x") == "answered accept"


def test_the_get_stream_reconnects_with_last_event_id_after_the_retry_delay(legacy: ScriptedHTTPServer) -> None:
    logs: List[Any] = []

    def get(ex: Exchange) -> None:
        if ex.request.method == "GET" and len(legacy.of("GET")) == 1:
            ex.sse([sse_event("", id="g-0", retry=200), log_event("one")[:-2] + b"\nid: g-1\n\n"])

    legacy.hook = get
    with connect(legacy, on_log=lambda level, name, data: logs.append(data)):
        assert legacy.wait_for(lambda: len(legacy.of("GET")) == 2)
    first, second = legacy.of("GET")
    assert first.headers.get("Last-Event-ID") is None
    assert second.headers["Last-Event-ID"] == "g-1"
    assert second.at - first.at >= 0.19
    assert logs == ["one"]


def test_close_does_not_wait_out_the_get_streams_reconnection_delay(legacy: ScriptedHTTPServer) -> None:
    legacy.hook = lambda ex: ex.sse([sse_event("", id="g-0", retry=30000)]) if ex.request.method == "GET" else None
    session = connect(legacy)
    try:
        assert legacy.wait_for(lambda: legacy.of("GET") and legacy.of("GET")[0].status == 200)
        time.sleep(0.1)  # the stream has ended: the client now waits 30 s before it reconnects
    finally:
        started = time.monotonic()
        session.close()
        assert time.monotonic() - started < 1.0
    assert len(legacy.of("GET")) == 1
    assert not http_threads()


def test_a_forgotten_session_is_replaced_once_and_the_call_succeeds(legacy: ScriptedHTTPServer) -> None:
    with connect(legacy) as session:
        assert echo(session, "before") == "before"
        legacy.forget_sessions()
        started = time.monotonic()
        assert echo(session, "after") == "after"
        assert time.monotonic() - started < 0.5  # the old GET stream's back-off is not waited for
        assert legacy.wait_for(lambda: any(r.headers.get("Mcp-Session-Id") == "session-2" for r in legacy.of("GET")))
    initializes = legacy.posts("initialize")
    assert len(initializes) == 2
    assert initializes[1].headers.get("Mcp-Session-Id") is None
    calls = legacy.posts("tools/call")
    assert [c.headers["Mcp-Session-Id"] for c in calls] == ["session-1", "session-1", "session-2"]
    assert [c.status for c in calls] == [200, 404, 200]
    assert [r.headers["Mcp-Session-Id"] for r in legacy.posts("notifications/initialized")] == ["session-1", "session-2"]
    assert legacy.of("DELETE")[0].headers["Mcp-Session-Id"] == "session-2"


def test_calls_made_while_a_new_session_is_being_started_wait_for_it(legacy: ScriptedHTTPServer) -> None:
    """The re-initialization is slow here: calls made meanwhile must not go out without a session id."""
    release = threading.Event()

    def initialize(ex: Exchange) -> Any:
        if len(legacy.posts("initialize")) > 1:
            assert release.wait(5)
        return legacy._initialize(ex)

    legacy.handlers["initialize"] = initialize
    with connect(legacy) as session:
        echo(session, "warm-up")
        legacy.forget_sessions()
        answers: Dict[int, str] = {}
        threads = [threading.Thread(target=lambda i=i: answers.__setitem__(i, echo(session, str(i)))) for i in range(8)]
        threads[0].start()
        assert legacy.wait_for(lambda: len(legacy.posts("initialize")) == 2)  # the first call started a new session
        for thread in threads[1:]:
            thread.start()
        assert legacy.wait_for(lambda: len(legacy.posts("tools/call")) == 1 + 8)
        release.set()
        for thread in threads:
            thread.join(10)
        assert answers == {i: str(i) for i in range(8)}
    assert len(legacy.posts("initialize")) == 2
    calls = legacy.posts("tools/call")[1:]
    assert all(r.headers.get("Mcp-Session-Id") == "session-1" for r in calls[:8])  # never without a session id
    assert {r.headers["Mcp-Session-Id"] for r in calls[8:]} == {"session-2"}
    assert len(calls) == 16


def test_a_second_404_fails_the_call(legacy: ScriptedHTTPServer) -> None:
    legacy.handlers["tools/call"] = when_text("gone", lambda ex: ex.respond(404, b"Not Found"))
    with connect(legacy) as session:
        with pytest.raises(HTTPError, match="HTTP 404: Not Found") as info:
            echo(session, "gone")
        assert info.value.status == 404
        assert echo(session, "fine") == "fine"
    assert len(legacy.posts("initialize")) == 2
    assert [c.status for c in legacy.posts("tools/call")] == [404, 404, 200]


def test_close_deletes_the_session(legacy: ScriptedHTTPServer) -> None:
    session = connect(legacy)
    echo(session, "a")
    session.close()
    (delete,) = legacy.of("DELETE")
    assert delete.headers["Mcp-Session-Id"] == "session-1"
    assert delete.headers["MCP-Protocol-Version"] == "2025-11-25"
    assert legacy.live_sessions == set()


def test_a_405_to_delete_is_tolerated() -> None:
    with serving("legacy") as server:
        server.hook = lambda ex: ex.respond(405) if ex.request.method == "DELETE" else None
        session = connect(server)
        session.close()
        assert [r.status for r in server.of("DELETE")] == [405]


def failing_first(server: ScriptedHTTPServer, method: str, statuses: List[int], retry_after: str = "0") -> None:
    """Answer the first ``len(statuses)`` POSTs of ``method`` with those statuses."""
    remaining = list(statuses)

    def hook(ex: Exchange) -> None:
        if ex.request.rpc_method == method and remaining:
            ex.respond(remaining.pop(0), b"busy", headers=[("Retry-After", retry_after)])

    server.hook = hook


@pytest.mark.parametrize("status", [408, 429, 502, 503, 504])
def test_initialize_is_retried_after_a_transient_status(legacy: ScriptedHTTPServer, status: int) -> None:
    failing_first(legacy, "initialize", [status, status])
    with connect(legacy) as session:
        assert echo(session, "a") == "a"
    assert [r.status for r in legacy.posts("initialize")] == [status, status, 200]


@pytest.mark.parametrize("status", [408, 429, 502, 503, 504])
def test_tools_list_is_retried_after_a_transient_status(legacy: ScriptedHTTPServer, status: int) -> None:
    with connect(legacy) as session:
        failing_first(legacy, "tools/list", [status])
        assert [t.name for t in session.list_tools()] == ["echo"]
    assert [r.status for r in legacy.posts("tools/list")] == [status, 200]


def test_retries_are_bounded(legacy: ScriptedHTTPServer) -> None:
    with connect(legacy) as session:
        failing_first(legacy, "tools/list", [503] * 10)
        with pytest.raises(HTTPError, match="tools/list to MCP server 'scripted': HTTP 503") as info:
            session.list_tools()
        assert info.value.status == 503
    assert len(legacy.posts("tools/list")) == 3  # the first attempt and two retries


def test_retry_after_is_honoured(legacy: ScriptedHTTPServer) -> None:
    with connect(legacy) as session:
        failing_first(legacy, "tools/list", [503], retry_after="1")
        session.list_tools()
    first, second = legacy.posts("tools/list")
    assert 1.0 <= second.at - first.at < 3.0


def test_without_retry_after_the_first_retry_waits_a_quarter_second(legacy: ScriptedHTTPServer) -> None:
    with connect(legacy) as session:
        failing_first(legacy, "tools/list", [502], retry_after="")
        session.list_tools()
    first, second = legacy.posts("tools/list")
    assert 0.24 <= second.at - first.at < 1.5


def test_a_tool_call_is_never_retried(legacy: ScriptedHTTPServer) -> None:
    with connect(legacy) as session:
        failing_first(legacy, "tools/call", [503])
        with pytest.raises(HTTPError, match="HTTP 503: busy") as info:
            echo(session, "once")
        assert info.value.status == 503
        assert echo(session, "twice") == "twice"
    assert [json.loads(r.body)["params"]["arguments"]["text"] for r in legacy.posts("tools/call")] == ["once", "twice"]


@pytest.mark.parametrize("status", [400, 500])
def test_an_error_status_with_a_json_rpc_error_is_a_remote_error(legacy: ScriptedHTTPServer, status: int) -> None:
    def refuse(ex: Exchange) -> None:
        raise RpcError(-32602, "Invalid arguments: text is too long", data={"max": 3}, status=status)

    legacy.handlers["tools/call"] = refuse
    with connect(legacy) as session:
        with pytest.raises(RemoteError) as info:
            echo(session, "long")
    assert (info.value.code, info.value.message, info.value.data) == (-32602, "Invalid arguments: text is too long", {"max": 3})
    assert info.value.method == "tools/call"


def test_a_json_rpc_error_without_an_id_is_attributed_to_the_request(legacy: ScriptedHTTPServer) -> None:
    legacy.handlers["tools/call"] = lambda ex: ex.json(
        {"jsonrpc": "2.0", "id": None, "error": {"code": -32603, "message": "Internal error"}}, status=500
    )
    with connect(legacy) as session:
        with pytest.raises(RemoteError, match="Internal error") as info:
            echo(session, "x")
    assert info.value.code == -32603


def test_an_error_status_with_an_html_body_is_an_http_error_quoting_an_excerpt(legacy: ScriptedHTTPServer) -> None:
    page = b"<html><body><h1>502 Bad Gateway</h1>" + b"<p>filler</p>" * 2000 + b"</body></html>"
    legacy.handlers["tools/call"] = lambda ex: ex.respond(502, page, content_type="text/html")
    with connect(legacy) as session:
        with pytest.raises(HTTPError) as info:
            echo(session, "x")
    error = info.value
    assert error.status == 502
    assert "tools/call to MCP server 'scripted': HTTP 502: <html><body><h1>502 Bad Gateway</h1>" in str(error)
    assert len(str(error)) < 500
    assert error.body.startswith("<html>")


def test_401_without_credentials_is_authentication_required() -> None:
    with serving("legacy") as server:
        server.hook = lambda ex: ex.respond(
            401,
            b'{"error": "invalid_token"}',
            content_type="application/json",
            headers=[("WWW-Authenticate", 'Bearer resource_metadata="x"')],
        )
        with pytest.raises(AuthenticationRequired, match="requires authentication") as info:
            connect(server)
        assert info.value.status == 401
        assert not server.posts("initialize")  # the first refusal is final: no fall-back, no handshake


def test_401_in_the_middle_of_a_session_fails_that_call_with_authentication_required(legacy: ScriptedHTTPServer) -> None:
    legacy.handlers["tools/call"] = when_text("secret", lambda ex: ex.respond(401, b"login first"))
    with connect(legacy, bearer_token="expired") as session:
        with pytest.raises(AuthenticationRequired, match="refused the credentials"):
            echo(session, "secret")
        assert echo(session, "public") == "public"


def oversized(ex: Exchange) -> None:
    ex.json({"jsonrpc": "2.0", "id": ex.id, "result": text_result("z" * 10_000)})


def oversized_event(ex: Exchange) -> None:
    ex.sse([result_event(ex, "z" * 10_000)])


def reset_mid_stream(ex: Exchange) -> None:
    stream = ex.stream()
    stream.write(log_event("started"))
    ex.reset()


MISBEHAVIOURS = {
    "a body that is not JSON": (
        lambda ex: ex.respond(200, b"{not json", content_type="application/json"),
        HTTPError,
        "a body that is not JSON: {not json",
    ),
    "a JSON body without the answer": (
        lambda ex: ex.json({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": "x"}}),
        HTTPError,
        "a JSON body without the response",
    ),
    "an SSE event that is not JSON": (
        lambda ex: ex.sse([sse_event("not json")]),
        HTTPError,
        "an SSE event that is not JSON: not json",
    ),
    "a wrong content type": (
        lambda ex: ex.respond(200, b"<p>hello</p>", content_type="text/html"),
        HTTPError,
        "content type 'text/html': <p>hello</p>",
    ),
    "no content type": (lambda ex: ex.respond(200, b"hello", content_type=None), HTTPError, "content type 'none'"),
    "a body past max_message_size": (oversized, MessageTooLarge, "tools/call to MCP server 'scripted': .*4096-byte limit"),
    "an SSE event past max_message_size": (oversized_event, MessageTooLarge, "4096-byte message limit"),
    "a connection reset mid-stream": (reset_mid_stream, HTTPError, "tools/call to MCP server 'scripted' failed: .*broke"),
    "a reset before any answer": (lambda ex: ex.reset(), HTTPError, "tools/call to MCP server 'scripted'"),
    "a 500": (lambda ex: ex.respond(500, b"Internal Server Error"), HTTPError, "HTTP 500: Internal Server Error"),
}


@pytest.mark.parametrize("case", list(MISBEHAVIOURS))
def test_a_broken_answer_fails_only_the_affected_call(legacy: ScriptedHTTPServer, case: str) -> None:
    misbehave, error, message = MISBEHAVIOURS[case]
    legacy.handlers["tools/call"] = when_text("bad", misbehave)
    with open_session(legacy, max_message_size=4096) as session:
        assert echo(session, "before") == "before"
        with pytest.raises(error, match=message) as info:
            echo(session, "bad", timeout=5)
        assert isinstance(info.value, TransportError)
        assert echo(session, "after") == "after"
        assert not session.closed


SLOW = {
    "drips its body": lambda ex: (
        ex.head(200, [("Content-Type", "text/event-stream"), ("Connection", "close")]),
        ex.drip(result_event(ex, "slow"), interval=1.0),
    ),
    "drips its headers": lambda ex: ex.drip(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n", interval=1.0),
    "never answers": lambda ex: ex.hang(30),
}


@pytest.mark.parametrize("case", list(SLOW))
def test_a_slow_or_silent_server_cannot_stretch_the_timeout_and_the_call_is_cancelled(
    legacy: ScriptedHTTPServer, case: str
) -> None:
    legacy.handlers["tools/call"] = when_text("slow", SLOW[case])
    session = connect(legacy)
    try:
        assert echo(session, "before") == "before"
        started = time.monotonic()
        with pytest.raises(RequestTimeout):
            echo(session, "slow", timeout=0.5)
        assert 0.5 <= time.monotonic() - started < 1.0
        call = next(r for r in legacy.posts("tools/call") if r.json["params"]["arguments"]["text"] == "slow")
        assert legacy.wait_for(lambda: legacy.posts("notifications/cancelled"))
        (cancelled,) = legacy.posts("notifications/cancelled")
        assert cancelled.json["params"]["requestId"] == call.rpc_id
        assert cancelled.headers["Mcp-Session-Id"] == "session-1"
        assert legacy.wait_for(lambda: legacy.hung_up == 1, timeout=2)  # cancelling closed the call's connection
        assert echo(session, "after") == "after"
    finally:
        started = time.monotonic()
        session.close()
        assert time.monotonic() - started < 1.0
    assert not http_threads()


def test_a_server_that_accepts_nothing_cannot_stretch_the_timeout_either(legacy: ScriptedHTTPServer) -> None:
    """The courtesy ``notifications/cancelled`` is posted in the background, and abandoned at close."""
    legacy.handlers["tools/call"] = when_text("slow", lambda ex: ex.hang(30))
    legacy.hook = lambda ex: ex.hang(30) if ex.request.rpc_method == "notifications/cancelled" else None
    session = connect(legacy)
    try:
        started = time.monotonic()
        with pytest.raises(RequestTimeout):
            echo(session, "slow", timeout=0.3)
        assert time.monotonic() - started < 0.8
        assert legacy.wait_for(lambda: legacy.posts("notifications/cancelled"))
    finally:
        started = time.monotonic()
        session.close()
        assert time.monotonic() - started < 1.0
    assert legacy.wait_for(lambda: legacy.hung_up == 2)  # the call and the cancellation: both connections closed
    assert not http_threads()


def test_close_is_prompt_with_a_call_in_flight_and_an_open_get_stream(legacy: ScriptedHTTPServer) -> None:
    parked = threading.Event()

    def park(ex: Exchange) -> None:
        parked.set()
        ex.hang(30)

    legacy.handlers["tools/call"] = when_text("park", park)
    session = connect(legacy)
    errors: List[BaseException] = []

    def call() -> None:
        try:
            echo(session, "park", timeout=30)
        except BaseException as exc:
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    try:
        assert parked.wait(5)
        assert legacy.wait_for(lambda: legacy.open_streams == 1)
        started = time.monotonic()
        session.close()
        assert time.monotonic() - started < 1.0
    finally:
        caller.join(5)
    assert len(errors) == 1 and isinstance(errors[0], ConnectionClosed)
    assert legacy.wait_for(lambda: legacy.hung_up == 1 and legacy.open_streams == 0), (legacy.hung_up, legacy.open_streams)
    assert not http_threads()


def test_close_is_prompt_while_the_get_stream_waits_for_its_response_head(legacy: ScriptedHTTPServer) -> None:
    """Some servers send no headers until they have an event: the GET must still be stoppable."""
    legacy.hook = lambda ex: ex.hang(30) if ex.request.method == "GET" else None
    session = connect(legacy)
    try:
        assert echo(session, "a") == "a"
        assert legacy.wait_for(lambda: legacy.of("GET"))
    finally:
        started = time.monotonic()
        session.close()
        assert time.monotonic() - started < 1.0
    assert legacy.wait_for(lambda: legacy.hung_up == 1)
    assert not http_threads()


@pytest.mark.timeout(60)
def test_sixteen_threads_share_one_session_without_mixing_answers_or_deadlocking(legacy: ScriptedHTTPServer) -> None:
    faulthandler.dump_traceback_later(45, exit=False, file=sys.stderr)  # the watchdog: stacks if it ever hangs
    wrong: List[Any] = []
    done = [0] * 16
    try:
        with connect(legacy) as session:
            session.list_tools()

            def work(index: int) -> None:
                for n in range(100):
                    text = f"{index}-{n}"
                    answer = echo(session, text, timeout=20)
                    if answer != text:
                        wrong.append((text, answer))
                    done[index] += 1

            threads = [threading.Thread(target=work, args=(i,), name=f"caller-{i}") for i in range(16)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(40)
            assert not [t.name for t in threads if t.is_alive()]
    finally:
        faulthandler.cancel_dump_traceback_later()
    assert wrong == []
    assert done == [100] * 16
    calls = legacy.posts("tools/call")
    assert len(calls) == 1600
    assert len({r.client_port for r in calls}) > 1


# ============================================================================= modern era


def tool(name: str, **properties: Any) -> Dict[str, Any]:
    return {"name": name, "inputSchema": {"type": "object", "properties": properties}}


def test_every_modern_post_mirrors_the_version_and_method_in_headers(modern: ScriptedHTTPServer) -> None:
    with connect(modern) as session:
        assert session.era == "modern"
        echo(session, "a")
        session.read_resource("file:///notes/a.txt")
        session.get_prompt("greeting")
        session.list_prompts()
    for request in modern.posts():
        meta = request.json["params"]["_meta"]
        assert request.headers["MCP-Protocol-Version"] == meta["io.modelcontextprotocol/protocolVersion"] == MODERN
        assert request.headers["Mcp-Method"] == request.rpc_method
        assert request.headers["Accept"] == ACCEPT_BOTH
    names = {r.rpc_method: r.headers.get("Mcp-Name") for r in modern.posts()}
    assert names == {
        "server/discover": None,
        "tools/list": None,
        "tools/call": "echo",
        "resources/read": "file:///notes/a.txt",
        "prompts/get": "greeting",
        "prompts/list": None,
    }


def test_a_non_ascii_tool_name_is_sent_base64_encoded(modern: ScriptedHTTPServer) -> None:
    modern.tools = [tool("météo")]
    with connect(modern) as session:
        session.call_tool("météo", {})
    assert modern.posts("tools/call")[0].headers["Mcp-Name"] == "=?base64?bcOpdMOpbw==?="


def test_annotated_parameters_are_mirrored_in_mcp_param_headers(modern: ScriptedHTTPServer) -> None:
    modern.tools = [
        tool(
            "query",
            region={"type": "string", "x-mcp-header": "Region"},
            options={
                "type": "object",
                "properties": {
                    "verbose": {"type": "boolean", "x-mcp-header": "Verbose"},
                    "limit": {"type": "integer", "x-mcp-header": "Limit"},
                },
            },
            tag={"type": ["string", "null"]},
            sql={"type": "string"},
        )
    ]
    with connect(modern) as session:
        session.call_tool("query", {"region": "Zürich", "options": {"verbose": True, "limit": 5}, "sql": "select 1"})
        session.call_tool("query", {"sql": "select 2", "options": {"limit": None}}, validate=False)
    first, second = modern.posts("tools/call")
    assert first.headers["Mcp-Param-Region"] == "=?base64?WsO8cmljaA==?="
    assert first.headers["Mcp-Param-Verbose"] == "true"
    assert first.headers["Mcp-Param-Limit"] == "5"
    assert not [name for name in second.header_names() if name.startswith("mcp-param-")]


def test_a_tool_with_an_invalid_annotation_is_left_out_with_a_warning(
    modern: ScriptedHTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    modern.tools = [
        tool("good", region={"type": "string", "x-mcp-header": "Region"}),
        tool("bad", ratio={"type": "number", "x-mcp-header": "Ratio"}),
        tool("dupe", a={"type": "string", "x-mcp-header": "X"}, b={"type": "string", "x-mcp-header": "x"}),
    ]
    with caplog.at_level(logging.WARNING, logger="syncmcp.http"), connect(modern) as session:
        assert [t.name for t in session.list_tools()] == ["good"]
    warnings = [r.getMessage() for r in caplog.records if r.name == "syncmcp.http"]
    assert any("tool 'bad' left out" in w and "Ratio" in w for w in warnings)
    assert any("tool 'dupe' left out" in w for w in warnings)


def test_a_header_mismatch_re_lists_the_tools_and_retries_once_with_the_right_headers(modern: ScriptedHTTPServer) -> None:
    modern.tools = [tool("geo", region={"type": "string"})]

    def call(ex: Exchange) -> Any:
        if ex.request.headers.get("Mcp-Param-Region") != ex.params["arguments"]["region"]:
            raise RpcError(-32020, "Header mismatch: Mcp-Param-Region", status=400)
        return text_result("ok")

    modern.handlers["tools/call"] = call
    with connect(modern) as session:
        session.list_tools()
        modern.tools = [tool("geo", region={"type": "string", "x-mcp-header": "Region"})]  # the server was updated
        assert session.call_tool("geo", {"region": "eu"}).text == "ok"
    first, second = modern.posts("tools/call")
    assert (first.status, second.status) == (400, 200)
    assert second.headers["Mcp-Param-Region"] == "eu"
    relist = [r for r in modern.posts("tools/list") if first.number < r.number < second.number]
    assert len(relist) == 1
    assert relist[0].headers["MCP-Protocol-Version"] == MODERN


def test_a_persistent_header_mismatch_fails_after_one_retry(modern: ScriptedHTTPServer) -> None:
    def call(ex: Exchange) -> Any:
        raise RpcError(-32020, "Header mismatch", status=400)

    modern.handlers["tools/call"] = call
    with connect(modern) as session:
        with pytest.raises(RemoteError) as info:
            echo(session, "x")
    assert info.value.code == -32020
    assert len(modern.posts("tools/call")) == 2


def test_the_modern_era_has_no_session_no_get_stream_and_no_delete(modern: ScriptedHTTPServer) -> None:
    with connect(modern) as session:
        echo(session, "a")
        echo(session, "b")
    assert {r.method for r in modern.requests} == {"POST"}
    assert not [r for r in modern.requests if r.headers.get("Mcp-Session-Id")]
    assert not http_threads()


def test_a_cut_modern_stream_is_not_resumed(modern: ScriptedHTTPServer) -> None:
    modern.handlers["tools/call"] = when_text("cut", lambda ex: ex.sse([sse_event("", id="m-1", retry=10), log_event("x")]))
    with connect(modern) as session:
        with pytest.raises(HTTPError, match="closed the stream before answering"):
            echo(session, "cut")
        assert echo(session, "after") == "after"
    assert not modern.of("GET")


def test_cancelling_a_modern_call_closes_its_stream_and_posts_no_cancellation(modern: ScriptedHTTPServer) -> None:
    def slow(ex: Exchange) -> None:
        stream = ex.stream()
        stream.comment()
        ex.hang(30)

    modern.handlers["tools/call"] = when_text("slow", slow)
    with connect(modern) as session:
        with pytest.raises(RequestTimeout):
            echo(session, "slow", timeout=0.3)
        assert modern.wait_for(lambda: modern.hung_up == 1, timeout=2)
        assert echo(session, "after") == "after"
    assert not modern.posts("notifications/cancelled")


# ============================================================================= HTTP+SSE (2024-11-05)


REFUSALS = {
    "405": (405, "text/plain", b"Method Not Allowed"),
    "404": (404, "text/html", b"<h1>Not Found</h1>"),
    "400 without a modern error": (
        400,
        "application/json",
        b'{"jsonrpc": "2.0", "id": null, "error": {"code": -32000, "message": "Bad Request"}}',
    ),
}


@pytest.mark.parametrize("refusal", list(REFUSALS))
def test_a_server_refusing_the_post_of_initialize_is_tried_as_http_sse(refusal: str) -> None:
    with serving("legacy", legacy_sse=True, refusal=REFUSALS[refusal]) as server:
        with connect(server) as session:
            assert session.transport.uses_sse  # type: ignore[attr-defined]
            assert echo(session, "over sse") == "over sse"
        refused = [r for r in server.posts() if r.path == "/mcp"]
        assert [r.rpc_method for r in refused] == ["server/discover", "initialize"]
        (get,) = server.of("GET")
        assert get.path == "/mcp" and get.headers["Accept"] == "text/event-stream"
        posted = [r for r in server.posts() if r.path != "/mcp"]
        assert {r.path for r in posted} == {"/messages?session_id=legacy-1"}  # the relative endpoint, resolved
        assert [r.rpc_method for r in posted][:3] == ["initialize", "notifications/initialized", "tools/list"]


def test_mode_sse_goes_straight_to_the_event_stream() -> None:
    with serving("legacy", legacy_sse=True) as server:
        with connect(server, mode="sse") as session:
            assert echo(session, "direct") == "direct"
        assert server.requests[0].method == "GET"
        assert not [r for r in server.posts() if r.path == "/mcp"]


def test_the_end_of_the_http_sse_stream_fails_pending_calls_with_connection_closed() -> None:
    with serving("legacy", legacy_sse=True) as server:

        def end(ex: Exchange) -> None:
            server.end_streams()
            return None

        server.handlers["tools/call"] = when_text("end", end)
        with connect(server) as session:
            assert echo(session, "first") == "first"
            with pytest.raises(ConnectionClosed):
                echo(session, "end", timeout=5)
            assert session.closed


def test_a_message_the_http_sse_server_refuses_fails_that_call() -> None:
    with serving("legacy", legacy_sse=True) as server:
        server.hook = lambda ex: (
            ex.respond(500, b"queue full")
            if ex.request.rpc_method == "tools/call" and "refuse" in ex.request.body.decode()
            else None
        )
        with connect(server, mode="sse") as session:
            with pytest.raises(HTTPError, match="HTTP 500 Internal Server Error: queue full") as info:
                echo(session, "refuse")
            assert info.value.status == 500
            assert echo(session, "fine") == "fine"


def test_an_http_sse_endpoint_on_another_origin_is_refused() -> None:
    """The POSTs carry the credentials: they must not go where the event stream says."""
    with serving("legacy", legacy_sse=True) as server:

        def endpoint(ex: Exchange) -> None:
            if ex.request.method == "GET":
                stream = ex.stream()
                stream.event("http://attacker.invalid/steal", event="endpoint")
                ex.hang(5)

        server.hook = endpoint
        with pytest.raises(TransportError, match="another origin"):
            connect(server, mode="sse", bearer_token="t0k3n")
        assert not server.posts()


@pytest.mark.parametrize("mode", ["sse", "auto"])
def test_an_event_stream_that_never_starts_cannot_stretch_the_handshake_timeout(mode: str) -> None:
    with serving("legacy", legacy_sse=True) as server:
        server.hook = lambda ex: ex.hang(30) if ex.request.method == "GET" else None
        started = time.monotonic()
        with pytest.raises(RequestTimeout, match="timed out handshaking with MCP server 'scripted' after 0.5 s"):
            connect(server, mode=mode, timeout=0.5)
        assert time.monotonic() - started < 1.5
        assert not http_threads()
        assert server.wait_for(lambda: server.hung_up >= 1)  # its GET was abandoned


def test_mode_streamable_http_never_falls_back() -> None:
    with serving("legacy", legacy_sse=True) as server:
        with pytest.raises(HTTPError, match="HTTP 405") as info:
            connect(server, mode="streamable_http")
        assert info.value.status == 405
        assert not server.of("GET")


# ============================================================================= security and configuration


def test_configured_headers_and_the_bearer_token_go_on_every_request(legacy: ScriptedHTTPServer) -> None:
    with connect(legacy, headers={"X-Tenant": "acme"}, bearer_token="t0k3n-abc") as session:
        echo(session, "a")
        assert legacy.wait_for(lambda: legacy.of("GET"))
    assert {r.method for r in legacy.requests} == {"POST", "GET", "DELETE"}
    for request in legacy.requests:
        assert request.headers["X-Tenant"] == "acme"
        assert request.headers["Authorization"] == "Bearer t0k3n-abc"


def test_reserved_headers_cannot_be_configured() -> None:
    with pytest.raises(ValueError, match="mcp-session-id header is set by the transport"):
        HttpTransport("http://127.0.0.1:1/mcp", headers={"Mcp-Session-Id": "forged"})


def test_secrets_appear_in_no_log_record_error_or_repr(legacy: ScriptedHTTPServer, caplog: pytest.LogCaptureFixture) -> None:
    token, header_value, query_value = "t0k3n-SECRET", "hdr-SECRET", "qry-SECRET"
    legacy.handlers["tools/call"] = when_text("fail", lambda ex: ex.respond(500, b"boom"))
    errors: List[BaseException] = []
    caplog.set_level(logging.DEBUG, logger="syncmcp")
    session = connect(legacy, url=f"{legacy.url}?api_key={query_value}", headers={"X-Api-Key": header_value}, bearer_token=token)
    try:
        echo(session, "ok")
        legacy.push({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": "hi"}})
        try:
            echo(session, "fail")
        except HTTPError as exc:
            errors.append(exc)
        texts = [repr(session), repr(session.transport), str(session.transport)]
    finally:
        session.close()
    try:  # a network failure quotes the URL
        syncmcp.connect_http(
            f"http://127.0.0.1:{legacy.port + 1 if legacy.port < 65535 else 1}/mcp?api_key={query_value}",
            bearer_token=token,
            headers={"X-Api-Key": header_value},
            timeout=5,
        )
    except HTTPError as exc:
        errors.append(exc)
    assert len(errors) == 2
    assert "api_key=***" in str(errors[1])
    records = [r.getMessage() for r in caplog.records]
    assert any(r.name.startswith("syncmcp.wire.") for r in caplog.records)
    assert any(r.name == "syncmcp.http" for r in caplog.records)
    assert any("api_key=***" in m for m in records)
    texts += records + [str(e) for e in errors] + [repr(e) for e in errors]
    for secret in (token, header_value, query_value):
        assert not [t for t in texts if secret in t]
    assert all(r.json is None or token not in json.dumps(r.json) for r in legacy.requests)


def test_an_untrusted_certificate_is_rejected_with_a_hint_about_ssl_cert_file() -> None:
    with serving("legacy", tls=SERVER_CERT) as server:
        with pytest.raises(HTTPError, match="certificate was rejected .*SSL_CERT_FILE") as info:
            connect(server)
        assert info.value.status is None
        assert not server.requests


def test_ssl_cert_file_pointing_at_the_test_ca_makes_the_server_trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", CA)
    with serving("legacy", tls=SERVER_CERT) as server:
        assert server.url.startswith("https://")
        with connect(server) as session:
            assert echo(session, "secure") == "secure"


def test_an_ssl_context_built_from_the_test_ca_makes_the_server_trusted() -> None:
    with serving("legacy", tls=SERVER_CERT) as server:
        with open_session(server, ssl_context=ssl.create_default_context(cafile=CA)) as session:
            assert echo(session, "secure") == "secure"


def test_http_proxy_forwards_requests_in_absolute_form(legacy: ScriptedHTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    with TestProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        with connect(legacy) as session:
            assert echo(session, "proxied") == "proxied"
            assert legacy.wait_for(lambda: legacy.of("GET"))
    assert {r.method for r in proxy.requests} == {"POST", "GET", "DELETE"}
    assert {r.target for r in proxy.requests} == {legacy.url}
    assert "proxy-authorization" not in proxy.requests[0].headers
    assert len(legacy.requests) == len(proxy.requests)


def test_https_proxy_tunnels_with_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", CA)
    with serving("legacy", tls=SERVER_CERT) as server:
        with TestProxy() as proxy:
            monkeypatch.setenv("HTTPS_PROXY", proxy.url)
            with connect(server) as session:
                assert echo(session, "tunnelled") == "tunnelled"
        assert proxy.requests and {r.method for r in proxy.requests} == {"CONNECT"}
        assert {r.target for r in proxy.requests} == {f"127.0.0.1:{server.port}"}
        assert server.posts("tools/call")


def test_no_proxy_bypasses_the_proxy(legacy: ScriptedHTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    with TestProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", f"localhost,127.0.0.1:{legacy.port}")
        with connect(legacy) as session:
            assert echo(session, "direct") == "direct"
    assert proxy.requests == []


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_proxy_credentials_in_the_proxy_url_become_proxy_authorization(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, scheme: str
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", CA)
    caplog.set_level(logging.DEBUG, logger="syncmcp")
    with serving("legacy", tls=SERVER_CERT if scheme == "https" else None) as server:
        with TestProxy(credentials=("alice", "p@ss w0rd")) as proxy:
            monkeypatch.setenv(f"{scheme.upper()}_PROXY", proxy.url_with("alice", "p@ss w0rd"))
            with connect(server) as session:
                assert echo(session, "authorised") == "authorised"
        assert proxy.requests
        assert {r.headers.get("proxy-authorization") for r in proxy.requests} == {"Basic YWxpY2U6cEBzcyB3MHJk"}
        assert not [r for r in server.requests if r.headers.get("Proxy-Authorization")]
    assert not [r for r in caplog.records if "w0rd" in r.getMessage() or "cEBzcyB3MHJk" in r.getMessage()]


def test_a_proxy_refusing_the_credentials_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", CA)
    with serving("legacy", tls=SERVER_CERT) as server:
        with TestProxy(credentials=("alice", "right")) as proxy:
            monkeypatch.setenv("HTTPS_PROXY", proxy.url_with("alice", "wrong"))
            with pytest.raises(HTTPError, match="refused the tunnel to 127.0.0.1:.*407") as info:
                connect(server)
        assert "wrong" not in str(info.value)
        assert info.value.status == 407


def test_a_call_whose_connection_cannot_be_opened_still_times_out_and_close_is_prompt() -> None:
    """A server whose accept queue is full drops the SYN: connecting hangs until stopped."""
    import socket as _socket

    listener = _socket.socket()
    fillers = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        for _ in range(8):  # fill the backlog: later SYNs are dropped, connect() waits
            filler = _socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        transport = syncmcp.HttpTransport(f"http://127.0.0.1:{port}/mcp", connect_timeout=30)
        session = syncmcp.ClientSession(transport, timeout=0.5)
        started = time.monotonic()
        with pytest.raises(syncmcp.RequestTimeout):
            session.initialize(timeout=0.5)
        assert time.monotonic() - started < 3.0
        closing = time.monotonic()
        session.close()
        assert time.monotonic() - closing < 2.0
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


# ============================================================================= after review


def test_a_new_session_that_is_lost_at_once_fails_the_call_promptly(legacy: ScriptedHTTPServer) -> None:
    """The initialized of a re-initialization is never itself re-initialized (it would wait on itself)."""
    with connect(legacy) as session:
        assert echo(session, "before") == "before"
        legacy.forget_sessions()

        def lose_it_again(ex: Exchange) -> None:
            if ex.request.rpc_method == "notifications/initialized" and ex.request.headers.get("Mcp-Session-Id") == "session-2":
                ex.respond(404, b"Session not found")

        legacy.hook = lose_it_again
        started = time.monotonic()
        with pytest.raises(HTTPError, match="HTTP 404"):
            echo(session, "after")
        assert time.monotonic() - started < 3.0


def test_a_new_session_is_told_the_subscriptions_and_log_level_again_and_lists_are_refreshed() -> None:
    capabilities = {"tools": {"listChanged": True}, "resources": {"subscribe": True}, "logging": {}}
    with serving("legacy", capabilities=capabilities) as server:
        server.handlers["resources/subscribe"] = lambda ex: {}
        server.handlers["logging/setLevel"] = lambda ex: {}
        changed: List[str] = []
        with connect(server, on_list_changed=changed.append) as session:
            session.subscribe_resource("scripted://doc", lambda uri: None)
            session.set_logging_level("warning")
            server.forget_sessions()
            assert echo(session, "after") == "after"
            assert server.wait_for(lambda: len(server.posts("logging/setLevel")) == 2)
            assert wait_until(lambda: "tools" in changed)
        subscribes = server.posts("resources/subscribe")
        assert [(r.headers.get("Mcp-Session-Id"), r.json["params"]["uri"]) for r in subscribes] == [
            ("session-1", "scripted://doc"),
            ("session-2", "scripted://doc"),
        ]
        assert [r.json["params"]["level"] for r in server.posts("logging/setLevel")] == ["warning", "warning"]


@pytest.mark.parametrize("era", ["modern", "legacy-without-get-stream"])
def test_a_request_accepted_with_202_fails_at_once_when_no_stream_can_answer_it(era: str) -> None:
    options: Dict[str, Any] = {"get_stream": 405} if era != "modern" else {}
    with serving("modern" if era == "modern" else "legacy", **options) as server:
        server.handlers["tools/call"] = when_text("accepted", lambda ex: ex.respond(202))
        with connect(server) as session:
            if era != "modern":
                assert server.wait_for(lambda: server.of("GET"))  # the GET stream was refused (405)
                time.sleep(0.1)
            started = time.monotonic()
            with pytest.raises(HTTPError, match="no answer \\(202\\), and no other stream could carry one"):
                echo(session, "accepted", timeout=10)
            assert time.monotonic() - started < 2.0
            assert echo(session, "after") == "after"


def test_a_plain_403_is_an_http_error_and_a_challenging_one_asks_for_a_login(legacy: ScriptedHTTPServer) -> None:
    def forbid(ex: Exchange) -> None:
        if ex.request.rpc_method == "tools/call":
            text = ex.params.get("arguments", {}).get("text")
            if text == "plain":
                ex.respond(403, b"Forbidden: origin not allowed")
            elif text == "challenge":
                ex.respond(403, b"{}", headers=[("WWW-Authenticate", 'Bearer error="insufficient_scope", scope="admin"')])

    legacy.hook = forbid
    with connect(legacy) as session:
        with pytest.raises(HTTPError) as plain:
            echo(session, "plain")
        assert plain.value.status == 403 and not isinstance(plain.value, AuthenticationRequired)
        with pytest.raises(AuthenticationRequired):
            echo(session, "challenge")


def test_a_server_that_never_accepts_initialized_cannot_stretch_the_handshake(legacy: ScriptedHTTPServer) -> None:
    def stall(ex: Exchange) -> None:
        if ex.request.rpc_method == "notifications/initialized":
            ex.hang(10)
            ex.respond(202)

    legacy.hook = stall
    started = time.monotonic()
    with pytest.raises(HTTPError):
        connect(legacy, timeout=1.5, protocol_era="legacy")
    assert time.monotonic() - started < 3.5
    assert wait_until(lambda: not http_threads(), timeout=5)


def test_a_stalled_authorization_server_cannot_hold_the_handshake_or_close(legacy: ScriptedHTTPServer) -> None:
    def protected(ex: Exchange) -> None:
        if ex.request.path == "/prm":
            ex.hang(30)  # the metadata never comes
            ex.respond(200, b"{}")
        elif ex.request.method == "POST" and "Authorization" not in ex.request.headers:
            challenge = f'Bearer resource_metadata="{legacy.origin}/prm"'
            ex.respond(401, b"{}", headers=[("WWW-Authenticate", challenge)])

    legacy.hook = protected
    oauth = syncmcp.OAuth(server_url=legacy.url, authorizer=syncmcp.HeadlessAuthorizer(), store=syncmcp.CredentialStore.memory())
    transport = HttpTransport(legacy.url, name="scripted", auth=oauth)
    session = syncmcp.ClientSession(transport, timeout=10)
    started = time.monotonic()
    with pytest.raises(syncmcp.RequestTimeout):
        session.initialize(timeout=1.0)
    closing = time.monotonic()
    session.close()
    assert time.monotonic() - closing < 2.0 and closing - started < 3.0
    assert wait_until(lambda: not http_threads(), timeout=3)
