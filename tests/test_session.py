"""ClientSession against the scripted stdlib server and in-memory peers."""

from __future__ import annotations

import json
import signal
import threading
import time
from typing import Any, Dict, List, Optional

import pytest

import syncmcp
from syncmcp import (
    CapabilityError,
    ClientSession,
    ProtocolVersionError,
    RemoteError,
    RemoteProtocolError,
    RequestTimeout,
    SchemaValidationError,
    SessionClosedError,
)
from syncmcp.testing import memory_pair

from .conftest import scripted, wait_until


def connect_scripted(*flags: str, **kwargs: Any) -> ClientSession:
    command = scripted(*flags)
    kwargs.setdefault("name", "scripted")
    return syncmcp.connect(command[0], command[1:], **kwargs)


@pytest.fixture
def session():
    with connect_scripted() as s:
        yield s


def test_handshake_exposes_server_details(session: ClientSession) -> None:
    assert session.protocol_version == "2025-11-25"
    assert session.server_info.name == "scripted"
    assert session.server_capabilities["tools"] == {"listChanged": True}
    assert session.instructions == "scripted instructions"
    assert repr(session) == "<ClientSession 'scripted' open 2025-11-25>"


@pytest.mark.parametrize("version", ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"])
def test_every_legacy_revision_the_server_answers_is_accepted(version: str) -> None:
    with connect_scripted("--version", version) as s:
        assert s.protocol_version == version
        assert s.call_tool("echo", {"text": "v"}).text == "v"


def test_unknown_revision_is_a_clear_error_and_closes() -> None:
    with pytest.raises(ProtocolVersionError, match="'1999-01-01'.*supports 2025-11-25"):
        connect_scripted("--version", "1999-01-01")


def test_initialize_timeout_names_the_server_and_is_a_timeout_error() -> None:
    started = time.monotonic()
    with pytest.raises(RequestTimeout, match="timed out handshaking with MCP server 'scripted' after 0.5 s") as info:
        connect_scripted("--no-init-answer", timeout=0.5)
    assert isinstance(info.value, TimeoutError)
    assert time.monotonic() - started < 5


def fake_server(handler):
    """A session over a memory pair whose far end answers with ``handler(message) -> result``."""
    client_end, server_end = memory_pair()
    received: List[Dict[str, Any]] = []

    def serve() -> None:
        while True:
            message = server_end.receive()
            if message is None:
                return
            if message.get("method") == "server/discover":  # a legacy fake: not a modern server
                server_end.send({"jsonrpc": "2.0", "id": message["id"], "error": {"code": -32601, "message": "no"}})
                continue
            received.append(message)
            if "id" in message and "method" in message:
                result = handler(message)
                if result is not None:
                    server_end.send({"jsonrpc": "2.0", "id": message["id"], "result": result})

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return client_end, server_end, received, thread


def init_result(capabilities: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    return {"protocolVersion": "2025-11-25", "capabilities": capabilities or {}, "serverInfo": {"name": "fake", "version": "0"}}


def test_capabilities_are_advertised_only_for_handlers_given() -> None:
    def answer(message):
        return init_result() if message["method"] == "initialize" else {}

    for kwargs, expected in [
        ({}, {}),
        ({"roots": []}, {"roots": {"listChanged": True}}),
        ({"sampling_handler": lambda c, p: {}}, {"sampling": {}}),
        ({"sampling_handler": lambda c, p: {}, "sampling_tools": True}, {"sampling": {"tools": {}}}),
        ({"elicitation_handler": lambda c, p: {}}, {"elicitation": {"form": {}}}),
        ({"elicitation_handler": lambda c, p: {}, "elicitation_modes": ["form", "url"]}, {"elicitation": {"form": {}, "url": {}}}),
    ]:
        client_end, server_end, received, thread = fake_server(answer)
        with ClientSession(client_end, **kwargs) as s:
            assert s.protocol_version == "2025-11-25"
        thread.join(5)
        initialize = received[0]
        assert initialize["method"] == "initialize"
        assert initialize["params"]["protocolVersion"] == "2025-11-25"
        assert initialize["params"]["capabilities"] == expected
        assert initialize["params"]["clientInfo"]["name"] == "syncmcp"
        assert received[1] == {"jsonrpc": "2.0", "method": "notifications/initialized"}


def test_initialize_is_never_cancelled() -> None:
    client_end, server_end, received, thread = fake_server(lambda m: None)
    session = ClientSession(client_end)
    with pytest.raises(RequestTimeout):
        session.initialize(timeout=0.2)
    thread.join(5)
    assert [m["method"] for m in received] == ["initialize"]


def test_methods_before_initialize_or_after_close_raise_session_closed() -> None:
    client_end, _server_end = memory_pair()
    session = ClientSession(client_end)
    with pytest.raises(SessionClosedError, match="not initialized"):
        session.list_tools()
    session.close()
    with pytest.raises(SessionClosedError, match="closed"):
        session.call_tool("x")
    with pytest.raises(SessionClosedError):
        session.initialize()


def test_tool_errors_are_returned_not_raised(session: ClientSession) -> None:
    result = session.call_tool("fail")
    assert result.is_error
    assert result.text == "it failed"


def test_structured_content_and_raw_are_kept(session: ClientSession) -> None:
    result = session.call_tool("structured", {"value": 4})
    assert result.structured_content == {"value": 4}
    assert result.json() == {"value": 4}
    assert result.raw["structuredContent"] == {"value": 4}


def test_protocol_errors_raise_remote_error(session: ClientSession) -> None:
    with pytest.raises(RemoteError) as info:
        session.request("no/such/method")
    assert info.value.code == -32601
    assert info.value.server == "scripted"


def test_invalid_arguments_and_timeouts_are_rejected_early(session: ClientSession) -> None:
    with pytest.raises(TypeError, match="must be a JSON object"):
        session.call_tool("echo", ["not", "a", "dict"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout"):
        session.call_tool("echo", {}, timeout=-1)
    with pytest.raises(ValueError, match="level must be one of"):
        session.set_logging_level("verbose")
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        session.call_tool("echo", {"x": object()})
    assert session.call_tool("echo", {"text": "still fine"}).text == "still fine"


def test_timeout_sends_cancellation_to_the_server(session: ClientSession) -> None:
    with pytest.raises(RequestTimeout):
        session.call_tool("park", {"seconds": 30}, timeout=0.2)
    cancelled = json.loads(session.call_tool("cancelled_ids").text)
    assert len(cancelled) == 1


def test_keyboard_interrupt_cancels_the_blocked_call(session: ClientSession) -> None:
    assert threading.current_thread() is threading.main_thread()
    timer = threading.Timer(0.3, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            session.call_tool("park", {"seconds": 30}, timeout=30)
    finally:
        timer.join()
    assert len(json.loads(session.call_tool("cancelled_ids").text)) == 1
    assert session.call_tool("echo", {"text": "usable"}).text == "usable"


def test_submit_returns_a_handle_that_can_be_cancelled(session: ClientSession) -> None:
    handle = session.submit("tools/call", {"name": "park", "arguments": {"seconds": 30}})
    assert not handle.done()
    assert handle.cancel() is True
    with pytest.raises(syncmcp.RequestCancelled):
        handle.result(1)
    assert json.loads(session.call_tool("cancelled_ids").text) == [handle.id]


def test_progress_reaches_the_callback_in_order_before_the_result(session: ClientSession) -> None:
    seen: List[Any] = []
    result = session.call_tool("progress", {"steps": 50}, on_progress=lambda p, t, m: seen.append((p, t, m)))
    assert result.text == "progressed"
    assert seen == [(i, 50, f"step {i}") for i in range(1, 51)]


def test_pagination_follows_every_page() -> None:
    with connect_scripted("--pages", "4", "--extra-tools", "30") as s:
        names = [tool.name for tool in s.list_tools()]
    assert len(names) == 56
    assert len(set(names)) == 56
    assert names[-1] == "tool_0029"


def test_repeated_cursor_is_detected() -> None:
    with connect_scripted("--pages", "4", "--repeat-cursor") as s:
        with pytest.raises(RemoteProtocolError, match="duplicate cursor"):
            s.list_tools()


def test_tool_list_is_cached_and_a_list_changed_burst_costs_one_refetch(session: ClientSession) -> None:
    first = session.list_tools()
    sent = session.stats["sent"]
    assert session.list_tools() == first
    assert session.stats["sent"] == sent  # served from the cache
    changes: List[str] = []
    session._notifications.on_list_changed = changes.append
    session.call_tool("notify_burst", {"count": 5})
    # call_tool's response follows the burst; the notifications are handled off the reader.
    assert wait_until(lambda: len(changes) == 5)
    sent = session.stats["sent"]
    session.list_tools()
    session.list_tools()
    assert session.stats["sent"] == sent + 1
    assert session.list_tools(refresh=True) == first


def test_capabilities_gate_calls(session: ClientSession) -> None:
    sent = session.stats["sent"]
    assert session.list_resources() == []
    assert session.list_prompts() == []
    assert session.stats["sent"] == sent  # nothing asked of a server without those capabilities
    with pytest.raises(CapabilityError, match="'resources' capability"):
        session.read_resource("file:///x")
    with pytest.raises(CapabilityError, match="subscriptions"):
        session.subscribe_resource("file:///x")
    session.check_capabilities = False
    with pytest.raises(RemoteError) as info:
        session.read_resource("file:///x")
    assert info.value.code == -32601


def test_server_log_messages_reach_logging_and_the_callback(caplog: pytest.LogCaptureFixture) -> None:
    logs: List[Any] = []
    got = threading.Event()

    def on_log(level: str, source: str, data: Any) -> None:
        logs.append((level, source, data))
        got.set()

    with connect_scripted(on_log=on_log) as s, caplog.at_level("DEBUG", logger="syncmcp.servers.scripted"):
        s.set_logging_level("debug")
        s.call_tool("log", {"level": "error", "data": {"disk": "full"}})
        assert got.wait(5)
    assert logs == [("error", "scripted", {"disk": "full"})]
    record = next(r for r in caplog.records if r.name == "syncmcp.servers.scripted")
    assert record.levelname == "ERROR"
    assert "disk" in record.getMessage()


def test_server_requests_are_answered_by_handlers_that_may_call_back() -> None:
    calls: List[Any] = []

    def sampling(ctx: syncmcp.RequestContext, params: Dict[str, Any]) -> Dict[str, Any]:
        calls.append((ctx.server, ctx.method, threading.current_thread().name))
        # A handler may use the same session: the reader thread stays free.
        echoed = ctx.session.call_tool("echo", {"text": "nested"}).text
        return {"role": "assistant", "content": {"type": "text", "text": echoed}, "model": "test"}

    roots = [{"uri": "file:///tmp", "name": "tmp"}]
    with connect_scripted(sampling_handler=sampling, roots=roots) as s:
        answer = json.loads(s.call_tool("ask_client", {"method": "sampling/createMessage", "params": {"messages": [], "maxTokens": 5}}).text)
        assert answer["result"]["content"]["text"] == "nested"
        answer = json.loads(s.call_tool("ask_client", {"method": "roots/list"}).text)
        assert answer["result"] == {"roots": roots}
        answer = json.loads(s.call_tool("ask_client", {"method": "elicitation/create", "params": {}}).text)
        assert answer["error"]["code"] == -32601
        answer = json.loads(s.call_tool("ask_client", {"method": "ping"}).text)
        assert answer["result"] == {}
    assert calls == [("scripted", "sampling/createMessage", "syncmcp-handler[scripted]_0")]


def test_a_handler_that_raises_produces_an_error_response_not_a_dead_session() -> None:
    def broken(ctx: syncmcp.RequestContext, params: Dict[str, Any]) -> Dict[str, Any]:
        raise RuntimeError("no model configured")

    with connect_scripted(sampling_handler=broken) as s:
        answer = json.loads(s.call_tool("ask_client", {"method": "sampling/createMessage", "params": {}}).text)
        assert answer["error"]["code"] == -32603
        assert "no model configured" in answer["error"]["message"]
        assert s.call_tool("echo", {"text": "alive"}).text == "alive"


def test_many_threads_share_one_session(session: ClientSession) -> None:
    """16 threads x 200 concurrent calls on one session: every result is the caller's own."""
    failures: List[str] = []

    def worker(index: int) -> None:
        for call in range(200):
            text = f"{index}-{call}"
            got = session.call_tool("echo", {"text": text}, timeout=30).text
            if got != text:
                failures.append(f"{text} got {got}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    assert session.stats["dropped_responses"] == 0


def test_tool_timeout_is_paused_while_an_elicitation_handler_runs() -> None:
    """The server waits for the user: a 0.3 s tool timeout must survive a 1 s elicitation."""

    def elicitation(ctx: syncmcp.RequestContext, params: Dict[str, Any]) -> Dict[str, Any]:
        threading.Event().wait(1.0)  # the user takes their time
        return {"action": "accept", "content": {"ok": True}}

    with connect_scripted(elicitation_handler=elicitation) as s:
        answer = json.loads(s.call_tool("ask_client", {"method": "elicitation/create", "params": {}}, timeout=0.3).text)
        assert answer["result"] == {"action": "accept", "content": {"ok": True}}


def test_list_page_returns_one_page_and_its_cursor() -> None:
    with connect_scripted("--pages", "3", "--extra-tools", "10") as s:
        first, cursor = s.list_page("tools")
        assert cursor == "1"
        second, cursor = s.list_page("tools", cursor)
        third, cursor = s.list_page("tools", cursor)
        assert cursor is None
        assert [t.name for t in first + second + third] == [t.name for t in s.list_tools()]
        assert s.list_page("prompts") == ([], None)  # no prompts capability: nothing asked
        with pytest.raises(ValueError, match="kind must be one of"):
            s.list_page("widgets")


def test_a_notification_callback_may_call_with_progress() -> None:
    """The callback runs on the notification worker, which would also deliver the call's result."""
    outcome: List[Any] = []
    done = threading.Event()
    session_box: List[ClientSession] = []

    def on_list_changed(kind: str) -> None:
        try:
            outcome.append(session_box[0].call_tool("progress", {"steps": 3}, on_progress=lambda p, t, m: None, timeout=10).text)
        except BaseException as exc:
            outcome.append(exc)
        done.set()

    with connect_scripted(on_list_changed=on_list_changed) as s:
        session_box.append(s)
        s.call_tool("notify_burst", {"count": 1})
        assert done.wait(10)
    assert outcome == ["progressed"]


def test_a_changed_schema_is_fetched_again_when_the_stale_one_refuses_a_call() -> None:
    schemas = [{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}]

    def answer(message: Dict[str, Any]) -> Dict[str, Any]:
        method = message["method"]
        if method == "initialize":
            return init_result({"tools": {"listChanged": True}})
        if method == "tools/list":
            return {"tools": [{"name": "t", "inputSchema": schemas[-1]}]}
        return {"content": [{"type": "text", "text": json.dumps(message["params"]["arguments"])}]}

    client_end, server_end, received, thread = fake_server(answer)
    changed = threading.Event()
    with ClientSession(client_end, on_list_changed=lambda kind: changed.set()) as session:
        assert session.call_tool("t", {"a": 1}).text == '{"a": 1}'
        schemas.append({"type": "object", "properties": {"b": {"type": "integer"}}, "required": ["b"]})
        server_end.send({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
        assert changed.wait(5)
        assert session.call_tool("t", {"b": 2}).text == '{"b": 2}'  # the stale schema wanted "a"
        with pytest.raises(SchemaValidationError, match="'b' is a required property"):
            session.call_tool("t", {"a": 3})  # now fresh: refused without another listing
    thread.join(5)
    assert [m["method"] for m in received].count("tools/list") == 2


def test_infinite_and_huge_timeouts_mean_no_limit() -> None:
    with connect_scripted() as s:
        assert s.call_tool("echo", {"text": "x"}, timeout=float("inf")).text == "x"
        assert s.call_tool("echo", {"text": "y"}, timeout=1e300).text == "y"
        assert s.list_tools(timeout=1e10, refresh=True)


def test_a_result_refused_by_a_stale_schema_is_kept_when_listing_again_fails() -> None:
    """The call ran; if re-listing the tools fails, the refusal (with the result) stands."""
    listings: List[int] = []

    def answer(message: Dict[str, Any]) -> Any:
        method = message["method"]
        if method == "initialize":
            return init_result({"tools": {"listChanged": True}})
        if method == "tools/list":
            listings.append(1)
            if len(listings) > 1:
                return None  # the second listing never answers
            schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
            return {"tools": [{"name": "t", "inputSchema": {"type": "object"}, "outputSchema": schema}]}
        server_end.send({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
        return {"content": [{"type": "text", "text": "ran"}], "structuredContent": {"n": "not a number"}}

    client_end, server_end, received, thread = fake_server(answer)
    changed = threading.Event()
    with ClientSession(client_end, on_list_changed=lambda kind: changed.set()) as session:
        session.list_tools()
        with pytest.raises(SchemaValidationError) as info:
            # on_progress: the result is delivered only after the list_changed sent before it.
            session.call_tool("t", {}, timeout=1.0, on_progress=lambda *args: None)
        assert info.value.result.text == "ran"  # the result the call produced is not lost
        assert isinstance(info.value.__cause__, RequestTimeout)
    thread.join(5)


def test_a_session_closed_while_a_call_is_checked_refuses_it_as_closed_not_as_a_lost_connection(session: ClientSession) -> None:
    """Closed between call_tool's own check and the send: SessionClosedError, as before the send.

    (A manager moves such a call to the instance that replaced a retired one; a ConnectionClosed
    would count as a crash and not be replayed for a tool that is not idempotent.)
    """
    session.call_tool("echo", {"text": "warm"})  # the listing is cached: the next call goes straight on
    validators = session._tools._validators
    real_get = validators.get

    def closing_get(schema: Any) -> Any:
        session.close()
        return real_get(schema)

    validators.get = closing_get  # type: ignore[method-assign]
    with pytest.raises(syncmcp.SessionClosedError) as info:
        session.call_tool("echo", {"text": "x"})
    assert not isinstance(info.value, syncmcp.ConnectionClosed), info.value
    assert "is closed" in str(info.value)
