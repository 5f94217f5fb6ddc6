"""The endpoint over an in-memory transport: routing, timeouts, cancellation, EOF, handlers.

The far end is driven by hand through the other half of a ``memory_pair``. No sleeps are used
for synchronisation: handlers park on events and every wait is bounded.
"""

from __future__ import annotations

import signal
import threading
import time
from typing import Any, Dict, List, Optional

import pytest

from syncmcp import ConnectionClosed, JSONRPCError, RemoteError, RequestCancelled, RequestTimeout, URLElicitationRequired
from syncmcp._endpoint import Endpoint, InboundRequest
from syncmcp.testing import MemoryTransport, memory_pair

from .conftest import wait_until


class RecordingTransport(MemoryTransport):
    """A memory transport that remembers which thread wrote each message."""

    writers: List[str]

    def send(self, message: Any) -> None:
        self.writers.append(threading.current_thread().name)
        super().send(message)


def make_pair(**kwargs: Any):
    client, server = memory_pair()
    recording = RecordingTransport(client._inbox, client._outbox, "memory")
    recording.writers = []
    endpoint = Endpoint(recording, name="peer", **kwargs)
    endpoint.start()
    return endpoint, recording, server


@pytest.fixture
def pair():
    endpoint, client, server = make_pair()
    yield endpoint, server
    endpoint.close()


def receive(server: MemoryTransport) -> Dict[str, Any]:
    message = server.receive(timeout=5)
    assert message is not None
    return message


def test_response_is_matched_by_id(pair) -> None:
    endpoint, server = pair
    pending = endpoint.send_request("tools/list", {"cursor": "c"})
    request = receive(server)
    assert request == {"jsonrpc": "2.0", "id": pending.id, "method": "tools/list", "params": {"cursor": "c"}}
    server.send({"jsonrpc": "2.0", "id": request["id"], "result": {"tools": []}})
    assert pending.result(5) == {"tools": []}


def test_concurrent_requests_are_never_misrouted(pair) -> None:
    """Responses answered in reverse order still reach the right callers."""
    endpoint, server = pair
    results: Dict[int, Any] = {}
    threads = []
    for index in range(20):

        def call(i: int = index) -> None:
            results[i] = endpoint.send_request("echo", {"i": i}).result(10)

        threads.append(threading.Thread(target=call))
    for thread in threads:
        thread.start()
    requests = [receive(server) for _ in range(20)]
    for request in reversed(requests):
        server.send({"jsonrpc": "2.0", "id": request["id"], "result": {"i": request["params"]["i"]}})
    for thread in threads:
        thread.join(10)
    assert results == {i: {"i": i} for i in range(20)}


def test_a_response_arriving_before_send_returns_is_not_lost() -> None:
    """The entry is registered before the write, so an instant answer finds it."""

    class InstantTransport(MemoryTransport):
        def send(self, message: Any) -> None:
            if "id" in message and "method" in message:
                self._inbox.put(_raw({"jsonrpc": "2.0", "id": message["id"], "result": {"instant": True}}))

    client, _server = memory_pair()
    endpoint = Endpoint(InstantTransport(client._inbox, client._outbox, "instant"), name="instant")
    endpoint.start()
    try:
        assert endpoint.send_request("x").result(5) == {"instant": True}
    finally:
        endpoint.close()


def _raw(message: Dict[str, Any]) -> Any:
    from syncmcp._jsonrpc import encode_message
    from syncmcp.testing import _Raw

    return _Raw(encode_message(message))


def test_error_response_raises_remote_error_with_code_message_data(pair) -> None:
    endpoint, server = pair
    pending = endpoint.send_request("tools/call")
    request = receive(server)
    server.send({"jsonrpc": "2.0", "id": request["id"], "error": {"code": -32602, "message": "bad args", "data": {"f": 1}}})
    with pytest.raises(RemoteError) as info:
        pending.result(5)
    assert (info.value.code, info.value.message, info.value.data) == (-32602, "bad args", {"f": 1})
    assert info.value.method == "tools/call"
    assert info.value.request_id == request["id"]


def test_url_elicitation_required_error_has_its_own_type(pair) -> None:
    endpoint, server = pair
    pending = endpoint.send_request("tools/call")
    request = receive(server)
    elicitation = {"mode": "url", "elicitationId": "e1", "url": "https://example.com", "message": "go"}
    server.send({"jsonrpc": "2.0", "id": request["id"], "error": {"code": -32042, "message": "need", "data": {"elicitations": [elicitation]}}})
    with pytest.raises(URLElicitationRequired) as info:
        pending.result(5)
    assert info.value.elicitations == [elicitation]


def test_timeout_cancels_on_the_peer_and_drops_the_late_response(pair) -> None:
    endpoint, server = pair
    pending = endpoint.send_request("tools/call", {"name": "slow"})
    request = receive(server)
    start = time.monotonic()
    with pytest.raises(RequestTimeout) as info:
        pending.result(0.2)
    assert time.monotonic() - start < 2
    assert isinstance(info.value, TimeoutError)
    cancel = receive(server)
    assert cancel["method"] == "notifications/cancelled"
    assert cancel["params"]["requestId"] == request["id"]
    server.send({"jsonrpc": "2.0", "id": request["id"], "result": {"late": True}})
    # The next exchange proves the reader survived the late response; the counter proves it was dropped.
    follow = endpoint.send_request("ping")
    server.send({"jsonrpc": "2.0", "id": receive(server)["id"], "result": {}})
    assert follow.result(5) == {}
    assert endpoint.stats["dropped_responses"] == 1


def test_cancel_withdraws_a_request_and_reports_whether_it_won(pair) -> None:
    endpoint, server = pair
    pending = endpoint.send_request("tools/call")
    request = receive(server)
    assert pending.cancel("user changed their mind") is True
    cancel = receive(server)
    assert cancel["params"] == {"requestId": request["id"], "reason": "user changed their mind"}
    with pytest.raises(RequestCancelled):
        pending.result(1)
    done = endpoint.send_request("ping")
    server.send({"jsonrpc": "2.0", "id": receive(server)["id"], "result": {}})
    done.result(5)
    assert done.cancel() is False


def test_non_cancellable_request_times_out_without_notifying(pair) -> None:
    endpoint, server = pair
    pending = endpoint.send_request("initialize", {}, cancellable=False)
    receive(server)
    with pytest.raises(RequestTimeout):
        pending.result(0.1)
    endpoint.send_notification("marker")
    assert receive(server)["method"] == "marker"  # nothing was sent in between


def test_keyboard_interrupt_while_waiting_cancels_the_request(pair) -> None:
    endpoint, server = pair
    pending = endpoint.send_request("tools/call")
    request = receive(server)
    main = threading.main_thread().ident
    assert threading.current_thread() is threading.main_thread()
    timer = threading.Timer(0.2, signal.pthread_kill, (main, signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            pending.result(10)
    finally:
        timer.join()
    cancel = receive(server)
    assert cancel["method"] == "notifications/cancelled"
    assert cancel["params"]["requestId"] == request["id"]


def test_eof_fails_every_pending_request_with_exit_code_and_stderr() -> None:
    endpoint, client, server = make_pair()
    try:
        client.returncode = 3
        client.stderr = "Traceback: it broke\n"
        pendings = [endpoint.send_request("tools/call", {"i": i}) for i in range(5)]
        for _ in pendings:
            receive(server)
        server.close()
        for pending in pendings:
            with pytest.raises(ConnectionClosed) as info:
                pending.result(5)
            assert info.value.returncode == 3
            assert "it broke" in info.value.stderr_tail
            assert "it broke" in str(info.value)
        with pytest.raises(ConnectionClosed, match="is closed"):
            endpoint.send_request("ping")
        assert not endpoint.is_open
    finally:
        endpoint.close()


def test_lines_that_are_not_json_rpc_are_counted_not_fatal(pair) -> None:
    endpoint, server = pair
    server.send_raw(b"Server listening on stdio\n")
    server.send({"jsonrpc": "2.0", "id": 1})  # neither a request nor a response
    server.send([1, 2])
    pending = endpoint.send_request("ping")
    server.send({"jsonrpc": "2.0", "id": receive(server)["id"], "result": {}})
    assert pending.result(5) == {}
    assert endpoint.stats["invalid"] == 4


def test_invalid_request_with_readable_id_gets_an_error_response(pair) -> None:
    endpoint, server = pair
    server.send({"jsonrpc": "2.0", "id": 11, "method": "x", "params": [1, 2]})
    answer = receive(server)
    assert answer["id"] == 11
    assert answer["error"]["code"] == -32600


def test_ping_is_answered_and_never_from_the_reader_thread() -> None:
    endpoint, client, server = make_pair()
    try:
        server.send({"jsonrpc": "2.0", "id": 0, "method": "ping"})
        assert receive(server) == {"jsonrpc": "2.0", "id": 0, "result": {}}
        assert client.writers and not any(name.startswith("syncmcp-reader") for name in client.writers)
    finally:
        endpoint.close()


def test_without_a_handler_requests_get_method_not_found(pair) -> None:
    endpoint, server = pair
    server.send({"jsonrpc": "2.0", "id": "s1", "method": "sampling/createMessage", "params": {}})
    answer = receive(server)
    assert answer["id"] == "s1"
    assert answer["error"]["code"] == -32601


def test_handler_results_errors_and_crashes_become_responses() -> None:
    def handler(request: InboundRequest) -> Any:
        if request.method == "ok":
            return {"echo": request.params}
        if request.method == "refuse":
            raise JSONRPCError(-32602, "refused", {"why": "test"})
        raise RuntimeError("handler bug")

    endpoint, _client, server = make_pair(request_handler=handler)
    try:
        server.send({"jsonrpc": "2.0", "id": 1, "method": "ok", "params": {"a": 1}})
        assert receive(server)["result"] == {"echo": {"a": 1}}
        server.send({"jsonrpc": "2.0", "id": 2, "method": "refuse"})
        assert receive(server)["error"] == {"code": -32602, "message": "refused", "data": {"why": "test"}}
        server.send({"jsonrpc": "2.0", "id": 3, "method": "crash"})
        error = receive(server)["error"]
        assert error["code"] == -32603
        assert "handler bug" in error["message"]
        assert endpoint.is_open
    finally:
        endpoint.close()


def test_a_slow_handler_does_not_block_responses() -> None:
    release = threading.Event()
    entered = threading.Event()

    def handler(request: InboundRequest) -> Any:
        entered.set()
        assert release.wait(10)
        return {}

    endpoint, _client, server = make_pair(request_handler=handler)
    try:
        server.send({"jsonrpc": "2.0", "id": 0, "method": "slow"})
        assert entered.wait(5)
        pending = endpoint.send_request("ping")
        server.send({"jsonrpc": "2.0", "id": receive(server)["id"], "result": {"fast": True}})
        assert pending.result(5) == {"fast": True}
        release.set()
        assert receive(server) == {"jsonrpc": "2.0", "id": 0, "result": {}}
    finally:
        endpoint.close()


def test_cancelled_inbound_request_gets_no_response() -> None:
    entered = threading.Event()
    seen_cancel = threading.Event()

    def handler(request: InboundRequest) -> Any:
        entered.set()
        seen_cancel.set() if request.cancelled.wait(10) else None
        return {"too": "late"}

    endpoint, _client, server = make_pair(request_handler=handler)
    try:
        server.send({"jsonrpc": "2.0", "id": 5, "method": "elicitation/create"})
        assert entered.wait(5)
        server.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 5}})
        assert seen_cancel.wait(5)
        endpoint.send_notification("marker")
        assert receive(server)["method"] == "marker"
        endpoint.send_notification("marker2")
        assert receive(server)["method"] == "marker2"  # still no response to id 5
    finally:
        endpoint.close()


def test_notifications_are_delivered_in_order_off_the_reader_thread() -> None:
    seen: List[Any] = []
    threads = set()
    done = threading.Event()

    def on_notification(method: str, params: Dict[str, Any]) -> None:
        threads.add(threading.current_thread().name)
        seen.append(params["n"])
        if params["n"] == 99:
            done.set()

    endpoint, _client, server = make_pair(notification_handler=on_notification)
    try:
        for n in range(100):
            server.send({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"n": n}})
        assert done.wait(5)
        assert seen == list(range(100))
        assert threads == {"syncmcp-notify[peer]_0"}
    finally:
        endpoint.close()


def test_ordered_request_settles_after_earlier_notifications() -> None:
    """With ordered=True the result is delivered only once earlier notifications were handled."""
    release = threading.Event()
    handled: List[int] = []

    def on_notification(method: str, params: Dict[str, Any]) -> None:
        assert release.wait(10)
        handled.append(params["n"])

    endpoint, _client, server = make_pair(notification_handler=on_notification)
    try:
        pending = endpoint.send_request("tools/call", ordered=True)
        request = receive(server)
        for n in range(3):
            server.send({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"n": n}})
        server.send({"jsonrpc": "2.0", "id": request["id"], "result": {}})
        assert not pending.done()
        release.set()
        assert pending.result(5) == {}
        assert handled == [0, 1, 2]
    finally:
        endpoint.close()


def test_touch_restarts_the_timeout_within_max_total(pair) -> None:
    endpoint, server = pair
    pending = endpoint.send_request("tools/call")
    receive(server)
    stop = threading.Event()

    def keep_touching() -> None:
        while not stop.wait(0.05):
            pending.touch()

    toucher = threading.Thread(target=keep_touching)
    toucher.start()
    start = time.monotonic()
    try:
        with pytest.raises(RequestTimeout):
            pending.result(0.2, reset_on_activity=True, max_total=0.8)
    finally:
        stop.set()
        toucher.join(5)
    elapsed = time.monotonic() - start
    assert 0.6 <= elapsed < 3.0


def test_batch_from_the_peer_is_dispatched_element_by_element(pair) -> None:
    endpoint, server = pair
    first = endpoint.send_request("a")
    second = endpoint.send_request("b")
    ids = [receive(server)["id"], receive(server)["id"]]
    server.send([{"jsonrpc": "2.0", "id": ids[1], "result": {"n": 2}}, {"jsonrpc": "2.0", "id": ids[0], "result": {"n": 1}}])
    assert first.result(5) == {"n": 1}
    assert second.result(5) == {"n": 2}


def test_close_is_idempotent_from_many_threads_and_fails_pending() -> None:
    endpoint, _client, server = make_pair()
    pending = endpoint.send_request("tools/call")
    receive(server)
    errors: List[Optional[BaseException]] = []

    def close() -> None:
        try:
            endpoint.close()
            errors.append(None)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=close) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == [None] * 8
    with pytest.raises(ConnectionClosed, match="session closed"):
        pending.result(1)
    with pytest.raises(ConnectionClosed):
        endpoint.send_request("ping")
    endpoint.close()


def test_on_lost_runs_once_off_the_reader_thread() -> None:
    calls: List[Any] = []
    done = threading.Event()

    def on_lost(error: ConnectionClosed) -> None:
        calls.append((threading.current_thread().name, str(error)))
        done.set()

    endpoint, client, server = make_pair(on_lost=on_lost)
    try:
        server.close()
        assert done.wait(5)
        assert len(calls) == 1
        assert calls[0][0].startswith("syncmcp-notify")
    finally:
        endpoint.close()
    assert len(calls) == 1


def test_string_digit_id_from_a_sloppy_peer_still_matches(pair) -> None:
    endpoint, server = pair
    pending = endpoint.send_request("x")
    request = receive(server)
    server.send({"jsonrpc": "2.0", "id": str(request["id"]), "result": {"ok": 1}})
    assert pending.result(5) == {"ok": 1}


@pytest.mark.parametrize("blocking", [False, True], ids=["handle", "blocking call"])
def test_paused_time_does_not_count_against_a_timeout(pair, blocking: bool) -> None:
    """Paused before the wait and resumed during it; a blocking call's first wait ends, its handle waits on."""
    endpoint, server = pair
    pending = None if blocking else endpoint.send_request("tools/call")
    if pending is not None:
        receive(server)

    def wait() -> Any:
        return endpoint.call("tools/call", {}, 0.3) if pending is None else pending.result(0.3)

    endpoint.pause_timeouts()
    resumer = threading.Timer(0.6, endpoint.resume_timeouts)
    resumer.start()
    start = time.monotonic()
    try:
        with pytest.raises(RequestTimeout):
            wait()
    finally:
        resumer.join()
    elapsed = time.monotonic() - start
    assert elapsed >= 0.85  # 0.6 s paused + 0.3 s of active time
    assert elapsed < 5
    assert endpoint.paused_seconds() >= 0.6
    with pytest.raises(RuntimeError):
        endpoint.resume_timeouts()


def test_a_second_close_from_an_endpoint_thread_does_not_wait_for_the_first() -> None:
    """The first closer joins the endpoint's threads; one of them closing too must not block it."""
    closed_inside = threading.Event()
    endpoint_box: List[Endpoint] = []

    def handler(request: InboundRequest) -> Any:
        assert request.cancelled.wait(10)  # the first close() cancels us...
        endpoint_box[0].close()  # ...and we close too, from a handler thread
        closed_inside.set()
        return {}

    endpoint, _client, server = make_pair(request_handler=handler)
    endpoint_box.append(endpoint)
    server.send({"jsonrpc": "2.0", "id": 1, "method": "slow"})
    assert wait_until(lambda: bool(endpoint._inbound))
    start = time.monotonic()
    endpoint.close()
    assert closed_inside.wait(5)
    assert time.monotonic() - start < 5



def test_ping_is_answered_while_every_handler_is_busy() -> None:
    release = threading.Event()
    started = threading.Semaphore(0)

    def handler(request: InboundRequest) -> Any:
        started.release()
        assert release.wait(10)
        return {}

    client, _server_end = memory_pair()
    recording = RecordingTransport(client._inbox, client._outbox, "memory")
    recording.writers = []
    endpoint = Endpoint(recording, name="busy", request_handler=handler, max_workers=2)
    endpoint.start()
    server = _server_end
    try:
        for request_id in (1, 2, 3):
            server.send({"jsonrpc": "2.0", "id": request_id, "method": "slow"})
        assert started.acquire(timeout=5) and started.acquire(timeout=5)  # both workers parked
        server.send({"jsonrpc": "2.0", "id": 99, "method": "ping"})
        assert receive(server) == {"jsonrpc": "2.0", "id": 99, "result": {}}
        release.set()
    finally:
        endpoint.close()


def test_wait_neither_consumes_nor_abandons(pair) -> None:
    endpoint, server = pair
    pending = endpoint.send_request("tools/call")
    request = receive(server)
    assert pending.wait(0.05) is False
    server.send({"jsonrpc": "2.0", "id": request["id"], "result": {"ok": True}})
    assert pending.wait(5) is True
    assert pending.result(1) == {"ok": True}


def test_a_unicode_digit_id_is_dropped_not_fatal(pair) -> None:
    """'²'.isdigit() is true but int('²') fails: such a stray response must not end the connection."""
    endpoint, server = pair
    pending = endpoint.send_request("tools/call")
    request = receive(server)
    server.send({"jsonrpc": "2.0", "id": "\u00b2", "result": {}})
    server.send({"jsonrpc": "2.0", "id": request["id"], "result": {"fine": True}})
    assert pending.result(5) == {"fine": True}
    assert endpoint.is_open
    assert endpoint.stats["dropped_responses"] == 1


def test_absurdly_deep_json_is_an_invalid_line_not_a_dead_connection(pair) -> None:
    endpoint, server = pair
    server.send_raw(b"[" * 100_000 + b"]" * 100_000 + b"\n")
    pending = endpoint.send_request("ping")
    server.send({"jsonrpc": "2.0", "id": receive(server)["id"], "result": {}})
    assert pending.result(5) == {}
    assert endpoint.stats["invalid"] == 1


def test_a_message_the_dispatcher_chokes_on_is_counted_not_fatal(pair, monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint, server = pair
    original = endpoint._dispatch

    def flaky(value: Any) -> None:
        if value.get("method") == "boom":
            raise RuntimeError("a bug in dispatch")
        original(value)

    monkeypatch.setattr(endpoint, "_dispatch", flaky)
    server.send({"jsonrpc": "2.0", "method": "boom"})
    pending = endpoint.send_request("ping")
    server.send({"jsonrpc": "2.0", "id": receive(server)["id"], "result": {}})
    assert pending.result(5) == {}
    assert endpoint.stats["invalid"] == 1


def test_public_done_callbacks_run_off_the_reader_thread(pair) -> None:
    endpoint, server = pair
    ran_on: List[str] = []
    release = threading.Event()

    def slow_callback(pending: Any) -> None:
        ran_on.append(threading.current_thread().name)
        assert release.wait(10)

    first = endpoint.send_request("a")
    first.add_done_callback(slow_callback)
    server.send({"jsonrpc": "2.0", "id": receive(server)["id"], "result": {}})
    second = endpoint.send_request("b")
    server.send({"jsonrpc": "2.0", "id": receive(server)["id"], "result": {"b": 1}})
    assert second.result(5) == {"b": 1}  # not held up by the slow callback
    release.set()
    assert wait_until(lambda: bool(ran_on))
    assert ran_on[0].startswith("syncmcp-notify")


def test_result_without_a_timeout_uses_the_default_not_forever() -> None:
    endpoint, _client, server = make_pair(default_timeout=0.2)
    try:
        pending = endpoint.send_request("tools/call")
        receive(server)
        start = time.monotonic()
        with pytest.raises(RequestTimeout):
            pending.result()
        assert time.monotonic() - start < 3
        assert endpoint.send_request("x").wait() is False  # wait() has the same default
    finally:
        endpoint.close()


# ----------------------------------------------------------------------------- the blocking call


def answer_next(server: MemoryTransport, result: Any) -> threading.Thread:
    """Answer the next request the peer receives, from a thread of its own."""

    def run() -> None:
        request = receive(server)
        server.send({"jsonrpc": "2.0", "id": request["id"], "result": result})

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_blocking_call_gets_its_result_and_leaves_nothing_pending(pair) -> None:
    endpoint, server = pair
    responder = answer_next(server, {"ok": 1})
    assert endpoint.call("tools/call", {"name": "x"}, 5) == {"ok": 1}
    responder.join(5)
    responder = answer_next(server, {"ok": 2})
    assert endpoint.call("ping", None, None) == {"ok": 2}  # no limit
    responder.join(5)
    assert endpoint._pending == {}


def test_blocking_call_times_out_cancels_on_the_peer_and_drops_the_late_response(pair) -> None:
    endpoint, server = pair
    start = time.monotonic()
    with pytest.raises(RequestTimeout, match="timed out after 0.2 s"):
        endpoint.call("tools/call", {"name": "slow"}, 0.2)
    assert 0.19 <= time.monotonic() - start < 2
    request = receive(server)
    cancel = receive(server)
    assert cancel["method"] == "notifications/cancelled" and cancel["params"]["requestId"] == request["id"]
    server.send({"jsonrpc": "2.0", "id": request["id"], "result": {"late": True}})
    responder = answer_next(server, {})
    assert endpoint.call("ping", None, 5) == {}  # the reader survived the late response, which was dropped
    responder.join(5)
    assert endpoint.stats["dropped_responses"] == 1


def test_blocking_call_interrupted_by_ctrl_c_cancels_the_request(pair) -> None:
    endpoint, server = pair
    assert threading.current_thread() is threading.main_thread()
    timer = threading.Timer(0.2, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            endpoint.call("tools/call", {}, 10)
    finally:
        timer.join()
    request = receive(server)
    cancel = receive(server)
    assert cancel["method"] == "notifications/cancelled" and cancel["params"]["requestId"] == request["id"]
    assert endpoint._pending == {}


def test_blocking_call_on_the_reader_thread_is_refused(pair) -> None:
    endpoint, server = pair
    seen: List[BaseException] = []

    def on_reader(_pending: Any) -> None:  # syncmcp's own bookkeeping runs inline on the settling (reader) thread
        try:
            endpoint.call("ping", None, 1)
        except BaseException as exc:
            seen.append(exc)

    pending = endpoint.send_request("tools/list")
    pending._on_done(on_reader)
    server.send({"jsonrpc": "2.0", "id": receive(server)["id"], "result": {}})
    assert pending.result(5) == {}
    assert wait_until(lambda: bool(seen))
    assert isinstance(seen[0], RuntimeError) and "reader thread" in str(seen[0])


def test_a_thread_that_reuses_the_ended_readers_ident_is_not_taken_for_the_reader() -> None:
    """Thread idents are reused at once on Linux: after the reader ends, a new thread may get its
    ident, and must be told the connection is closed, not that it is the reader."""
    endpoint, _client, server = make_pair()
    try:
        server.close()  # EOF: the reader ends
        assert wait_until(lambda: endpoint._reader is not None and not endpoint._reader.is_alive())
        errors: List[BaseException] = []

        def later() -> None:
            try:
                endpoint.call("ping", None, 1)
            except BaseException as exc:
                errors.append(exc)

        for _ in range(5):  # one of these usually gets the reader's old ident
            thread = threading.Thread(target=later)
            thread.start()
            thread.join(5)
        assert len(errors) == 5 and all(isinstance(exc, ConnectionClosed) for exc in errors), errors
        assert not endpoint.on_reader_thread()
    finally:
        endpoint.close()
