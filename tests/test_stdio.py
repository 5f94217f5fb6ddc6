"""The stdio transport with real child processes (the scripted stdlib server)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import syncmcp
from syncmcp import ConnectionClosed, ServerStartError, StdioTransport
from syncmcp._stdio import ENV_ALLOWLIST, child_environment

from .conftest import SCRIPTED, leftover_processes, scripted, wait_until


def connect_scripted(*flags: str, **kwargs: object) -> syncmcp.ClientSession:
    command = scripted(*flags)
    kwargs.setdefault("name", "scripted")
    return syncmcp.connect(command[0], command[1:], **kwargs)  # type: ignore[arg-type]


def test_child_environment_is_the_allow_list_plus_env_vars_plus_env() -> None:
    parent = {"PATH": "/bin", "HOME": "/h", "SECRET_TOKEN": "s3cr3t", "PASS_ME": "yes"}
    env, missing = child_environment({"EXTRA": "1", "HOME": "/override"}, ["PASS_ME", "ABSENT"], parent=parent)
    assert env == {"PATH": "/bin", "HOME": "/override", "PASS_ME": "yes", "EXTRA": "1"}
    assert missing == ["ABSENT"]
    assert "SECRET_TOKEN" not in env


def test_spawned_server_sees_only_the_allowed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCMCP_TEST_SECRET", "do-not-leak")
    monkeypatch.setenv("SYNCMCP_TEST_PASSED", "passed-through")
    with connect_scripted(env={"SYNCMCP_TEST_LITERAL": "literal"}, env_vars=["SYNCMCP_TEST_PASSED"]) as session:
        env = json.loads(session.call_tool("env").text)
    assert env["SYNCMCP_TEST_LITERAL"] == "literal"
    assert env["SYNCMCP_TEST_PASSED"] == "passed-through"
    assert "SYNCMCP_TEST_SECRET" not in env
    unexpected = set(env) - set(ENV_ALLOWLIST) - {"SYNCMCP_TEST_LITERAL", "SYNCMCP_TEST_PASSED", "LC_CTYPE"}
    assert not unexpected


def test_cwd_is_honoured(tmp_path: Path) -> None:
    with connect_scripted(cwd=str(tmp_path)) as session:
        assert session.call_tool("cwd").text == str(tmp_path)


def test_missing_command_is_a_clear_start_error() -> None:
    with pytest.raises(ServerStartError, match="'no-such-mcp-server-xyz' was not found on PATH"):
        syncmcp.connect("no-such-mcp-server-xyz")


def test_missing_cwd_is_a_clear_start_error(tmp_path: Path) -> None:
    with pytest.raises(ServerStartError, match="working directory .* does not exist"):
        syncmcp.connect(sys.executable, ["-c", "pass"], cwd=str(tmp_path / "nope"))


def test_crash_mid_call_fails_only_pending_calls_with_exit_code_and_stderr() -> None:
    session = connect_scripted()
    try:
        started = time.monotonic()
        with pytest.raises(ConnectionClosed) as info:
            session.call_tool("crash", {"code": 7, "message": "fatal: database is on fire"}, timeout=30)
        assert time.monotonic() - started < 5
        assert info.value.returncode == 7
        assert "database is on fire" in info.value.stderr_tail
        assert "exit code 7" in str(info.value)
        with pytest.raises(ConnectionClosed, match="database is on fire"):
            session.call_tool("echo", {"text": "after"})
        assert session.closed
    finally:
        session.close()


def test_crash_fails_every_concurrent_call_at_once() -> None:
    session = connect_scripted()
    errors = []
    try:
        def park() -> None:
            try:
                session.call_tool("park", {"seconds": 60}, timeout=60)
            except ConnectionClosed as exc:
                errors.append(exc)

        threads = [threading.Thread(target=park) for _ in range(5)]
        for thread in threads:
            thread.start()
        with pytest.raises(ConnectionClosed):
            session.call_tool("crash", {"code": 1})
        for thread in threads:
            thread.join(10)
        assert len(errors) == 5
    finally:
        session.close()


def test_server_that_exits_during_start_up_reports_its_stderr() -> None:
    with pytest.raises(ConnectionClosed) as info:
        connect_scripted("--init-exit", "4")
    assert info.value.returncode == 4
    assert "scripted start-up failure" in str(info.value)


def test_stderr_flood_never_blocks_the_server_and_keeps_a_bounded_tail() -> None:
    with connect_scripted() as session:
        assert session.call_tool("stderr_flood", {"kib": 8192}, timeout=60).text == "flooded"
        tail = session.transport.stderr_tail(max_chars=None)  # type: ignore[attr-defined]
        assert 0 < len(tail) <= 64 * 1024
        assert session.call_tool("echo", {"text": "still alive"}).text == "still alive"


def test_stderr_lines_go_to_a_logger_per_server(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="syncmcp.servers.scripted.stderr"):
        session = connect_scripted()
        try:
            with pytest.raises(ConnectionClosed):
                session.call_tool("crash", {"message": "a line for the logs"})
        finally:
            session.close()
    assert any(r.name == "syncmcp.servers.scripted.stderr" and r.getMessage() == "a line for the logs" for r in caplog.records)


def test_close_escalates_to_sigterm_then_sigkill_and_reaps() -> None:
    transport = StdioTransport(scripted("--ignore-eof", "--ignore-sigterm")[0], scripted("--ignore-eof", "--ignore-sigterm")[1:],
                               name="stubborn", shutdown_grace=0.2, terminate_grace=0.3)
    session = syncmcp.ClientSession(transport)
    session.initialize(timeout=10)
    pid = transport.pid
    assert pid is not None
    started = time.monotonic()
    session.close()
    assert time.monotonic() - started < 5
    assert transport.returncode == -9
    assert wait_until(lambda: not leftover_processes([pid]), timeout=3)  # SIGKILLed processes take a moment to go


def test_close_kills_a_grandchild_that_holds_stdout() -> None:
    session = connect_scripted()
    transport = session.transport
    pid = transport.pid  # type: ignore[attr-defined]
    try:
        assert session.call_tool("spawn_grandchild").text == "spawned"
    finally:
        session.close()
    assert wait_until(lambda: not leftover_processes([pid]), timeout=3)  # SIGKILLed processes take a moment to go


def test_close_is_idempotent_and_safe_from_many_threads() -> None:
    session = connect_scripted()
    threads = [threading.Thread(target=session.close) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    assert not any(thread.is_alive() for thread in threads)
    session.close()
    assert session.closed


def test_oversized_message_fails_the_connection_clearly() -> None:
    command = scripted()
    transport = StdioTransport(command[0], command[1:], name="big", max_message_size=1024)
    session = syncmcp.ClientSession(transport)
    session.initialize(timeout=10)
    try:
        with pytest.raises(ConnectionClosed, match="larger than the 1024-byte limit"):
            session.call_tool("oversize", {"size": 4096}, timeout=10)
    finally:
        session.close()


def test_large_messages_round_trip() -> None:
    with connect_scripted() as session:
        size = 10 * 1024 * 1024
        assert len(session.call_tool("big", {"size": size}, timeout=60).text) == size
        text = "é" * (1024 * 1024)
        assert session.call_tool("echo", {"text": text}, timeout=60).text == text


def test_garbage_on_stdout_is_logged_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    with connect_scripted("--banner") as session:
        with caplog.at_level("WARNING", logger="syncmcp.endpoint"):
            assert session.call_tool("garbage_then_answer").text == "after garbage"
        assert session.stats["invalid"] >= 3  # banner, the non-JSON line, the array of non-messages
        assert session.stats["dropped_responses"] == 1
    assert any("not JSON-RPC" in r.getMessage() for r in caplog.records)


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    with connect_scripted() as session:
        assert session.call_tool("invalid_utf8").text == "bad \ufffd\ufffd bytes"
        assert session.call_tool("echo", {"text": "ok"}).text == "ok"


def test_forgotten_sessions_are_reaped_at_interpreter_exit(tmp_path: Path) -> None:
    """A script that opens sessions and exits without closing them leaves no process behind."""
    script = tmp_path / "forget.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(syncmcp.__file__).parent.parent)!r})
        import syncmcp
        sessions = [syncmcp.connect(sys.executable, ["-u", {str(SCRIPTED)!r}, "--ignore-eof"]) for _ in range(3)]
        print(" ".join(str(s.transport.pid) for s in sessions), flush=True)
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=True)
    pids = [int(p) for p in done.stdout.split()]
    assert len(pids) == 3
    assert wait_until(lambda: not leftover_processes(pids), timeout=3)


def test_a_close_racing_an_open_leaves_nothing_armed(monkeypatch: pytest.MonkeyPatch) -> None:
    """close() waits for a concurrent open() to finish setting up, then stops what it started."""
    command = scripted()
    transport = StdioTransport(command[0], command[1:], name="race", shutdown_grace=0.2)
    spawned = threading.Event()
    release = threading.Event()
    real_spawn = transport._spawn

    def slow_spawn() -> Any:
        proc = real_spawn()
        spawned.set()
        assert release.wait(10)  # open() is stuck between spawning and arming the finaliser
        return proc

    monkeypatch.setattr(transport, "_spawn", slow_spawn)
    opener = threading.Thread(target=transport.open)
    opener.start()
    assert spawned.wait(10)
    closer = threading.Thread(target=transport.close)
    closer.start()
    release.set()
    opener.join(10)
    closer.join(15)
    assert transport.returncode is not None  # reaped
    assert transport._finalizer is not None and not transport._finalizer.alive


def test_sigterm_stops_the_servers_when_asked(tmp_path: Path) -> None:
    """A plain SIGTERM skips exit handlers; stop_servers_on_sigterm() routes it through them."""
    import signal as signals

    script = tmp_path / "service.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(Path(syncmcp.__file__).parent.parent)!r})
        import syncmcp
        assert syncmcp.stop_servers_on_sigterm()
        session = syncmcp.connect(sys.executable, ["-u", {str(SCRIPTED)!r}, "--ignore-eof"])
        print(session.transport.pid, flush=True)
        time.sleep(60)
    """))
    service = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert service.stdout is not None
        pid = int(service.stdout.readline())
        service.send_signal(signals.SIGTERM)
        assert service.wait(15) == 143
    finally:
        if service.poll() is None:
            service.kill()
            service.wait(5)
        assert service.stdout is not None
        service.stdout.close()
    assert wait_until(lambda: not leftover_processes([pid]), timeout=5)


def test_a_write_cut_short_is_finished_from_where_it_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from syncmcp import _transport

    real_write = os.write
    writes = []

    def short_write(fd: int, data: Any) -> int:  # as a signal arriving mid-write would leave it
        writes.append(len(data))
        return real_write(fd, bytes(data[:7]))

    with connect_scripted() as session:
        monkeypatch.setattr(_transport.os, "write", short_write)
        assert session.call_tool("echo", {"text": "a message much longer than seven bytes"}).text == (
            "a message much longer than seven bytes"
        )
        assert len(writes) > 2
