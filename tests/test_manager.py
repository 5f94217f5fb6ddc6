"""MCPManager against the scripted stdlib server: start-up, routing, restarts, sandbox, elicitation, lifecycle."""

from __future__ import annotations

import gc
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest

import syncmcp
from syncmcp import (
    ConfigError,
    ConnectionClosed,
    ElicitationRequest,
    ListChanged,
    MCPManager,
    RemoteError,
    RemoteProtocolError,
    RequestTimeout,
    RestartPolicy,
    SandboxState,
    ServerExited,
    ServerState,
    ServerUnavailableError,
    SessionClosedError,
    StartupComplete,
    StartupError,
    StartupUpdate,
    ToolCallBegin,
    ToolCallEnd,
    ToolDisabledError,
    UnknownServerError,
    UnknownToolError,
)

from .conftest import ROOT, SCRIPTED, leftover_processes, process_alive, scripted, wait_until


def server(*flags: str, **config: Any) -> Dict[str, Any]:
    command = scripted(*flags)
    return {"command": command[0], "args": command[1:], **config}


def make(servers: Dict[str, Any], **kwargs: Any) -> MCPManager:
    kwargs.setdefault("shutdown_grace", 0.2)
    return MCPManager(servers, **kwargs)


class EventLog:
    """Collects manager events; tests wait on it instead of sleeping."""

    def __init__(self) -> None:
        self.events: List[Any] = []
        self._times: List[Tuple[Any, float]] = []
        self._cond = threading.Condition()

    def __call__(self, event: Any) -> None:
        with self._cond:
            self.events.append(event)
            self._times.append((event, time.monotonic()))
            self._cond.notify_all()

    def time_of(self, event: Any) -> float:
        """When ``event`` reached ``on_event`` (``time.monotonic()``)."""
        with self._cond:
            return next(at for seen, at in self._times if seen is event)

    def wait_for(self, predicate: Callable[[Any], bool], timeout: float = 10.0) -> Any:
        with self._cond:
            assert self._cond.wait_for(lambda: any(predicate(e) for e in self.events), timeout), f"no such event in {self.events}"
            return next(e for e in self.events if predicate(e))

    def of(self, kind: type) -> List[Any]:
        with self._cond:
            return [e for e in self.events if isinstance(e, kind)]


def pid_of(manager: MCPManager, name: str) -> int:
    return int(manager.call_server_tool(name, "pid").text)


class Gate:
    """A local port that servers run with ``--init-gate PORT`` connect to during their handshake.

    It lets them all go at once, when ``count`` of them are waiting: they can then only all finish
    starting if their start-ups overlap (one after the other, the first would wait until its
    start-up deadline and fail). Nothing sleeps: servers block on the socket, the gate on accept.
    """

    def __init__(self, count: int, timeout: float = 60.0) -> None:
        self.count = count
        self.opened = False
        self._stopping = False
        self._deadline = time.monotonic() + timeout
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._run, name="test-gate", daemon=True)

    def _run(self) -> None:
        waiting: List[socket.socket] = []
        try:
            while len(waiting) < self.count:
                self._listener.settimeout(max(0.01, self._deadline - time.monotonic()))
                connection, _ = self._listener.accept()
                if self._stopping:
                    connection.close()
                    return
                waiting.append(connection)
            self.opened = True
            for connection in waiting:
                connection.sendall(b"go")
        except OSError:  # the deadline passed: the servers waiting get no go and fail their start-up
            pass
        finally:
            for connection in waiting:
                connection.close()
            self._listener.close()

    def __enter__(self) -> Gate:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._thread.is_alive():  # wake the accept with a connection it recognises as the stop
            self._stopping = True
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=5).close()
            except OSError:
                pass
        self._thread.join(10)


# ----------------------------------------------------------------------------- start-up


def test_servers_start_in_parallel_and_report_like_codex() -> None:
    log = EventLog()
    servers = {"ok": server(), "exits": server("--init-exit", "3"), "missing": {"command": "no-such-mcp-server-here"}}
    with make(servers, on_event=log) as manager:
        summary = log.wait_for(lambda e: isinstance(e, StartupComplete))
        assert summary.ready == ("ok",)
        assert [f.server for f in summary.failed] == ["exits", "missing"]  # configuration order
        assert summary.cancelled == ()
        updates = log.of(StartupUpdate)
        for name in servers:
            mine = [u.status for u in updates if u.server == name]
            assert mine == ["starting", "ready" if name == "ok" else "failed"]
        assert log.events[-1] is summary  # the summary comes after every per-server event
        status = manager.startup_status()
        assert [s.state for s in status.values()] == [ServerState.READY, ServerState.FAILED, ServerState.FAILED]
        exits = status["exits"].error or ""
        assert exits.startswith("MCP client for `exits` failed to start: MCP startup failed: ")
        assert "(exit code 3)" in exits and "scripted start-up failure" in exits  # the stderr tail
        assert "command 'no-such-mcp-server-here' was not found" in (status["missing"].error or "")
        assert manager.call_tool("ok__echo", {"text": "works"}).text == "works"
        with pytest.raises(ServerUnavailableError, match="^failed to get client: MCP client for `exits` failed to start") as info:
            manager.call_server_tool("exits", "echo")
        assert isinstance(info.value.__cause__, ConnectionClosed)


def test_start_ups_run_in_parallel() -> None:
    """Four servers whose handshakes each wait until all four are handshaking: all four become
    ready only if their start-ups run at the same time (proved without timing anything)."""
    with Gate(4) as gate:
        servers = {f"s{i}": server("--init-gate", str(gate.port)) for i in range(4)}
        with make(servers) as manager:
            assert manager.wait_for_startup(30)
            assert all(status.ready for status in manager.startup_status().values())
        assert gate.opened


def test_one_deadline_covers_handshake_and_tool_listing_and_slow_servers_block_nobody() -> None:
    """``fast`` is ready before either slow server gives up (events arrive in the order they
    happened), and the listing of ``slow_list`` gets only what its 1.2 s handshake left of the
    one 2 s deadline, not a deadline of its own."""
    log = EventLog()
    servers = {
        "slow_init": server("--no-init-answer", startup_timeout_sec=2.0),
        "slow_list": server("--init-delay", "1.2", "--list-delay", "30", startup_timeout_sec=2.0),
        "fast": server(),
    }
    with make(servers, on_event=log) as manager:
        summary = log.wait_for(lambda e: isinstance(e, StartupComplete), timeout=30)
        assert summary.ready == ("fast",)
        outcomes = [(u.server, u.status) for u in log.of(StartupUpdate) if u.status != "starting"]
        assert outcomes[0] == ("fast", "ready")  # not held back by the slow ones
        for name in ("slow_init", "slow_list"):
            error = manager.startup_status()[name].error or ""
            assert error == (
                f"MCP client for `{name}` timed out after 2 seconds. Add or adjust `startup_timeout_sec` in your config.toml:\n"
                f"[mcp_servers.{name}]\nstartup_timeout_sec = XX"
            )
        failure = next(u for u in log.of(StartupUpdate) if u.server == "slow_list" and u.status == "failed")
        assert isinstance(failure.exception, RequestTimeout)
        assert failure.exception.method == "tools/list"
        assert failure.exception.timeout is not None and failure.exception.timeout <= 2.0 - 1.2


def test_required_failure_raises_startup_error_after_closing_everything() -> None:
    log = EventLog()
    with pytest.raises(StartupError) as info:
        make({"fine": server(), "vital": server("--init-exit", "5", required=True)}, on_event=log)
    assert set(info.value.errors) == {"vital"}
    assert str(info.value).startswith("required MCP servers failed to initialize: vital: failed to get client: MCP client for `vital`")
    # The leak check after this test proves "fine" was stopped too.


def test_disabled_servers_never_start() -> None:
    log = EventLog()
    with make({"on": server(), "off": server(enabled=False)}, on_event=log) as manager:
        log.wait_for(lambda e: isinstance(e, StartupComplete))
        assert manager.startup_status()["off"].state is ServerState.DISABLED
        assert all(u.server != "off" for u in log.of(StartupUpdate))
        assert not any(name.startswith("off__") for name in manager.list_all_tools())
        with pytest.raises(ServerUnavailableError, match="disabled"):
            manager.call_server_tool("off", "echo")


def test_wait_for_server_ready() -> None:
    with make({"ok": server(), "bad": server("--init-exit", "1")}, lazy=True) as manager:
        assert manager.startup_status()["ok"].state is ServerState.PENDING
        assert manager.wait_for_server_ready("ok", 10)
        assert not manager.wait_for_server_ready("bad", 10)
        assert not manager.wait_for_server_ready("nope", 1)
        assert manager.wait_for_startup(10)


# ----------------------------------------------------------------------------- tools


def test_qualified_names_are_looked_up_never_split() -> None:
    """("a", "b_.c") and ("a__b", "c") collide after sanitising; each still reaches its own server."""
    with make({"a": server("--tool", "b_.c"), "a__b": server("--tool", "c")}) as manager:
        tools = manager.list_all_tools()
        hashed = "a__b__c" + __import__("hashlib").sha1(b"a__b__c").hexdigest()
        assert (tools["a__b__c"].server, tools["a__b__c"].tool_name) == ("a", "b_.c")
        assert (tools[hashed].server, tools[hashed].tool_name) == ("a__b", "c")
        assert manager.call_tool("a__b__c").text == "b_.c called"
        assert manager.call_tool(hashed).text == "c called"
        assert manager.parse_tool_name("a__b__c") == ("a", "b_.c")
        assert manager.parse_tool_name("a__b__nothing") is None


def test_names_do_not_depend_on_which_server_finished_first() -> None:
    results = []
    finish_orders = []
    for first_delay, second_delay in (("0.6", "0"), ("0", "0.6")):
        log = EventLog()
        servers = {"a": server("--tool", "b_.c", "--init-delay", first_delay), "a__b": server("--tool", "c", "--init-delay", second_delay)}
        with make(servers, on_event=log) as manager:
            results.append({name: (info.server, info.tool_name) for name, info in manager.list_all_tools().items()})
        finish_orders.append([u.server for u in log.of(StartupUpdate) if u.status == "ready"])
    assert finish_orders[0] != finish_orders[1]  # both orders really happened
    assert results[0] == results[1]
    assert results[0]["a__b__c"] == ("a", "b_.c")


def test_prefix_gives_codex_names() -> None:
    with make({"srv": server()}, tool_name_prefix="mcp") as manager:
        assert "mcp__srv__echo" in manager.list_all_tools()
        assert manager.call_tool("mcp__srv__echo", {"text": "p"}).text == "p"


def test_filters_hide_tools_and_calls_are_rechecked_with_codex_text() -> None:
    with make({"srv": server(disabled_tools=["add"]), "only": server(enabled_tools=["echo"])}) as manager:
        tools = manager.list_all_tools()
        assert "srv__add" not in tools and "srv__echo" in tools
        assert [name for name in tools if name.startswith("only__")] == ["only__echo"]
        with pytest.raises(ToolDisabledError, match="^tool 'add' is disabled for MCP server 'srv'$"):
            manager.call_tool("srv__add", {"a": 1, "b": 2})
        with pytest.raises(ToolDisabledError, match="^tool 'sleep' is disabled for MCP server 'only'$"):
            manager.call_server_tool("only", "sleep")


def test_unknown_tools_and_servers() -> None:
    with make({"srv": server()}) as manager:
        with pytest.raises(UnknownToolError, match=r"unknown tool 'srv__ecoh' \(did you mean 'srv__echo'\?\)"):
            manager.call_tool("srv__ecoh")
        with pytest.raises(UnknownServerError, match="^unknown MCP server 'nope'$"):
            manager.call_server_tool("nope", "echo")
        with pytest.raises(TypeError, match="JSON object"):
            manager.call_tool("srv__echo", ["not", "an", "object"])  # type: ignore[arg-type]


def test_default_timeout_is_the_servers_tool_timeout_and_the_server_is_told() -> None:
    with make({"srv": server(tool_timeout_sec=0.3)}) as manager:
        started = time.monotonic()
        with pytest.raises(RequestTimeout):
            manager.call_tool("srv__park", {"seconds": 30})
        assert 0.25 < time.monotonic() - started < 5
        cancelled = json.loads(manager.call_tool("srv__cancelled_ids").text)
        assert len(cancelled) == 1  # notifications/cancelled reached the server
        assert manager.call_tool("srv__sleep", {"seconds": 0.5}, timeout=10).text == "slept"  # an explicit timeout wins


def test_tool_call_events_and_an_error_result_is_returned_not_raised() -> None:
    log = EventLog()
    with make({"srv": server()}, on_event=log) as manager:
        result = manager.call_tool("srv__fail")
        assert result.is_error and result.text == "it failed"
        end = log.wait_for(lambda e: isinstance(e, ToolCallEnd))
        begin = log.of(ToolCallBegin)[0]
        assert (begin.call_id, begin.server, begin.tool, begin.qualified_name) == (end.call_id, "srv", "fail", "srv__fail")
        assert end.result is result and not end.ok and end.error is None


def test_list_changed_refreshes_the_tool_map(tmp_path: Path) -> None:
    names = tmp_path / "tools.txt"
    names.write_text("first\n")
    log = EventLog()
    with make({"dyn": server("--tools-file", str(names))}, on_event=log, tool_cache=tmp_path / "cache") as manager:
        assert "dyn__first" in manager.list_all_tools()
        names.write_text("first\nsecond\n")
        manager.call_tool("dyn__notify_burst", {"count": 3})
        log.wait_for(lambda e: isinstance(e, ListChanged) and e.kind == "tools")
        assert "dyn__second" in manager.list_all_tools()
        assert manager.call_tool("dyn__second").text == "second called"
        cached = syncmcp.ToolCache(tmp_path / "cache").load(syncmcp._toolcache.tool_cache_key(manager.servers["dyn"]))
        assert cached is not None and "second" in [tool["name"] for tool in cached]



def test_calls_route_by_one_map_until_a_server_changes(tmp_path: Path) -> None:
    """The name map is reused while no server's state or tools changed, and rebuilt after."""
    names = tmp_path / "tools.txt"
    names.write_text("first\n")
    log = EventLog()
    with make({"dyn": server("--tools-file", str(names)), "other": server()}, on_event=log) as manager:
        router, runtime = manager._router, manager._rt
        assert manager.call_tool("dyn__first").text == "first called"
        routes = router._routes()
        for _ in range(3):
            manager.call_tool("dyn__first")
            manager.call_tool("other__echo", {"text": "x"})
        assert router._routes() is routes  # nothing changed: not even re-checked server by server
        mark = runtime.tools_mark
        names.write_text("first\nsecond\n")
        manager.call_tool("dyn__notify_burst", {"count": 1})
        log.wait_for(lambda e: isinstance(e, ListChanged) and e.kind == "tools")
        assert wait_until(lambda: "dyn__second" in manager.list_all_tools())
        assert runtime.tools_mark is not mark and router._routes() is not routes
        assert manager.call_tool("dyn__second").text == "second called"
        routes = router._routes()
        assert manager.restart_server("other")  # a state change (stopped, then ready again)
        assert router._routes() is not routes
        assert manager.call_tool("other__echo", {"text": "y"}).text == "y"
        assert router._routes().routes["other__echo"][1] is runtime.slots["other"]


# ----------------------------------------------------------------------------- lazy start and the disk cache


def test_lazy_servers_start_on_first_use_and_together_when_needed_together() -> None:
    log = EventLog()
    with Gate(2) as gate:  # b and c can only finish starting if they start at the same time
        servers = {
            "a": server("--manager-tools"),
            "b": server("--manager-tools", "--init-gate", str(gate.port)),
            "c": server("--manager-tools", "--init-gate", str(gate.port)),
        }
        with make(servers, lazy=True, on_event=log) as manager:
            assert {s.state for s in manager.startup_status().values()} == {ServerState.PENDING}
            assert log.events == []  # nothing started, nothing announced
            assert manager.call_server_tool("a", "echo", {"text": "x"}).text == "x"
            assert [s.state for s in manager.startup_status().values()] == [ServerState.READY, ServerState.PENDING, ServerState.PENDING]
            tools = manager.list_all_tools()
            assert gate.opened
            assert {"a__echo", "b__echo", "c__echo"} <= set(tools)
            log.wait_for(lambda e: isinstance(e, StartupComplete) and e.ready == ("b", "c"))
            assert [s.ready for s in log.of(StartupComplete)] == [("a",), ("b", "c")]


def test_the_disk_cache_lists_tools_before_any_server_runs(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    servers = {"a": server("--manager-tools"), "b": server("--manager-tools")}
    with make(servers, tool_cache=cache) as first:
        expected = sorted(first.list_all_tools())
    log = EventLog()
    with make(servers, tool_cache=cache, lazy=True, on_event=log) as manager:
        assert sorted(manager.list_all_tools()) == expected  # from disk: no process started
        assert all(s.state is ServerState.PENDING and s.tools_cached for s in manager.startup_status().values())
        assert log.of(StartupUpdate) == []
        pid = int(manager.call_tool("b__pid").text)  # the call starts only b
        assert pid > 0
        status = manager.startup_status()
        assert (status["a"].state, status["b"].state) == (ServerState.PENDING, ServerState.READY)


# ----------------------------------------------------------------------------- crashes, restarts, retries


def test_a_crash_fails_pending_calls_at_once_and_the_server_restarts_on_next_use() -> None:
    log = EventLog()
    with make({"srv": server("--manager-tools"), "other": server()}, on_event=log, restart=RestartPolicy(base_delay=30)) as manager:
        first_pid = pid_of(manager, "srv")
        parked: Dict[str, Any] = {}
        thread = threading.Thread(target=lambda: parked.update(error=_error_of(lambda: manager.call_tool("srv__park", {"seconds": 60}))))
        thread.start()
        with pytest.raises(ConnectionClosed) as info:
            manager.call_tool("srv__crash", {"message": "fatal: out of cheese", "code": 3})
        assert info.value.returncode == 3 and "fatal: out of cheese" in str(info.value)
        thread.join(10)
        assert isinstance(parked["error"], ConnectionClosed)  # the parked call did not hang
        exited = log.wait_for(lambda e: isinstance(e, ServerExited))
        assert (exited.server, exited.returncode) == ("srv", 3)
        assert manager.startup_status()["srv"].state is ServerState.EXITED
        assert "srv__park" in manager.list_all_tools()  # its tools stay listed: it restarts on use
        assert manager.call_tool("other__echo", {"text": "unaffected"}).text == "unaffected"
        second_pid = pid_of(manager, "srv")  # the first restart is immediate
        assert second_pid != first_pid
        assert manager.metrics()["srv"].restarts == 1
        with pytest.raises(ConnectionClosed):
            manager.call_tool("srv__crash")
        with pytest.raises(ServerUnavailableError, match="will be restarted on its next use in") as backoff:
            manager.call_tool("srv__echo", {"text": "too soon"})
        assert 25 < (backoff.value.retry_after or 0) <= 30
        assert manager.restart_server("srv")  # a manual restart skips the backoff
        assert manager.call_tool("srv__echo", {"text": "back"}).text == "back"


def _error_of(fn: Callable[[], Any]) -> Optional[BaseException]:
    try:
        fn()
    except BaseException as exc:
        return exc
    return None


def test_restarts_stop_after_max_attempts() -> None:
    with make({"srv": server()}, restart=RestartPolicy(max_attempts=1, base_delay=0)) as manager:
        with pytest.raises(ConnectionClosed):
            manager.call_tool("srv__crash")
        with pytest.raises(ConnectionClosed):
            manager.call_tool("srv__crash")  # the one allowed restart happened, then it died again
        assert manager.startup_status()["srv"].state is ServerState.FAILED
        with pytest.raises(ServerUnavailableError, match="failed to get client: MCP server 'srv' exited"):
            manager.call_tool("srv__echo", {"text": "x"})


def test_an_idempotent_tool_is_retried_after_the_server_died(tmp_path: Path) -> None:
    marker = tmp_path / "calls.txt"
    servers = {"srv": server("--manager-tools", "--idempotent", "crash_once", tool_retries=1)}
    with make(servers) as manager:
        assert manager.call_tool("srv__crash_once", {"marker": str(marker)}).text == "recovered"
        pids = marker.read_text().split()
        assert len(pids) == 2 and pids[0] != pids[1]  # ran in the dead process, then in the new one
        assert manager.metrics()["srv"].retries == 1


def test_a_tool_not_known_to_be_idempotent_is_never_retried(tmp_path: Path) -> None:
    marker = tmp_path / "calls.txt"
    with make({"srv": server("--manager-tools", tool_retries=3)}) as manager:
        with pytest.raises(ConnectionClosed):
            manager.call_tool("srv__crash_once", {"marker": str(marker)})
        assert len(marker.read_text().split()) == 1
        assert manager.metrics()["srv"].retries == 0


def test_a_tool_the_config_declares_idempotent_is_retried(tmp_path: Path) -> None:
    marker = tmp_path / "calls.txt"
    with make({"srv": server("--manager-tools", tool_retries=1, idempotent_tools=["crash_once"])}) as manager:
        assert manager.call_tool("srv__crash_once", {"marker": str(marker)}).text == "recovered"


def test_no_retry_after_the_server_answered() -> None:
    with make({"srv": server("--manager-tools", tool_retries=3, idempotent_tools=True, tool_timeout_sec=0.3)}) as manager:
        assert manager.call_tool("srv__fail").is_error  # an error result is an answer
        with pytest.raises(RequestTimeout):
            manager.call_tool("srv__park", {"seconds": 30})  # a timeout is not a dead server
        assert manager.metrics()["srv"].retries == 0
        assert manager.metrics()["srv"].restarts == 0


# ----------------------------------------------------------------------------- sandbox state


def updates(manager: MCPManager, name: str) -> List[Any]:
    return json.loads(manager.call_server_tool(name, "sandbox_updates").text)


def test_sandbox_state_reaches_servers_in_the_form_they_declared() -> None:
    first = SandboxState("workspace-write", "/work", writable_roots=["/work", "/data"], network_access=True)
    servers = {
        "ours": server("--manager-tools", "--sandbox", "syncmcp"),
        "codex": server("--manager-tools", "--sandbox", "codex"),
        "both": server("--manager-tools", "--sandbox", "both"),
        "plain": server("--manager-tools"),
        "broken": server("--manager-tools", "--sandbox", "syncmcp", "--sandbox-error"),
    }
    with make(servers, sandbox_state=first) as manager:
        manager.list_all_tools()  # every server is ready: each got the state before "ready"
        assert updates(manager, "ours") == [["syncmcp/sandbox-state/update", first.to_syncmcp()]]
        assert updates(manager, "codex") == [["codex/sandbox-state/update", first.to_codex()]]
        assert updates(manager, "codex")[0][1]["sandboxPolicy"]["writable_roots"] == ["/work", "/data"]
        assert updates(manager, "both") == [["syncmcp/sandbox-state/update", first.to_syncmcp()]]
        assert updates(manager, "plain") == []
        assert manager.startup_status()["broken"].state is ServerState.READY  # a failed update is only a warning
        second = SandboxState("read-only", "/elsewhere")
        failures = manager.notify_sandbox_state_change(second)
        assert set(failures) == {"broken"} and isinstance(failures["broken"], RemoteError)
        assert updates(manager, "ours")[-1] == ["syncmcp/sandbox-state/update", second.to_syncmcp()]
        assert updates(manager, "codex")[-1] == ["codex/sandbox-state/update", second.to_codex()]
        assert manager.sandbox_state == second
        assert manager.restart_server("ours")  # a restarted server gets the current state
        assert updates(manager, "ours") == [["syncmcp/sandbox-state/update", second.to_syncmcp()]]


def test_a_server_starting_later_gets_the_state_set_meanwhile() -> None:
    with make({"late": server("--manager-tools", "--sandbox", "codex")}, lazy=True) as manager:
        state = SandboxState("danger-full-access", "/")
        assert manager.notify_sandbox_state_change(state) == {}
        assert updates(manager, "late") == [["codex/sandbox-state/update", state.to_codex()]]


def test_a_server_that_never_answers_the_sandbox_update_is_ready_within_its_start_up_deadline(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The sandbox update is part of the start-up: it gets what spawn, handshake and listing left
    of the one deadline, not a fresh start-up or tool timeout, and an unanswered update is only a
    warning. The state set while the server was starting is the one it gets."""
    log = EventLog()
    first, second = SandboxState("read-only", "/first"), SandboxState("read-only", "/second")
    mute = server("--manager-tools", "--sandbox", "syncmcp", "--sandbox-silent", "--init-delay", "1.0", startup_timeout_sec=2.0)
    with caplog.at_level(logging.WARNING, logger="syncmcp.manager"):
        started = time.monotonic()
        with make({"mute": mute}, sandbox_state=first, on_event=log) as manager:
            assert manager.notify_sandbox_state_change(second) == {}  # during the 1 s handshake: not ready yet
            ready = log.wait_for(lambda e: isinstance(e, StartupUpdate) and e.status == "ready", timeout=30)
            elapsed = log.time_of(ready) - started
            assert manager.startup_status()["mute"].state is ServerState.READY
            assert updates(manager, "mute") == [["syncmcp/sandbox-state/update", second.to_syncmcp()]]
    failures = [r.args[1] for r in caplog.records if r.getMessage().startswith("Failed to notify sandbox state to MCP server mute")]
    assert len(failures) == 1 and isinstance(failures[0], RequestTimeout)
    assert failures[0].timeout <= 2.0 - 1.0  # what the handshake left of the deadline
    assert elapsed < 2.0 + 0.9  # the deadline plus scheduling (unbounded by it: 3 s at least)


# ----------------------------------------------------------------------------- elicitation


ELICIT = {"message": "Your name?", "requestedSchema": {"type": "object", "properties": {"name": {"type": "string"}}}}


def test_elicitation_becomes_an_event_answered_from_another_thread_and_pauses_the_tool_timeout() -> None:
    log = EventLog()
    with make({"srv": server(tool_timeout_sec=0.3)}, on_event=log) as manager:

        def answer() -> None:
            request = log.wait_for(lambda e: isinstance(e, ElicitationRequest))
            assert manager.pending_elicitations() == [request]
            threading.Event().wait(0.6)  # the user takes longer than the 0.3 s tool timeout
            manager.resolve_elicitation(request.server, request.request_id, {"action": "accept", "content": {"name": "Ada"}})

        helper = threading.Thread(target=answer)
        helper.start()
        result = manager.call_tool("srv__ask_client", {"method": "elicitation/create", "params": ELICIT})
        helper.join(10)
        reply = json.loads(result.text)
        assert reply["result"] == {"action": "accept", "content": {"name": "Ada"}}
        request = log.of(ElicitationRequest)[0]
        assert (request.server, request.message, request.requested_schema) == ("srv", "Your name?", ELICIT["requestedSchema"])
        assert manager.pending_elicitations() == []
        with pytest.raises(syncmcp.UnknownElicitationError, match="elicitation request not found"):
            manager.resolve_elicitation("srv", request.request_id, "accept")


def test_elicitation_handler_answers_directly() -> None:
    seen = []

    def handler(server_name: str, request_id: Any, params: Dict[str, Any]) -> Dict[str, Any]:
        seen.append((server_name, request_id, params["message"]))
        return {"action": "decline"}

    with make({"srv": server()}, elicitation_handler=handler) as manager:
        reply = json.loads(manager.call_tool("srv__ask_client", {"method": "elicitation/create", "params": ELICIT}).text)
        assert reply["result"] == {"action": "decline"}
        assert seen == [("srv", 0, "Your name?")]


def test_without_handler_or_events_servers_are_not_offered_elicitation() -> None:
    with make({"srv": server()}) as manager:
        reply = json.loads(manager.call_tool("srv__ask_client", {"method": "elicitation/create", "params": ELICIT}).text)
        assert reply["error"]["code"] == -32601
        with pytest.raises(RuntimeError, match="not enabled"):
            manager.resolve_elicitation("srv", 0, "accept")


# ----------------------------------------------------------------------------- changing the set of servers


def test_reload_applies_a_diff_and_keeps_unchanged_servers_running(tmp_path: Path) -> None:
    servers = {name: server("--manager-tools") for name in ("keep", "change", "drop")}
    with make(servers) as manager:
        before = {name: pid_of(manager, name) for name in servers}
        new = {"keep": servers["keep"], "change": server("--manager-tools", "--tool", "extra"), "fresh": server("--manager-tools")}
        result = manager.reload(new)
        assert result == syncmcp.ReloadResult(added=("fresh",), removed=("drop",), restarted=("change",), unchanged=("keep",))
        assert list(manager.servers) == ["keep", "change", "fresh"]
        assert pid_of(manager, "keep") == before["keep"]
        assert pid_of(manager, "change") != before["change"]
        assert manager.call_tool("change__extra").text == "extra called"
        assert pid_of(manager, "fresh") > 0
        with pytest.raises(UnknownServerError):
            manager.call_server_tool("drop", "pid")
        assert not any(name.startswith("drop__") for name in manager.list_all_tools())
        config = tmp_path / "servers.json"
        config.write_text(json.dumps({"mcpServers": {"keep": servers["keep"]}}))
        assert manager.reload(config) == syncmcp.ReloadResult(removed=("change", "fresh"), unchanged=("keep",))
        assert pid_of(manager, "keep") == before["keep"]


def test_reload_rejects_an_invalid_configuration_and_changes_nothing() -> None:
    with make({"a": server()}) as manager:
        with pytest.raises(ConfigError):
            manager.reload({"a": server(), "b c": server()})
        with pytest.raises(ConfigError):
            manager.reload({"a": {"command": "x", "bogus": 1}})
        assert list(manager.servers) == ["a"]
        with pytest.raises(ValueError, match="not created from a configuration file"):
            manager.reload()


def test_reload_from_the_file_it_was_created_from(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    command = scripted()
    line = f'command = {json.dumps(command[0])}\nargs = {json.dumps(command[1:])}\n'
    path.write_text(f"[mcp_servers.a]\n{line}")
    with MCPManager.from_config(path, shutdown_grace=0.2) as manager:
        path.write_text(f"[mcp_servers.a]\n{line}\n[mcp_servers.b]\n{line}")
        assert manager.reload().added == ("b",)
        assert manager.call_tool("b__echo", {"text": "from file"}).text == "from file"


class WatchedCache(syncmcp.ToolCache):
    """A tool cache that records, at each read, whether the manager's lock was held, and can run
    something in the middle of a read (another thread changing the set of servers)."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.lock: Any = None
        self.held: List[bool] = []
        self.during_load: Optional[Callable[[], None]] = None

    def load(self, key: str) -> Optional[List[Dict[str, Any]]]:
        self.held.append(self.lock is not None and self.lock.locked())
        action, self.during_load = self.during_load, None
        if action is not None:
            action()
        return super().load(key)


def test_reload_reads_the_tool_cache_outside_the_managers_lock(tmp_path: Path) -> None:
    """Building a server reads its cached tools from disk: reload() does it before taking the
    manager's lock, as add_server() does, so no other thread waits on the disk meanwhile."""
    cache = WatchedCache(tmp_path / "cache")
    with make({"a": server()}, tool_cache=cache, lazy=True) as manager:
        cache.lock = manager._rt.lock
        result = manager.reload({"a": server("--tool", "x"), "b": server()})
        assert (result.restarted, result.added) == (("a",), ("b",))
        manager.add_server("c", server())
        assert cache.held == [False, False, False, False]  # a at creation, then a and b, then c


def test_a_server_added_while_reload_builds_is_taken_into_account(tmp_path: Path) -> None:
    """reload() builds outside the lock against a snapshot; a server another thread adds
    meanwhile is not lost (left running, unlisted): the new configuration, which lacks it,
    removes it like any other server."""
    cache = WatchedCache(tmp_path / "cache")
    with make({"a": server()}, tool_cache=cache, lazy=True) as manager:
        cache.lock = manager._rt.lock
        added = threading.Event()

        def add_concurrently() -> None:
            thread = threading.Thread(target=lambda: (manager.add_server("z", server()), added.set()))
            thread.start()
            thread.join(10)

        cache.during_load = add_concurrently
        result = manager.reload({"a": server(), "b": server()})
        assert added.is_set()  # the other thread was not blocked by the reload
        assert (result.added, result.removed, result.unchanged) == (("b",), ("z",), ("a",))
        assert list(manager.servers) == ["a", "b"]


class ParkedSignal(logging.Handler):
    """Sets ``event`` when the server's stderr says a ``park_signal`` call arrived."""

    def __init__(self, server_name: str) -> None:
        super().__init__()
        self.event = threading.Event()
        self.logger = logging.getLogger(f"syncmcp.servers.{server_name}.stderr")

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("parked"):
            self.event.set()

    def __enter__(self) -> ParkedSignal:
        self.logger.addHandler(self)
        self._level = self.logger.level
        self.logger.setLevel(logging.INFO)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.logger.removeHandler(self)
        self.logger.setLevel(self._level)


def test_add_and_remove_servers_while_calls_run() -> None:
    with make({"a": server()}, drain_timeout=10) as manager:
        manager.add_server("b", server("--manager-tools"))
        assert manager.call_tool("b__echo", {"text": "added"}).text == "added"
        with pytest.raises(ConfigError, match="already exists"):
            manager.add_server("b", server())
        with pytest.raises(ConfigError, match="Invalid MCP server name"):
            manager.add_server("b.c", server())
        outcome: Dict[str, Any] = {}
        with ParkedSignal("b") as parked:
            thread = threading.Thread(target=lambda: outcome.update(text=manager.call_tool("b__park_signal", {"seconds": 0.5}).text))
            thread.start()
            assert parked.event.wait(10)  # the call is in flight on b
            manager.remove_server("b")  # drains: the call finishes before b is stopped
        assert not thread.is_alive()
        thread.join(10)
        assert outcome.get("text") == "released"
        with pytest.raises(UnknownServerError):
            manager.remove_server("b")
        assert manager.call_tool("a__echo", {"text": "still here"}).text == "still here"


# ----------------------------------------------------------------------------- resources, prompts, instructions


def test_resources_and_prompts_across_servers(caplog: pytest.LogCaptureFixture) -> None:
    servers = {
        "zeta": server("--resources", "--resource-pages", "3", "--instructions", "Zeta first"),
        "broken": server("--resources", "--fail-resources", "--instructions", ""),
        "alpha": server("--instructions", "Alpha second"),
    }
    with make(servers) as manager:
        with caplog.at_level(logging.WARNING, logger="syncmcp.manager"):
            resources = manager.list_all_resources()
        assert list(resources) == ["zeta"]  # broken is left out, alpha has no resources
        assert [r.uri for r in resources["zeta"]] == [f"scripted://doc/{i}" for i in range(5)]  # every page
        assert "Failed to list resources for MCP server 'broken': " in caplog.text
        with caplog.at_level(logging.WARNING, logger="syncmcp.manager"):
            templates = manager.list_all_resource_templates()
        assert [t.uri_template for t in templates["zeta"]] == ["scripted://doc/{index}"]
        assert "Failed to list resource templates for MCP server 'broken': " in caplog.text
        page = manager.list_resources("zeta")
        assert (len(page), page.next_cursor) == (2, "1")
        seen = list(page)
        while page.next_cursor:
            page = manager.list_resources("zeta", page.next_cursor)
            seen.extend(page)
        assert len(seen) == 5
        assert manager.list_resources("alpha").items == ()
        assert manager.list_resource_templates("zeta").items[0].name == "doc by index"
        assert manager.read_resource("zeta", "scripted://doc/3").text == "contents of scripted://doc/3"
        prompts = manager.list_all_prompts()
        assert list(prompts) == ["zeta", "broken"]
        assert manager.get_prompt("zeta", "greet", {"who": "Ada"}).text == "Hello Ada"
        assert manager.server_instructions() == {"alpha": "Alpha second", "zeta": "Zeta first"}
        assert list(manager.server_instructions()) == ["alpha", "zeta"]  # sorted by name


def test_a_malformed_page_is_a_protocol_error_with_codex_context() -> None:
    """One page of a listing goes through ``ClientSession.list_page``: a page without its list is
    the server's protocol error (not a bare ``ValueError``), with Codex's context in front."""
    with make({"odd": server("--resources", "--malformed-resources")}) as manager:
        with pytest.raises(RemoteProtocolError) as info:
            manager.list_resources("odd")
        assert str(info.value).startswith("resources/list failed for `odd`: ")
        assert "has no 'resources' list" in str(info.value)
        assert manager.list_resource_templates("odd").items[0].name == "doc by index"  # the server is fine otherwise


# ----------------------------------------------------------------------------- protocol eras


def seen_methods(manager: MCPManager, name: str) -> List[str]:
    """The methods the server's current process received, in order (``--record-methods``)."""
    return [str(method) for method in json.loads(manager.call_server_tool(name, "seen_methods").text)]


def test_a_restarted_server_keeps_the_era_it_was_found_to_speak() -> None:
    """An ``auto`` server's era is found once (``server/discover``) and remembered for restarts,
    after a crash or restart_server(): the new process is not probed again."""
    servers = {
        "old": server("--manager-tools", "--record-methods"),
        "new": server("--manager-tools", "--record-methods", "--modern"),
    }
    with make(servers) as manager:
        assert manager.wait_for_startup(30)
        assert seen_methods(manager, "old")[:2] == ["server/discover", "initialize"]  # probed: a legacy server
        assert "initialize" not in seen_methods(manager, "new")  # probed: a modern server
        status = manager.startup_status()
        assert (status["old"].era, status["new"].era) == ("legacy", "modern")
        with pytest.raises(ConnectionClosed):
            manager.call_server_tool("old", "crash")
        restarted = seen_methods(manager, "old")  # the call restarts it
        assert restarted[0] == "initialize" and "server/discover" not in restarted
        assert manager.startup_status()["old"].restarts == 1
        assert manager.restart_server("old")
        assert "server/discover" not in seen_methods(manager, "old")
        assert manager.restart_server("new")
        session = manager._rt.slots["new"].session()
        assert session is not None and (session.protocol_era, session.era) == ("modern", "modern")
        assert manager.startup_status()["new"].era == "modern"


def test_a_remembered_era_is_forgotten_when_a_start_up_in_it_fails(tmp_path: Path) -> None:
    """A server may change between two processes (an upgrade): when a start-up in the remembered
    era fails, the next one probes again."""
    upgraded = tmp_path / "upgraded"
    with make({"srv": server("--modern-if-exists", str(upgraded))}) as manager:
        assert manager.wait_for_server_ready("srv", 30)
        assert manager.startup_status()["srv"].era == "legacy"
        upgraded.touch()  # from now on the server speaks only the modern era
        assert not manager.restart_server("srv")  # initialize (the remembered legacy era) is refused
        status = manager.startup_status()["srv"]
        assert (status.error or "").endswith("MCP startup failed: connection is modern [code -32022] (initialize)")
        assert status.era is None
        assert manager.restart_server("srv")  # probed again: modern
        assert manager.startup_status()["srv"].era == "modern"


def test_a_configured_era_is_honoured() -> None:
    servers = {
        "forced_legacy": server("--record-methods", "--modern", protocol_era="legacy"),  # a dual-era server
        "forced_modern": server("--record-methods", protocol_era="modern"),  # a legacy-only server
    }
    with make(servers) as manager:
        assert manager.wait_for_startup(30)
        assert seen_methods(manager, "forced_legacy")[0] == "initialize"
        assert "server/discover" not in seen_methods(manager, "forced_legacy")
        assert manager.startup_status()["forced_legacy"].era == "legacy"
        status = manager.startup_status()["forced_modern"]
        assert status.state is ServerState.FAILED  # never falls back to the legacy handshake
        assert "Method not found" in (status.error or "")


# ----------------------------------------------------------------------------- HTTP servers (configuration only for now)


def test_unreachable_http_servers_fail_clearly_and_github_gets_the_pat_hint() -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    servers = {
        "github": {"url": "https://api.githubcopilot.com/mcp/", "startup_timeout_sec": 3},
        "remote": {"url": f"http://127.0.0.1:{port}/mcp"},
    }
    with make(servers) as manager:
        manager.wait_for_startup(10)
        status = manager.startup_status()
        assert status["github"].error == (
            "GitHub MCP does not support OAuth. Log in by adding a personal access token "
            "(https://github.com/settings/personal-access-tokens) to your environment and config.toml:\n"
            "[mcp_servers.github]\nbearer_token_env_var = CODEX_GITHUB_PERSONAL_ACCESS_TOKEN"
        )
        error = status["remote"].error or ""
        assert error.startswith("MCP client for `remote` failed to start: MCP startup failed: ")
        assert f"cannot connect to 127.0.0.1:{port}" in error
        assert manager.list_all_tools() == {}


# ----------------------------------------------------------------------------- health and metrics


def test_health_check_and_metrics() -> None:
    with make({"ok": server("--manager-tools", tool_timeout_sec=0.3), "bad": server("--init-exit", "2")}) as manager:
        assert manager.call_tool("ok__echo", {"text": "x"}).text == "x"
        assert manager.call_tool("ok__fail").is_error
        with pytest.raises(RequestTimeout):
            manager.call_tool("ok__park", {"seconds": 30})
        health = manager.health_check()
        assert health["ok"].ok and health["ok"].latency is not None and health["ok"].latency > 0
        assert not health["bad"].ok and "failed to start" in (health["bad"].error or "")
        metrics = manager.metrics()["ok"]
        assert (metrics.calls, metrics.errors, metrics.tool_errors) == (3, 1, 1)
        assert metrics.latency_p50 is not None and metrics.latency_p99 is not None and metrics.latency_p99 >= 0.3
        assert metrics.last_error is not None and metrics.last_error.startswith("RequestTimeout")
        assert metrics.pid == pid_of(manager, "ok")
        if os.path.isdir("/proc"):
            assert metrics.rss_bytes is not None and metrics.rss_bytes > 1_000_000
            assert metrics.cpu_seconds is not None and metrics.cpu_seconds >= 0
        assert manager.metrics()["bad"].pid is None


def test_health_check_notices_a_dead_server() -> None:
    log = EventLog()
    with make({"srv": server("--manager-tools")}, on_event=log) as manager:
        os.kill(pid_of(manager, "srv"), 9)
        log.wait_for(lambda e: isinstance(e, ServerExited))
        assert not manager.health_check()["srv"].ok
        assert manager.call_tool("srv__echo", {"text": "restarted"}).text == "restarted"


# ----------------------------------------------------------------------------- closing


def test_close_cancels_start_ups_and_is_idempotent_and_bounded() -> None:
    log = EventLog()
    manager = make({"stuck": server("--no-init-answer", startup_timeout_sec=60), "ok": server()}, on_event=log)
    log.wait_for(lambda e: isinstance(e, StartupUpdate) and e.server == "ok" and e.status == "ready")
    started = time.monotonic()
    manager.close()
    assert time.monotonic() - started < 5
    manager.close()
    assert manager.closed
    assert log.wait_for(lambda e: isinstance(e, StartupComplete)).cancelled == ("stuck",)
    assert [u.status for u in log.of(StartupUpdate) if u.server == "stuck"] == ["starting", "cancelled"]
    with pytest.raises(SessionClosedError):
        manager.call_tool("ok__echo", {"text": "x"})
    with pytest.raises(SessionClosedError):
        manager.list_all_tools()
    assert "closed" in repr(manager)


def test_close_stops_every_server_even_with_more_servers_than_pool_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """No stop is queued behind busy pool workers (and dropped by the pool's shutdown): with one
    fan-out worker and four servers that each take 0.5 s to stop, more than the close bound
    allows one after the other, every server still stops."""
    monkeypatch.setattr(syncmcp._runtime, "_FANOUT_WORKERS", 1)
    monkeypatch.setattr(syncmcp._runtime, "_CLOSE_GRACE", 0.3)  # close bound: 0.5 + 0.2 + 0.3 s
    servers = {f"s{i}": server("--manager-tools", "--ignore-eof") for i in range(4)}
    manager = make(servers, shutdown_grace=0.5, terminate_grace=0.2)
    pids = [pid_of(manager, name) for name in servers]
    manager.close()
    assert wait_until(lambda: not any(os.path.exists(f"/proc/{pid}") for pid in pids), timeout=10)


def test_calls_in_flight_fail_when_the_manager_closes() -> None:
    manager = make({"srv": server("--manager-tools")})
    outcome: Dict[str, Any] = {}
    with ParkedSignal("srv") as parked:
        thread = threading.Thread(target=lambda: outcome.update(error=_error_of(lambda: manager.call_tool("srv__park_signal"))))
        thread.start()
        assert parked.event.wait(10)
        started = time.monotonic()
        manager.close()
        assert time.monotonic() - started < 5
    thread.join(10)
    assert isinstance(outcome.get("error"), ConnectionClosed)


def test_on_event_exceptions_are_logged_and_delivery_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    seen = []

    def flaky(event: Any) -> None:
        seen.append(event)
        if isinstance(event, StartupUpdate):
            raise RuntimeError("callback bug")

    with caplog.at_level(logging.ERROR, logger="syncmcp.manager"):
        with make({"srv": server()}, on_event=flaky) as manager:
            manager.wait_for_startup(10)
            assert manager.call_tool("srv__echo", {"text": "fine"}).text == "fine"
    assert any(isinstance(e, StartupComplete) for e in seen)
    assert "on_event callback failed" in caplog.text


def test_a_forgotten_manager_is_closed_by_its_finaliser(caplog: pytest.LogCaptureFixture) -> None:
    manager = make({"srv": server()})
    assert manager.wait_for_server_ready("srv", 10)
    with caplog.at_level(logging.WARNING, logger="syncmcp.manager"):
        del manager
        gc.collect()
    assert "was not closed" in caplog.text
    # The leak check after the test waits for the servers and threads to be gone.


EXIT_SCRIPT = """
import sys
import syncmcp
manager = syncmcp.MCPManager({"srv": {"command": sys.executable, "args": ["-u", sys.argv[1], "--ignore-eof"]}})
assert manager.wait_for_server_ready("srv", 20)
print(manager.metrics()["srv"].pid, flush=True)
# exits without close()
"""


def test_interpreter_exit_without_close_leaves_no_server_behind() -> None:
    out = subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT, str(ROOT / "tests" / "servers" / "stdio_server.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    pid = int(out.split()[0])
    assert wait_until(lambda: not process_alive(pid), timeout=10)


def test_failures_carry_codex_context_and_keep_their_type() -> None:
    with make({"srv": server(tool_timeout_sec=0.3), "broken": server("--resources", "--fail-resources")}) as manager:
        with pytest.raises(RequestTimeout) as timeout:
            manager.call_tool("srv__park", {"seconds": 30})
        assert str(timeout.value).startswith("tool call failed for `srv/park`: tools/call to 'srv' timed out")
        assert timeout.value.timeout == 0.3 and timeout.value.server == "srv"
        with pytest.raises(RemoteError) as listing:
            manager.list_resources("broken")
        assert str(listing.value).startswith("resources/list failed for `broken`: ")
        assert listing.value.code == -32603 and "scripted resources failure" in listing.value.message
        with pytest.raises(RemoteError) as templates:
            manager.list_resource_templates("broken")
        assert str(templates.value).startswith("resources/templates/list failed for `broken`: ")
        with pytest.raises(ConnectionClosed) as crash:
            manager.call_tool("srv__crash")
        assert str(crash.value).startswith("tool call failed for `srv/crash`: ")
        assert crash.value.returncode == 3


def test_a_call_racing_a_reload_goes_to_the_replacement_server() -> None:
    """A call that picked a server just before reload() replaced it had sent nothing yet: it is
    redirected to the replacement instead of failing (the race is reproduced by holding the old one)."""
    with make({"a": server("--manager-tools")}) as manager:
        old = manager._rt.slots["a"]
        old_pid = pid_of(manager, "a")
        assert manager.reload({"a": server("--manager-tools", "--tool", "new")}).restarted == ("a",)
        result = manager._router.call(old, "pid", None, None, syncmcp.DEFAULT, None, None, "a__pid")
        assert int(result.text) != old_pid
        with manager._rt.use("a") as session:
            assert session is manager._rt.slots["a"].session()


def test_url_elicitations_reach_the_user_too() -> None:
    """Codex declined URL-mode elicitations without asking (openai/codex#45776); here they are events."""
    log = EventLog()
    params = {"mode": "url", "message": "Sign in", "url": "https://example.com/login", "elicitationId": "e-1"}
    with make({"srv": server()}, on_event=log) as manager:

        def user() -> None:
            request = log.wait_for(lambda e: isinstance(e, ElicitationRequest))
            assert (request.mode, request.params["url"], request.requested_schema) == ("url", "https://example.com/login", None)
            manager.resolve_elicitation(request.server, request.request_id, "accept")

        helper = threading.Thread(target=user)
        helper.start()
        reply = json.loads(manager.call_tool("srv__ask_client", {"method": "elicitation/create", "params": params}).text)
        helper.join(10)
        assert reply["result"] == {"action": "accept"}


def test_sampling_handler_and_roots_reach_every_server() -> None:
    asked = []

    def sample(server_name: str, request_id: Any, params: Dict[str, Any]) -> Dict[str, Any]:
        asked.append((server_name, params["maxTokens"]))
        return {"role": "assistant", "content": {"type": "text", "text": f"hi from {server_name}"}, "model": "test"}

    roots = [{"uri": "file:///work", "name": "work"}]
    with make({"a": server(), "b": server()}, sampling_handler=sample, roots=roots) as manager:
        for name in ("a", "b"):
            request = {"method": "sampling/createMessage", "params": {"messages": [], "maxTokens": 5}}
            reply = json.loads(manager.call_tool(f"{name}__ask_client", request).text)
            assert reply["result"]["content"]["text"] == f"hi from {name}"
            listed = json.loads(manager.call_tool(f"{name}__ask_client", {"method": "roots/list"}).text)
            assert listed["result"] == {"roots": roots}
        assert asked == [("a", 5), ("b", 5)]


def test_the_final_map_is_the_same_for_every_order_servers_become_ready() -> None:
    """Servers whose names collide are made ready one by one in shuffled orders (lazy start);
    partial maps follow readiness, the complete map follows configuration order only."""
    import random

    servers = {
        "a": server("--tool", "b_.c"),  # a__b__c, sanitised
        "a__b": server("--tool", "c"),  # a__b__c, raw: collides with the one above
        "x": server("--tool", "y_.z"),  # x__y__z, sanitised
        "x__y": server("--tool", "z"),  # x__y__z, raw
    }
    finals = []
    first_owner = set()
    for seed in range(3):
        order = list(servers)
        random.Random(seed).shuffle(order)
        with make(servers, lazy=True) as manager:
            for name in order:
                assert manager.wait_for_server_ready(name, 10)
                partial = manager.list_all_tools(wait=False)
                if name == order[0]:
                    owner = partial.get("a__b__c") or partial.get("x__y__z")
                    first_owner.add(owner.server if owner else None)
            finals.append({name: (info.server, info.tool_name) for name, info in manager.list_all_tools().items()})
    assert len(first_owner) > 1  # the orders really differed in who came first
    assert finals[0] == finals[1] == finals[2]
    assert finals[0]["a__b__c"] == ("a", "b_.c") and finals[0]["x__y__z"] == ("x", "y_.z")


def test_listing_failures_are_returned_to_callers_who_ask() -> None:
    """list_all_* leave a failing server out; ``errors`` tells the caller which and why."""
    with make({"ok": server("--resources"), "broken": server("--resources", "--fail-resources")}) as manager:
        errors: Dict[str, BaseException] = {}
        resources = manager.list_all_resources(errors=errors)
        assert "ok" in resources and "broken" not in resources
        assert list(errors) == ["broken"]
        assert isinstance(errors["broken"], syncmcp.RemoteError)
        page = manager.list_prompts("ok")
        assert [prompt.name for prompt in page.items] and page.next_cursor is None


def test_an_interrupted_close_still_stops_the_server_and_a_later_close_waits_for_it() -> None:
    """Ctrl-C (a notebook's stop button) during close(): the server is stopped anyway."""
    import signal as signals

    stubborn = syncmcp.ServerConfig(command=sys.executable, args=("-u", str(SCRIPTED), "--ignore-eof", "--ignore-sigterm"))
    manager = syncmcp.MCPManager({"stubborn": stubborn})
    assert manager.wait_for_startup(30)
    pid = manager.metrics()["stubborn"].pid
    assert pid is not None
    assert threading.current_thread() is threading.main_thread()
    timer = threading.Timer(0.3, signals.pthread_kill, (threading.main_thread().ident, signals.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            manager.close()  # the stubborn server takes seconds to stop (SIGTERM ignored)
    finally:
        timer.join()
    assert leftover_processes([pid])  # still stopping, on its own thread
    manager.close()  # waits for the stop this time
    assert wait_until(lambda: not leftover_processes([pid]), timeout=5)
