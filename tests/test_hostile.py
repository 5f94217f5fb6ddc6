"""Hostile servers: the client keeps working, loses nothing and hangs on nothing.

Each case is a scripted misbehaviour: a stdio child process (``tests/servers/hostile_server.py``)
or an HTTP server on a thread (``tests/servers/http_scripted.py``). Memory is measured on this
very process: the peak RSS (``VmHWM``, reset through ``/proc/self/clear_refs`` first) against the
RSS before the attack.

Cases already covered elsewhere, not repeated here:

* a server dying mid-call: ``test_stdio.py::test_crash_mid_call_fails_only_pending_calls_with_exit_code_and_stderr``,
  ``test_stdio.py::test_crash_fails_every_concurrent_call_at_once``, and (other servers unaffected)
  ``test_manager.py::test_a_crash_fails_pending_calls_at_once_and_the_server_restarts_on_next_use``;
* dying during ``initialize``: ``test_stdio.py::test_server_that_exits_during_start_up_reports_its_stderr``;
* never answering (timeout, then ``notifications/cancelled`` seen by the server):
  ``test_session.py::test_timeout_sends_cancellation_to_the_server``;
* a grandchild in the server's process group holding stdout:
  ``test_stdio.py::test_close_kills_a_grandchild_that_holds_stdout``;
* HTTP dripping one byte a second, never answering, a 500 mid-session, connection resets:
  ``test_http_transport.py::test_a_slow_or_silent_server_cannot_stretch_the_timeout_and_the_call_is_cancelled``
  and ``test_http_transport.py::test_a_broken_answer_fails_only_the_affected_call``.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator, List, Optional

import pytest

import syncmcp
from syncmcp import ClientSession, ConnectionClosed, HTTPError, RequestTimeout, StdioTransport

from .conftest import SERVERS, leftover_processes, process_alive, wait_until
from .servers.http_scripted import ClientGone, Exchange, ScriptedHTTPServer, sse_event

HOSTILE = SERVERS / "hostile_server.py"
MiB = 1024 * 1024


# ----------------------------------------------------------------------------- helpers


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as handle:
        match = re.search(rf"^{field}:\s+(\d+) kB", handle.read(), re.MULTILINE)
    assert match is not None, field
    return int(match.group(1))


class Memory:
    """Peak RSS growth of this process over a block, in MiB (``VmHWM`` reset at the start)."""

    def __init__(self) -> None:
        self.before = 0
        self.peak = 0

    def __enter__(self) -> Memory:
        gc.collect()
        try:
            with open("/proc/self/clear_refs", "w") as handle:
                handle.write("5")  # resets VmHWM to the current RSS
        except OSError:
            pytest.skip("cannot reset the peak RSS (/proc/self/clear_refs)")
        self.before = _status_kib("VmRSS")
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.peak = _status_kib("VmHWM")

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.before) / 1024


def hostile(mode: str, *flags: str, timeout: float = 10, **transport_options: Any) -> ClientSession:
    """An initialized session with the hostile stdio server in ``mode``."""
    transport = StdioTransport(sys.executable, ["-u", str(HOSTILE), mode, *flags], name=f"hostile-{mode}", **transport_options)
    return _initialized(ClientSession(transport, protocol_era="legacy", timeout=timeout))


def _initialized(session: ClientSession) -> ClientSession:
    try:
        session.initialize(timeout=10)
    except BaseException:
        session.close()
        raise
    return session


def timed_close(session: ClientSession) -> float:
    started = time.monotonic()
    session.close()
    return time.monotonic() - started


def figures(request: pytest.FixtureRequest, **values: Any) -> None:
    """Report measured figures (shown with ``-rP`` or on failure)."""
    print(f"{request.node.name}: " + ", ".join(f"{key}={value}" for key, value in values.items()))


# ============================================================================= stdio


@pytest.mark.timeout(20)
def test_a_partial_line_then_exit_fails_the_call_promptly_with_the_stderr_tail() -> None:
    session = hostile("partial-line")
    try:
        started = time.monotonic()
        with pytest.raises(ConnectionClosed) as info:
            session.call_tool("attack", timeout=10)
        assert time.monotonic() - started < 3
        assert info.value.returncode == 5
        assert "cut off mid-line" in info.value.stderr_tail
        assert session.stats["invalid"] == 1  # the half line was counted and skipped, not taken for a message
        assert session.closed
        with pytest.raises(ConnectionClosed, match="cut off mid-line"):
            session.call_tool("attack", timeout=1)
    finally:
        session.close()


@pytest.mark.slow
@pytest.mark.timeout(20)
def test_a_200_mb_line_is_rejected_by_the_size_cap_with_bounded_memory(request: pytest.FixtureRequest) -> None:
    """The default cap (64 MiB): the line is refused once the cap is passed, never read whole."""
    session = hostile("huge-line", "--size", str(200 * MiB))
    cap = session.transport.max_message_size  # type: ignore[attr-defined]
    try:
        with Memory() as memory:
            started = time.monotonic()
            with pytest.raises(ConnectionClosed, match=f"larger than the {cap}-byte limit"):
                session.call_tool("attack", timeout=15)
            elapsed = time.monotonic() - started
        figures(request, cap_mib=cap / MiB, rss_growth_mib=round(memory.growth_mib, 1), seconds=round(elapsed, 2))
        assert memory.growth_mib < 2 * cap / MiB + 16  # bounded by the cap, far below the 200 MB sent
        assert session.closed
    finally:
        close_seconds = timed_close(session)
    assert close_seconds < 5


@pytest.mark.slow
@pytest.mark.timeout(20)
def test_a_200_mb_line_costs_memory_in_proportion_to_the_cap_not_the_line(request: pytest.FixtureRequest) -> None:
    session = hostile("huge-line", "--size", str(200 * MiB), max_message_size=MiB)
    try:
        with Memory() as memory:
            with pytest.raises(ConnectionClosed, match=f"larger than the {MiB}-byte limit"):
                session.call_tool("attack", timeout=15)
        figures(request, cap_mib=1, rss_growth_mib=round(memory.growth_mib, 1))
        assert memory.growth_mib < 16
    finally:
        session.close()


class _Counter(logging.Handler):
    """A logging handler that only counts (a real application's handler, minus the I/O)."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.records = 0
        self.longest = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.records += 1
        self.longest = max(self.longest, len(record.getMessage()))


@pytest.mark.slow
@pytest.mark.timeout(20)
def test_a_100_mb_stderr_flood_without_newlines_never_blocks_and_keeps_memory_bounded(request: pytest.FixtureRequest) -> None:
    """Stderr logged at INFO (the worst case: the drain splits lines), and one 100 MB "line"."""
    counter = _Counter()
    log = logging.getLogger("syncmcp.servers.hostile-stderr-flood.stderr")
    log.addHandler(counter)
    log.setLevel(logging.INFO)
    log.propagate = False  # to the counter only: pytest's log capture would keep every record
    session = hostile("stderr-flood", "--size", str(100 * MiB), timeout=15)
    try:
        with Memory() as memory:
            started = time.monotonic()
            assert session.call_tool("attack", timeout=15).text == "flooded"
            elapsed = time.monotonic() - started
        tail = session.transport.stderr_tail(max_chars=None)  # type: ignore[attr-defined]
        assert 0 < len(tail) <= 64 * 1024
        assert wait_until(lambda: "end of the flood" in session.transport.stderr_tail(), timeout=5)  # type: ignore[attr-defined]
        assert counter.longest <= 2 * 64 * 1024  # logged in pieces (the cap plus one read), never one 100 MB record
        figures(request, rss_growth_mib=round(memory.growth_mib, 1), seconds=round(elapsed, 2), log_records=counter.records)
        assert memory.growth_mib < 32
    finally:
        session.close()
        log.removeHandler(counter)
        log.setLevel(logging.NOTSET)
        log.propagate = True


@pytest.mark.slow
@pytest.mark.timeout(20)
def test_100k_notifications_during_a_call_are_all_delivered_and_memory_stays_bounded(request: pytest.FixtureRequest) -> None:
    count = 100_000
    seen: List[float] = []
    session = hostile("notify-flood", "--count", str(count), timeout=15)
    try:
        with Memory() as memory:
            started = time.monotonic()
            result = session.call_tool("attack", timeout=15, on_progress=lambda progress, total, message: seen.append(progress))
            elapsed = time.monotonic() - started
        assert result.text == f"sent {count}"
        assert len(seen) == count  # every one of them, before the result
        assert seen == sorted(seen) and seen[-1] == count
        figures(request, rss_growth_mib=round(memory.growth_mib, 1), seconds=round(elapsed, 2))
        assert memory.growth_mib < 48
        assert session.call_tool("attack", timeout=15).text == f"sent {count}"  # still usable
    finally:
        session.close()


@pytest.mark.slow
@pytest.mark.timeout(20)
def test_server_requests_faster_than_the_handlers_are_all_answered_with_bounded_memory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """20 000 ``roots/list`` of 4 KiB each, sent while every handler is stuck.

    Memory bounded means the client does not queue them all: it may refuse some (an error
    answer), but every request gets exactly one answer once the handlers move again.
    """
    count, padding = 20_000, 4096
    release = threading.Event()
    calls = [0]

    def roots() -> List[str]:
        calls[0] += 1
        release.wait(15)
        return [str(tmp_path)]

    record = tmp_path / "record.txt"
    transport = StdioTransport(
        sys.executable,
        ["-u", str(HOSTILE), "request-flood", "--count", str(count), "--size", str(padding), "--record", str(record)],
        name="hostile-request-flood",
    )
    session = _initialized(ClientSession(transport, protocol_era="legacy", timeout=15, roots=roots))
    try:
        with Memory() as memory:
            pending = session.submit("tools/call", {"name": "attack", "arguments": {}})
            flooded = wait_until(lambda: "flood written" in record.read_text(), timeout=15)
            # Give the reader time to take in what the pipe holds, then let the handlers go.
            wait_until(lambda: session.stats["received"] >= count, timeout=5)
            received = session.stats["received"]
            release.set()
            answer = pending.result(timeout=15)
        answers = json.loads(answer["content"][0]["text"])
        figures(request, rss_growth_mib=round(memory.growth_mib, 1), received_while_stuck=received, answers=answers)
        assert flooded
        assert answers["result"] + answers["error"] == count  # every request answered exactly once
        assert answers["result"] >= 8  # the handlers' own work went through
        assert memory.growth_mib < 32, f"{received} server requests were queued while the handlers were busy"
    finally:
        release.set()
        session.close()


@pytest.mark.slow
@pytest.mark.timeout(20)
def test_a_server_ignoring_stdin_close_and_sigterm_is_killed_within_the_grace_bound(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Default graces (1 s after stdin closes, 2 s after SIGTERM), with a call in flight."""
    record = tmp_path / "record.txt"
    session = hostile("stubborn", "--record", str(record))
    transport = session.transport
    pid = transport.pid  # type: ignore[attr-defined]
    grace = transport.shutdown_grace + transport.terminate_grace  # type: ignore[attr-defined]
    errors: List[BaseException] = []

    def call() -> None:
        try:
            session.call_tool("attack", timeout=30)
        except BaseException as exc:
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    try:
        assert wait_until(lambda: record.exists() and "parked" in record.read_text(), timeout=5)
    finally:
        close_seconds = timed_close(session)
        caller.join(5)
    figures(request, close_seconds=round(close_seconds, 2), grace_seconds=grace)
    assert grace - 0.05 <= close_seconds < grace + 1.5
    assert transport.returncode == -signal.SIGKILL  # type: ignore[attr-defined]
    assert len(errors) == 1 and isinstance(errors[0], ConnectionClosed)
    assert "stdin closed" in record.read_text()  # it saw the end of its input, and went on anyway
    assert wait_until(lambda: not leftover_processes([pid]), timeout=3)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


@pytest.mark.slow
@pytest.mark.timeout(20)
def test_a_grandchild_outside_the_process_group_holding_stdout_cannot_hang_close(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The grandchild escaped with setsid(): signalling the group misses it, and it keeps the
    write end of the client's stdout (and stderr) pipe open, so the reader never sees EOF.

    Nothing the client can do reaches that process; but close() must return in bounded time and
    leave no thread blocked on its pipe. A watchdog kills the grandchild after 4 s, so a close()
    that waits for the pipe to end takes about 4 s instead of its full 15 s of joins.
    """
    record = tmp_path / "record.txt"
    session = hostile("setsid-grandchild", "--record", str(record), shutdown_grace=0.2, terminate_grace=0.3)
    grandchild = 0
    watchdog: Optional[threading.Timer] = None
    try:
        grandchild = int(session.call_tool("attack", timeout=10).text)
        assert process_alive(grandchild)
        watchdog = threading.Timer(4.0, _kill, (grandchild,))
        watchdog.start()
        close_seconds = timed_close(session)
        blocked = [t.name for t in threading.enumerate() if t.name.startswith("syncmcp-") and t.is_alive()]
        figures(request, close_seconds=round(close_seconds, 2), threads_left=blocked)
        assert close_seconds < 2, f"close() took {close_seconds:.1f} s"
        assert not blocked, f"threads still blocked on the grandchild's pipe: {blocked}"
    finally:
        if watchdog is not None:
            watchdog.cancel()
        if grandchild:
            _kill(grandchild)  # the test cleans up what the client cannot reach
        session.close()


@pytest.mark.timeout(20)
def test_a_server_that_closes_stdout_but_keeps_running_fails_the_session_promptly_and_is_reaped(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    record = tmp_path / "record.txt"
    session = hostile("close-stdout", "--record", str(record), shutdown_grace=0.2, terminate_grace=0.5)
    pid = session.transport.pid  # type: ignore[attr-defined]
    try:
        started = time.monotonic()
        with pytest.raises(ConnectionClosed, match="closed its output") as info:
            session.call_tool("attack", timeout=15)
        failed_after = time.monotonic() - started
        assert info.value.returncode is None  # it had not exited: the output closed, not the process
        assert "stdout closed" in record.read_text()
        assert session.closed
    finally:
        close_seconds = timed_close(session)
    figures(request, failed_after_seconds=round(failed_after, 2), close_seconds=round(close_seconds, 2))
    assert failed_after < 3
    assert close_seconds < 3
    assert session.transport.returncode is not None  # type: ignore[attr-defined]
    assert wait_until(lambda: not leftover_processes([pid]), timeout=3)


# ============================================================================= HTTP


@pytest.fixture(autouse=True)
def no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine's proxy settings must not route the tests' local traffic."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def legacy() -> Iterator[ScriptedHTTPServer]:
    with ScriptedHTTPServer("legacy") as server:
        yield server
    assert not server.errors, "\n".join(server.errors)


def http_threads() -> List[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("syncmcp-http")]


def when_text(text: str, misbehave: Any) -> Any:
    """A ``tools/call`` handler: ``misbehave(ex)`` for ``echo(text)``, the echo otherwise."""

    def handler(ex: Exchange) -> Any:
        if ex.params.get("arguments", {}).get("text") == text:
            return misbehave(ex)
        return {"content": [{"type": "text", "text": ex.params["arguments"]["text"]}]}

    return handler


def echo(session: ClientSession, text: str, **kwargs: Any) -> str:
    return session.call_tool("echo", {"text": text}, **kwargs).text


@pytest.mark.timeout(20)
def test_http_a_response_that_never_ends_times_out_and_its_connection_is_closed(legacy: ScriptedHTTPServer) -> None:
    """Headers and the first bytes of a JSON body (of a promised length), then nothing."""

    def never_ends(ex: Exchange) -> None:
        body = json.dumps({"jsonrpc": "2.0", "id": ex.id, "result": {"content": []}}).encode()
        ex.head(200, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        ex.write(body[:10])
        ex.hang(30)

    legacy.handlers["tools/call"] = when_text("stuck", never_ends)
    session = syncmcp.connect_http(legacy.url, name="scripted", timeout=10)
    try:
        assert echo(session, "before") == "before"
        started = time.monotonic()
        with pytest.raises(RequestTimeout):
            echo(session, "stuck", timeout=0.5)
        assert 0.5 <= time.monotonic() - started < 1.5
        assert legacy.wait_for(lambda: legacy.hung_up == 1, timeout=3)  # the half-read connection was not kept
        assert legacy.wait_for(lambda: legacy.posts("notifications/cancelled"))
        assert echo(session, "after") == "after"
    finally:
        close_seconds = timed_close(session)
    assert close_seconds < 1.5
    assert not http_threads()


@pytest.mark.timeout(20)
def test_http_a_server_answering_everything_with_500_fails_the_connect_with_a_typed_error() -> None:
    with ScriptedHTTPServer("legacy") as server:
        server.hook = lambda ex: ex.respond(500, b"<html>Internal Server Error</html>", content_type="text/html")
        started = time.monotonic()
        with pytest.raises(HTTPError) as info:
            syncmcp.connect_http(server.url, name="scripted", timeout=10)
        elapsed = time.monotonic() - started
        assert info.value.status == 500
        assert elapsed < 3
        assert not http_threads()
        attempts = len(server.requests)
    assert attempts <= 4  # no retry storm on a status that is not transient
    assert not server.errors, "\n".join(server.errors)


@pytest.mark.slow
@pytest.mark.timeout(20)
def test_http_an_endless_sse_stream_of_notifications_without_a_response_times_out_with_bounded_memory(
    legacy: ScriptedHTTPServer, request: pytest.FixtureRequest
) -> None:
    sent = [0]
    logged: List[Any] = []
    event = sse_event({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": "x" * 200}})
    burst = event * 100

    def endless(ex: Exchange) -> None:
        stream = ex.stream()
        try:
            while not legacy.stopping.is_set():
                stream.write(burst)
                sent[0] += 100
        except ClientGone:
            ex._left()

    legacy.handlers["tools/call"] = when_text("endless", endless)
    session = syncmcp.connect_http(legacy.url, name="scripted", timeout=10, on_log=lambda *args: logged.append(1))
    try:
        with Memory() as memory:
            started = time.monotonic()
            with pytest.raises(RequestTimeout):
                echo(session, "endless", timeout=3)
            elapsed = time.monotonic() - started
        figures(request, rss_growth_mib=round(memory.growth_mib, 1), events_sent=sent[0], delivered=len(logged),
                seconds=round(elapsed, 2))
        assert 3 <= elapsed < 4.5
        assert sent[0] > 1000
        assert legacy.wait_for(lambda: legacy.hung_up == 1, timeout=10)  # the stream was closed, the server stopped writing
        assert memory.growth_mib < 48
        assert echo(session, "after") == "after"
    finally:
        close_seconds = timed_close(session)
    assert close_seconds < 1.5
    assert not http_threads()

