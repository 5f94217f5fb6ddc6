"""Fallback servers, the circuit breaker and seamless replacement, against scripted and real servers."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Dict, List

import pytest

import syncmcp
from syncmcp import (
    CircuitClosed,
    CircuitOpened,
    ConfigError,
    ConnectionClosed,
    FallbackUsed,
    MCPManager,
    RequestTimeout,
    RestartPolicy,
    ServerExited,
    ServerState,
    ServerUnavailableError,
    StartupError,
    UnknownToolError,
)
from syncmcp._circuit import Availability, CircuitBreaker

from .conftest import CLI, npm_server, process_alive, scripted, wait_until
from .test_manager import EventLog, make, server

MISSING = "/nonexistent/syncmcp-test-no-such-server"


def pid_of(manager: MCPManager, name: str) -> int:
    return int(manager.call_server_tool(name, "pid").text)


# ----------------------------------------------------------------------------- configuration


def test_fallback_names_are_checked_when_the_configuration_is_loaded(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[mcp_servers.a]\ncommand = "a"\nfallback = ["b"]\n\n[mcp_servers.b]\ncommand = "b"\nfallback = ["a"]\n')
    with pytest.raises(ConfigError) as cycle:
        syncmcp.load_config(path)
    assert str(cycle.value) == f"{path}: mcp_servers.a.fallback[0]: fallback cycle: a -> b -> a"
    assert cycle.value.key == "mcp_servers.a.fallback[0]"
    path.write_text('[mcp_servers.a]\ncommand = "a"\nfallback = ["bee"]\n\n[mcp_servers.b]\ncommand = "b"\n')
    with pytest.raises(ConfigError, match=r"mcp_servers\.a\.fallback\[0\]: unknown MCP server 'bee'") as unknown:
        syncmcp.load_config(path)
    assert unknown.value.path == str(path)
    path.write_text('[mcp_servers.a]\ncommand = "a"\nfallback = ["a"]\n')
    with pytest.raises(ConfigError, match="cannot be its own fallback"):
        syncmcp.load_config(path)
    path.write_text('[mcp_servers.a]\ncommand = "a"\ncircuit_failures = -1\n')
    with pytest.raises(ConfigError, match=r"mcp_servers\.a\.circuit_failures: expected a number from 0"):
        syncmcp.load_config(path)
    path.write_text('[mcp_servers.a]\ncommand = "a"\nfallback = ["b", "b"]\n[mcp_servers.b]\ncommand = "b"\n')
    with pytest.raises(ConfigError, match=r"fallback\[1\]: 'b' is listed twice"):
        syncmcp.load_config(path)
    path.write_text(
        '[mcp_servers.a]\ncommand = "a"\nfallback = ["b"]\ncircuit_failures = 3\ncircuit_cooldown_sec = 2.5\n'
        '[mcp_servers.b]\ncommand = "b"\nfallback = ["c"]\n[mcp_servers.c]\ncommand = "c"\n'
    )
    loaded = syncmcp.load_config(path)
    assert (loaded["a"].fallback, loaded["a"].circuit_failures, loaded["a"].circuit_cooldown_sec) == (("b",), 3, 2.5)


def test_the_python_api_refuses_the_same_fallback_mistakes() -> None:
    with pytest.raises(ConfigError, match=r"mcp_servers\.a\.fallback\[0\]: unknown MCP server 'zz'"):
        MCPManager({"a": {"command": "a", "fallback": ["zz"]}}, lazy=True)
    with pytest.raises(ConfigError, match="fallback cycle: a -> b -> c -> a"):
        MCPManager(
            {
                "a": {"command": "a", "fallback": ["b"]},
                "b": {"command": "b", "fallback": ["c"]},
                "c": {"command": "c", "fallback": ["a"]},
            },
            lazy=True,
        )
    with make({"a": server()}, lazy=True) as manager:
        with pytest.raises(ConfigError, match="unknown MCP server 'nope'"):
            manager.add_server("b", {"command": "b", "fallback": ["nope"]})
        manager.add_server("b", {"command": "b", "fallback": ["a"]})
        with pytest.raises(ConfigError, match="fallback cycle"):
            manager.reload({"a": {"command": "a", "fallback": ["b"]}, "b": {"command": "b", "fallback": ["a"]}})


# ----------------------------------------------------------------------------- routing


def test_a_primary_that_failed_to_start_has_its_calls_answered_by_its_fallback() -> None:
    log = EventLog()
    servers = {"primary": {"command": MISSING, "fallback": ["backup"]}, "backup": server()}
    with make(servers, on_event=log) as manager:
        manager.wait_for_startup(15)
        assert manager.startup_status()["primary"].state is ServerState.FAILED
        # The primary never listed tools: its names resolve to what the fallback offers.
        result = manager.call_tool("primary__echo", {"text": "hello"})
        assert (result.text, result.server) == ("hello", "backup")
        used = log.wait_for(lambda e: isinstance(e, FallbackUsed))
        assert (used.server, used.fallback, used.tool, used.qualified_name) == ("primary", "backup", "echo", "primary__echo")
        assert used.reason == "failed"
        assert manager.call_server_tool("primary", "echo", {"text": "again"}).server == "backup"
        metrics = manager.metrics()
        assert (metrics["primary"].fallback_calls, metrics["backup"].served_as_fallback) == (2, 2)
        assert manager.call_tool("backup__echo", {"text": "own"}).server == "backup"
        with pytest.raises(UnknownToolError):
            manager.call_tool("primary__no_such_tool")


def test_a_tool_no_fallback_offers_fails_with_the_unavailable_text_and_the_fallbacks_tried() -> None:
    servers = {
        "primary": {"command": MISSING, "fallback": ["small", "off"]},
        "small": server(enabled_tools=["echo"]),
        "off": server(enabled=False),
    }
    with make(servers) as manager:
        manager.wait_for_startup(15)
        with pytest.raises(ServerUnavailableError) as caught:
            manager.call_server_tool("primary", "add", {"a": 1, "b": 2})
        text = str(caught.value)
        assert text.startswith("failed to get client: MCP client for `primary` failed to start")
        assert text.endswith("fallbacks tried: small (tool 'add' is disabled), off (disabled)")


def test_arguments_are_checked_against_the_fallbacks_input_schema() -> None:
    servers = {"primary": {"command": MISSING, "fallback": ["backup"]}, "backup": server()}
    with make(servers) as manager:
        manager.wait_for_startup(15)
        assert manager.call_tool("primary__add", {"a": 2, "b": 3}).text == "5"
        with pytest.raises(ServerUnavailableError, match=r"backup \(the arguments do not match its input schema\)"):
            manager.call_tool("primary__add", {"a": "two", "b": 3})


def test_a_crashed_primary_is_covered_by_its_fallback_and_takes_calls_back_once_restarted() -> None:
    log = EventLog()
    servers = {"primary": server("--manager-tools", fallback=["backup"]), "backup": server("--manager-tools")}
    with make(servers, on_event=log) as manager:
        first_pid = pid_of(manager, "primary")
        with pytest.raises(ConnectionClosed):  # not idempotent: not replayed on the fallback
            manager.call_tool("primary__crash")
        assert manager.startup_status()["primary"].state is ServerState.EXITED
        result = manager.call_tool("primary__echo", {"text": "meanwhile"})
        assert (result.text, result.server) == ("meanwhile", "backup")
        assert log.wait_for(lambda e: isinstance(e, FallbackUsed)).reason == "exited, restarting"
        # That call began the restart in the background; once ready, calls go back to the primary.
        assert manager.wait_for_server_ready("primary", 15)
        back = manager.call_tool("primary__pid")
        assert back.server == "primary" and int(back.text) != first_pid
        assert manager.metrics()["primary"].fallback_calls == 1


def test_a_non_idempotent_call_written_when_the_primary_died_is_not_replayed(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    servers = {"primary": server("--manager-tools", fallback=["backup"]), "backup": server("--manager-tools")}
    with make(servers) as manager:
        with pytest.raises(ConnectionClosed):
            manager.call_tool("primary__crash_once", {"marker": str(marker)})
        assert len(marker.read_text().splitlines()) == 1  # it ran once, on the primary only
        assert manager.metrics()["backup"].calls == 0


def test_an_idempotent_call_written_when_the_primary_died_is_replayed_on_the_fallback(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    servers = {
        "primary": server("--manager-tools", fallback=["backup"], idempotent_tools=["crash_once"]),
        "backup": server("--manager-tools"),
    }
    log = EventLog()
    with make(servers, on_event=log) as manager:
        result = manager.call_tool("primary__crash_once", {"marker": str(marker)})
        assert (result.text, result.server) == ("recovered", "backup")
        assert len(marker.read_text().splitlines()) == 2
        assert "the server exited (exit code 4)" in log.wait_for(lambda e: isinstance(e, FallbackUsed)).reason


def test_a_timeout_is_never_replayed_and_an_answer_never_moves() -> None:
    servers = {
        "primary": server(fallback=["backup"], idempotent_tools=True),
        "backup": server(),
    }
    with make(servers) as manager:
        with pytest.raises(RequestTimeout):
            manager.call_tool("primary__sleep", {"seconds": 5}, timeout=0.2)
        failing = manager.call_tool("primary__fail")
        assert failing.is_error and failing.server == "primary"
        assert manager.metrics()["backup"].calls == 0


def test_a_permanently_failed_primary_keeps_listing_the_tools_a_fallback_covers() -> None:
    servers = {
        "primary": server("--tool", "only_here", fallback=["backup"]),
        "backup": server(),
    }
    with make(servers, restart=RestartPolicy(max_attempts=0)) as manager:
        assert {"primary__echo", "primary__only_here"} <= set(manager.list_all_tools())
        with pytest.raises(ConnectionClosed):
            manager.call_tool("primary__crash")
        assert manager.startup_status()["primary"].state is ServerState.FAILED
        tools = manager.list_all_tools()
        assert "primary__echo" in tools and "backup__echo" in tools
        assert "primary__only_here" not in tools  # nothing covers it
        assert manager.call_tool("primary__echo", {"text": "x"}).server == "backup"
        with pytest.raises(ServerUnavailableError) as caught:
            manager.call_tool("primary__only_here")
        assert str(caught.value).startswith("failed to get client: MCP server 'primary' exited")
        assert str(caught.value).endswith("fallbacks tried: backup (no tool 'only_here')")


def test_fallbacks_of_fallbacks_are_tried_in_order() -> None:
    servers = {
        "a": {"command": MISSING, "fallback": ["b"]},
        "b": {"command": MISSING, "fallback": ["c"]},
        "c": server(),
    }
    with make(servers) as manager:
        manager.wait_for_startup(15)
        assert manager.call_server_tool("a", "echo", {"text": "deep"}).server == "c"


def test_a_server_a_health_check_found_down_has_its_calls_go_to_its_fallback() -> None:
    servers = {"primary": server("--hang-method", "ping", fallback=["backup"]), "backup": server()}
    with make(servers) as manager:
        assert manager.call_tool("primary__echo", {"text": "up"}).server == "primary"
        report = manager.health_check(timeout=0.3)
        assert not report["primary"].ok and report["primary"].state is ServerState.READY
        result = manager.call_tool("primary__echo", {"text": "down"})
        assert result.server == "backup"
        assert manager.restart_server("primary")  # a restart forgets the verdict
        assert manager.call_tool("primary__echo", {"text": "up again"}).server == "primary"


def test_a_lazy_fallback_is_started_when_it_is_first_needed() -> None:
    servers = {"primary": {"command": MISSING, "fallback": ["backup"]}, "backup": server()}
    with make(servers, lazy=True) as manager:
        assert manager.startup_status()["backup"].state is ServerState.PENDING
        assert manager.call_server_tool("primary", "echo", {"text": "wake"}).server == "backup"
        assert manager.startup_status()["backup"].state is ServerState.READY


def test_calls_go_to_the_fallback_while_the_primary_is_restarted_on_request() -> None:
    log = EventLog()
    servers = {"primary": server("--init-delay", "1", fallback=["backup"]), "backup": server()}
    with make(servers, on_event=log) as manager:
        assert manager.wait_for_server_ready("primary", 15)
        assert not manager.restart_server("primary", wait=False)
        assert manager.call_tool("primary__echo", {"text": "during"}).server == "backup"
        assert log.wait_for(lambda e: isinstance(e, FallbackUsed)).reason == "restarting"
        assert manager.wait_for_server_ready("primary", 15)
        assert manager.call_tool("primary__echo", {"text": "after"}).server == "primary"


def test_a_fallback_that_dies_passes_an_idempotent_call_on_and_a_non_idempotent_one_fails(tmp_path: Path) -> None:
    servers = {
        "primary": {"command": MISSING, "fallback": ["first", "second"], "idempotent_tools": ["crash_once"]},
        "first": server("--manager-tools", idempotent_tools=["crash_once"]),
        "second": server("--manager-tools"),
    }
    with make(servers) as manager:
        manager.wait_for_startup(15)
        marker = tmp_path / "marker"
        result = manager.call_server_tool("primary", "crash_once", {"marker": str(marker)})
        assert (result.server, result.text) == ("second", "recovered")
        with pytest.raises(ConnectionClosed):  # the primary's rule: crash is not idempotent
            manager.call_server_tool("primary", "crash")
        assert manager.metrics()["second"].calls == 1


def test_what_counts_for_the_circuit_and_what_may_move_on() -> None:
    from syncmcp import RemoteError, SessionClosedError, ToolDisabledError
    from syncmcp._fallback import _may_move_on, _verdict
    from syncmcp._managed import ManagedServer, Services

    assert _verdict(RequestTimeout("slow")) is False
    assert _verdict(ConnectionClosed("gone")) is False
    assert _verdict(RemoteError(-32602, "no such tool")) is True  # the server answered
    assert _verdict(ToolDisabledError("filtered")) is None
    services = Services(emit=lambda e: None, submit_start=lambda f: None, submit_background=lambda f: None,
                        restart=RestartPolicy(), sandbox=lambda: (0, None))  # fmt: skip
    plain = ManagedServer("p", syncmcp.ServerConfig(command="p"), services)
    assert _may_move_on(SessionClosedError("retired before sending"), plain, "t", None)
    assert _may_move_on(ServerUnavailableError("down"), plain, "t", None)
    assert not _may_move_on(ConnectionClosed("gone"), plain, "t", None)
    assert _may_move_on(ConnectionClosed("gone"), plain, "t", syncmcp.Tool("t", annotations={"idempotentHint": True}))
    assert not _may_move_on(RequestTimeout("slow"), plain, "t", None)


# ----------------------------------------------------------------------------- circuit breaker


def test_the_circuit_opens_after_consecutive_failures_and_a_good_trial_closes_it() -> None:
    log = EventLog()
    servers = {
        "primary": server(fallback=["backup"], circuit_failures=2, circuit_cooldown_sec=0.5),
        "backup": server(),
    }
    with make(servers, on_event=log) as manager:
        assert manager.metrics()["primary"].circuit is None  # created on first use
        for _ in range(2):
            with pytest.raises(RequestTimeout):
                manager.call_tool("primary__sleep", {"seconds": 5}, timeout=0.2)
        opened = log.wait_for(lambda e: isinstance(e, CircuitOpened))
        assert (opened.server, opened.failures, opened.cooldown) == ("primary", 2, 0.5)
        assert manager.metrics()["primary"].circuit == "open"
        skipped = manager.call_tool("primary__echo", {"text": "skip"})
        assert skipped.server == "backup"
        assert log.wait_for(lambda e: isinstance(e, FallbackUsed)).reason == "circuit open"
        assert wait_until(lambda: manager.metrics()["primary"].circuit == "half_open", timeout=10)
        trial = manager.call_tool("primary__echo", {"text": "trial"})
        assert trial.server == "primary"
        assert log.wait_for(lambda e: isinstance(e, CircuitClosed)).server == "primary"
        assert manager.metrics()["primary"].circuit == "closed"


def test_an_open_circuit_without_fallbacks_fails_fast() -> None:
    with make({"only": server(circuit_failures=1, circuit_cooldown_sec=60)}) as manager:
        with pytest.raises(RequestTimeout):
            manager.call_tool("only__sleep", {"seconds": 5}, timeout=0.2)
        with pytest.raises(
            ServerUnavailableError, match="its circuit is open after 1 failed calls in a row\nno fallback configured"
        ):
            manager.call_tool("only__echo", {"text": "x"})


def test_circuit_breaker_states_with_a_failed_trial() -> None:
    now = [0.0]
    breaker = CircuitBreaker(2, 10.0, clock=lambda: now[0])
    assert breaker.admit() is False and breaker.state == "closed"
    assert not breaker.failed(False)
    assert breaker.succeeded(False) is False  # a success resets the count
    assert not breaker.failed(False) and breaker.failed(False)
    assert breaker.state == "open" and breaker.admit() is None
    now[0] = 10.0
    assert breaker.state == "half_open"
    assert breaker.admit() is True and breaker.admit() is None  # one trial at a time
    assert breaker.failed(True)  # the trial failed: open for another cool-down
    assert breaker.state == "open" and breaker.admit() is None
    now[0] = 20.0
    assert breaker.admit() is True
    breaker.abandon(True)  # refused locally: no verdict, another trial may go
    assert breaker.admit() is True and breaker.succeeded(True) and breaker.state == "closed"
    with pytest.raises(ValueError):
        CircuitBreaker(0, 1.0)


def test_availability_rebuilds_a_breaker_when_its_settings_change() -> None:
    availability = Availability()
    config = syncmcp.ServerConfig(command="x", circuit_failures=1)
    assert availability.record("x", config, False, False) == [CircuitOpened("x", 1, 30.0)]
    assert availability.circuit_state("x") == "open"
    changed = syncmcp.ServerConfig(command="x", circuit_failures=2)
    assert availability.admit("x", changed) is False and availability.circuit_state("x") == "closed"
    assert availability.record("x", changed, None, False) == []
    assert availability.breaker("x", syncmcp.ServerConfig(command="x")) is None
    availability.mark_health("x", False, None)
    assert availability.down("x") == "health check failed"
    availability.forget("x")
    assert availability.down("x") is None


# ----------------------------------------------------------------------------- replacement


def test_replace_server_under_eight_calling_threads_loses_no_call_and_stops_the_old_process() -> None:
    with make({"a": server("--manager-tools")}, drain_timeout=5.0) as manager:
        old_pid = pid_of(manager, "a")
        stop = threading.Event()
        errors: List[BaseException] = []
        pids: List[List[int]] = [[] for _ in range(8)]

        def caller(index: int) -> None:
            while not stop.is_set():
                try:
                    pids[index].append(int(manager.call_tool("a__pid").text))
                except BaseException as exc:  # every failure is the test's finding
                    errors.append(exc)
                    return

        threads = [threading.Thread(target=caller, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        assert wait_until(lambda: all(pids), timeout=10)
        manager.replace_server("a", server("--manager-tools", "--tool", "new"))
        new_pid = manager.metrics()["a"].pid
        assert wait_until(lambda: all(new_pid in seen for seen in pids), timeout=10)
        stop.set()
        for thread in threads:
            thread.join(10)
        assert errors == []
        assert new_pid != old_pid and all(seen[0] == old_pid for seen in pids)
        assert wait_until(lambda: not process_alive(old_pid), timeout=10)
        assert manager.call_tool("a__new").text == "new called"


def test_replace_server_keeps_the_old_one_when_the_new_one_fails_to_start() -> None:
    with make({"a": server("--manager-tools")}) as manager:
        old_pid = pid_of(manager, "a")
        with pytest.raises(StartupError, match="failed to start"):
            manager.replace_server("a", {"command": MISSING})
        assert pid_of(manager, "a") == old_pid
        with pytest.raises(ConfigError):
            manager.replace_server("a", {"command": "x", "fallback": ["zz"]})
        with pytest.raises(syncmcp.UnknownServerError):
            manager.replace_server("b", {"command": "x"})


def test_reload_swaps_a_changed_running_server_only_once_the_new_one_is_ready() -> None:
    log = EventLog()
    with make({"a": server("--manager-tools"), "b": server()}, on_event=log) as manager:
        old_pid = pid_of(manager, "a")
        failed = manager.reload({"a": {"command": MISSING}, "b": server()})
        assert (failed.failed, failed.restarted, failed.unchanged) == (("a",), (), ("b",))
        assert pid_of(manager, "a") == old_pid  # still the old one
        assert manager.servers["a"].command == sys.executable
        result = manager.reload({"a": server("--manager-tools", "--tool", "new"), "b": server()})
        assert result.restarted == ("a",)
        assert pid_of(manager, "a") != old_pid
        assert wait_until(lambda: not process_alive(old_pid), timeout=10)
        # The replaced server's exit is not a crash: nothing was reported as exited.
        assert not any(isinstance(e, ServerExited) for e in log.events)


# ----------------------------------------------------------------------------- real servers


@pytest.fixture
def everything() -> Dict[str, Any]:
    command = [*npm_server("server-everything"), "stdio"]
    return {"command": command[0], "args": command[1:]}


def test_two_real_everything_servers_as_primary_and_fallback(everything: Dict[str, Any]) -> None:
    log = EventLog()
    servers = {"primary": dict(everything, fallback=["backup"]), "backup": everything}
    with MCPManager(servers, on_event=log, shutdown_grace=0.2) as manager:
        assert manager.call_tool("primary__echo", {"message": "one"}).server == "primary"
        pid = manager.metrics()["primary"].pid
        assert pid is not None
        os.killpg(pid, signal.SIGKILL)
        log.wait_for(lambda e: isinstance(e, ServerExited) and e.server == "primary")
        covered = manager.call_tool("primary__echo", {"message": "two"})
        assert (covered.server, covered.text) == ("backup", "Echo: two")
        assert manager.wait_for_server_ready("primary", 30)
        assert manager.call_tool("primary__get-sum", {"a": 2, "b": 3}).server == "primary"
        assert "primary__echo" in manager.list_all_tools()


def test_a_real_fallback_serves_a_primary_whose_command_is_missing(everything: Dict[str, Any]) -> None:
    servers = {"primary": {"command": MISSING, "fallback": ["backup"]}, "backup": everything}
    with MCPManager(servers, shutdown_grace=0.2) as manager:
        manager.wait_for_startup(30)
        result = manager.call_tool("primary__get-sum", {"a": 2, "b": 3.5})
        assert (result.server, result.text) == ("backup", "The sum of 2 and 3.5 is 5.5.")
        assert json.loads(json.dumps(manager.metrics()["primary"].fallback_calls)) == 1


def test_a_real_server_replaced_under_calls_keeps_its_names_and_loses_no_call(everything: Dict[str, Any]) -> None:
    with MCPManager({"ev": everything}, shutdown_grace=0.2) as manager:
        names = set(manager.list_all_tools())
        old_pid = manager.metrics()["ev"].pid
        assert old_pid is not None
        stop = threading.Event()
        errors: List[BaseException] = []
        answers: List[str] = []

        def caller() -> None:
            while not stop.is_set():
                try:
                    answers.append(manager.call_tool("ev__echo", {"message": "x"}).text)
                except BaseException as exc:  # every failure is the test's finding
                    errors.append(exc)
                    return

        threads = [threading.Thread(target=caller) for _ in range(4)]
        for thread in threads:
            thread.start()
        manager.replace_server("ev", dict(everything, env={"REPLACED": "1"}))
        count = len(answers)
        assert wait_until(lambda: len(answers) > count + 8, timeout=10)  # the new one answers too
        stop.set()
        for thread in threads:
            thread.join(10)
        assert errors == [] and set(answers) == {"Echo: x"}
        assert set(manager.list_all_tools()) == names
        assert manager.metrics()["ev"].pid != old_pid
        assert wait_until(lambda: not process_alive(old_pid), timeout=10)


# ----------------------------------------------------------------------------- CLI


def test_the_cli_shows_fallbacks_and_doctor_reports_coverage(cli: CLI, tmp_path: Path) -> None:
    scripted_cmd = scripted()
    backup = f"command = {json.dumps(scripted_cmd[0])}\nargs = {json.dumps(scripted_cmd[1:])}\n"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[mcp_servers.primary]\ncommand = "{MISSING}"\nfallback = ["backup"]\ncircuit_failures = 3\n\n'
        f'[mcp_servers.backup]\n{backup}disabled_tools = ["crash"]\n\n'
        f'[mcp_servers.twin]\n{backup}fallback = ["backup"]\n'
    )
    env = {"SYNCMCP_CONFIG": str(config)}
    listed = cli("list", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = listed.stdout.splitlines()
    header = next(index for index, line in enumerate(rows) if line.split()[:2] == ["Name", "Fallback"])
    assert rows[header + 1].split() == ["primary", "backup", "after", "3", "failures,", "30", "s"]
    assert rows[header + 2].split() == ["twin", "backup", "off"]
    assert [entry["fallback"] for entry in json.loads(cli("list", "--json", env=env).stdout)] == [
        [],
        ["backup"],
        ["backup"],
    ]  # sorted by name
    got = cli("get", "primary", env=env).stdout.splitlines()
    assert "  fallback: backup" in got and "  circuit_breaker: after 3 failures, 30 s" in got
    got_json = json.loads(cli("get", "primary", "--json", env=env).stdout)
    assert (got_json["fallback"], got_json["circuit_failures"], got_json["circuit_cooldown_sec"]) == (["backup"], 3, 30.0)

    doctor = cli("doctor", "primary", "twin", env=env)
    assert doctor.returncode == 3  # the primary itself is unhealthy, covered or not
    text = doctor.stdout.splitlines()
    assert any(line.startswith("backup: ok") for line in text)  # checked because it is a fallback
    assert "  fallback:     backup: covers 25 of 26 tools (not crash)" in text
    answers = next(line for line in text if line.startswith("  fallback:     backup: answers in its place"))
    assert answers == "  fallback:     backup: answers in its place (25 tools)"
    reports = {entry["name"]: entry for entry in json.loads(cli("doctor", "--json", env=env).stdout)}
    assert reports["twin"]["fallback"]["backup"] == [name for name in reports["twin"]["tool_names"] if name != "crash"]
    assert reports["backup"]["fallback"] == {}
