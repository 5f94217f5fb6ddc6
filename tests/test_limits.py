"""Resource limits of stdio servers: configuration, the trampoline, each limit enforced on a real child."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Dict, List

import pytest

from syncmcp import (
    ConfigError,
    ConnectionClosed,
    MCPManager,
    RestartPolicy,
    ServerConfig,
    ServerExited,
    ServerStartError,
    ServerState,
    ServerUnavailableError,
    StartupError,
    StdioTransport,
    _limits,
)
from syncmcp._config import load_config

from .conftest import SERVERS

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="resource limits need POSIX")

LIMITS_SERVER = [sys.executable, "-u", str(SERVERS / "limits_server.py")]


def server(**config: Any) -> Dict[str, Any]:
    return {"command": LIMITS_SERVER[0], "args": LIMITS_SERVER[1:], "protocol_era": "legacy", **config}


def make(servers: Dict[str, Any], **kwargs: Any) -> MCPManager:
    kwargs.setdefault("shutdown_grace", 0.2)
    kwargs.setdefault("restart", RestartPolicy(base_delay=30))
    return MCPManager(servers, **kwargs)


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(body)
    os.chmod(path, 0o600)
    return path


# ----------------------------------------------------------------------------- configuration


def test_limits_load_from_toml(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[mcp_servers.fs]\ncommand = "mcp-fs"\nmemory_limit_mb = 512\ncpu_time_limit_sec = 60\n'
        "open_files_limit = 256\nmax_lifetime_sec = 3600\n",
    )
    config = load_config(path)["fs"]
    assert (config.memory_limit_mb, config.cpu_time_limit_sec, config.open_files_limit) == (512, 60, 256)
    assert config.max_lifetime_sec == 3600.0
    assert "memory_limit_mb=512" in repr(config)
    assert ServerConfig(command="x").memory_limit_mb is None  # no limit unless configured
    assert config != ServerConfig(command="mcp-fs")  # a reload restarts a server whose limits changed


@pytest.mark.parametrize(
    ("line", "key", "message"),
    [
        ("memory_limit_mb = 0", "memory_limit_mb", "expected a positive whole number"),
        ("cpu_time_limit_sec = -5", "cpu_time_limit_sec", "expected a positive whole number"),
        ("cpu_time_limit_sec = 1.5", "cpu_time_limit_sec", "expected a whole number, got a number (1.5)"),
        ("open_files_limit = true", "open_files_limit", "expected a whole number, got a boolean"),
        ('memory_limit_mb = "1G"', "memory_limit_mb", "expected a whole number, got a string"),
        ("open_files_limit = 1073741824", "open_files_limit", "above this process's hard RLIMIT_NOFILE limit"),
        ("max_lifetime_sec = 0", "max_lifetime_sec", "expected a positive number of seconds"),
        ("open_files_limt = 5", "open_files_limt", "did you mean 'open_files_limit'"),
    ],
)
def test_invalid_limits_name_the_file_and_key(tmp_path: Path, line: str, key: str, message: str) -> None:
    path = write(tmp_path, f'[mcp_servers.fs]\ncommand = "mcp-fs"\n{line}\n')
    with pytest.raises(ConfigError, match="expected|above|did you mean") as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: mcp_servers.fs.{key}: ")
    assert message in str(info.value)


def test_limits_are_for_stdio_servers_only(tmp_path: Path) -> None:
    path = write(tmp_path, '[mcp_servers.web]\nurl = "https://example.com/mcp"\nmax_lifetime_sec = 60\n')
    with pytest.raises(
        ConfigError, match=r"mcp_servers\.web\.max_lifetime_sec: max_lifetime_sec is not supported for streamable_http"
    ):
        load_config(path)


@pytest.mark.parametrize(
    ("platform", "key", "message"),
    [
        ("win32", "cpu_time_limit_sec", "resource limits need setrlimit, which win32 does not have"),
        ("win32", "open_files_limit", "resource limits need setrlimit, which win32 does not have"),
        ("darwin", "memory_limit_mb", "macOS does not enforce RLIMIT_AS"),
    ],
)
def test_a_limit_the_platform_cannot_apply_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, platform: str, key: str, message: str
) -> None:
    monkeypatch.setattr(_limits, "_PLATFORM", platform)
    path = write(tmp_path, f'[mcp_servers.fs]\ncommand = "mcp-fs"\n{key} = 100\nmax_lifetime_sec = 60\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: mcp_servers.fs.{key}: cannot be applied: ")
    assert message in str(info.value)
    lifetime_only = write(tmp_path, '[mcp_servers.fs]\ncommand = "mcp-fs"\nmax_lifetime_sec = 60\n')
    assert load_config(lifetime_only)["fs"].max_lifetime_sec == 60  # the manager keeps it everywhere
    if platform == "darwin":
        assert load_config(write(tmp_path, '[mcp_servers.fs]\ncommand = "x"\ncpu_time_limit_sec = 5\n'))


def test_the_transport_refuses_a_limit_it_cannot_apply(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_limits, "_PLATFORM", "darwin")
    transport = StdioTransport(LIMITS_SERVER[0], LIMITS_SERVER[1:], name="m", memory_limit_mb=100)
    with pytest.raises(ServerStartError, match="memory_limit_mb = 100 cannot be applied: macOS does not enforce"):
        transport.open()
    transport.close()


def test_explain_exit_needs_evidence() -> None:
    assert _limits.explain_exit({"cpu_time_limit_sec": 3}, -signal.SIGKILL, "").startswith("killed by SIGKILL")
    assert _limits.explain_exit({}, -signal.SIGXCPU, "") is None  # no CPU limit configured
    assert _limits.explain_exit({"memory_limit_mb": 9}, 1, "ValueError: boom") is None
    assert _limits.explain_exit({"memory_limit_mb": 9}, None, "MemoryError") is None  # still running
    assert "memory_limit_mb = 9" in (_limits.explain_exit({"memory_limit_mb": 9}, -6, "std::bad_alloc") or "")


# ----------------------------------------------------------------------------- the trampoline


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_the_trampoline_sets_the_limits_and_changes_nothing_else(tmp_path: Path) -> None:
    script = (
        "import json, os, resource, sys\n"
        # The environment as exec'd (this interpreter coerces the locale again, after it starts).
        "env = dict(item.split('=', 1) for item in open('/proc/self/environ').read().split('\\0') if item)\n"
        "print(json.dumps({'argv': sys.argv, 'env': env, 'cwd': os.getcwd(), 'pid': os.getpid(),\n"
        "  'pgid': os.getpgid(0), 'nofile': resource.getrlimit(resource.RLIMIT_NOFILE),\n"
        "  'cpu': resource.getrlimit(resource.RLIMIT_CPU), 'as': resource.getrlimit(resource.RLIMIT_AS)}))\n"
    )
    probe = tmp_path / "probe.py"
    probe.write_text(script)
    # LANG=C makes a Python interpreter coerce the locale (it adds LC_CTYPE): the trampoline must undo that.
    transport = StdioTransport(
        sys.executable,
        ["-S", str(probe), "two words", ""],
        env={"LANG": "C", "MARK": "1"},
        cwd=str(tmp_path),
        name="probe",
        memory_limit_mb=400,
        cpu_time_limit_sec=30,
        open_files_limit=64,
    )
    transport.open()
    try:
        seen = transport.receive()
    finally:
        transport.close()
    assert seen["argv"][1:] == ["two words", ""]
    assert seen["pid"] == seen["pgid"] == transport.pid  # exec'd in place: same pid, own process group
    assert seen["env"]["MARK"] == "1" and seen["env"]["LANG"] == "C"
    assert "LC_CTYPE" not in seen["env"]
    assert seen["cwd"] == str(tmp_path)
    assert seen["nofile"] == [64, 64]
    assert seen["cpu"] == [30, 31]  # SIGKILL one CPU second after SIGXCPU
    assert seen["as"] == [400 * 1024 * 1024] * 2


def test_the_server_gets_default_signal_dispositions() -> None:
    # The trampoline is a Python interpreter, which ignores SIGPIPE and SIGXFSZ; exec keeps an
    # ignored signal ignored, so it must restore them as subprocess does.
    transport = StdioTransport("/bin/sh", ["-c", "grep SigIgn /proc/$$/status >&2"], name="sh", open_files_limit=64)
    transport.open()
    try:
        assert transport.receive() is None
        code, tail = transport.exit_details(5.0)
    finally:
        transport.close()
    assert code == 0
    if sys.platform == "linux":
        ignored = int(tail.split()[-1], 16)
        assert not ignored & (1 << (signal.SIGPIPE - 1)) and not ignored & (1 << (signal.SIGXFSZ - 1))


def test_a_missing_program_is_still_reported_before_the_spawn() -> None:
    transport = StdioTransport("no-such-program-xyz", name="missing", cpu_time_limit_sec=5)
    with pytest.raises(ServerStartError, match="was not found on PATH"):
        transport.open()
    transport.close()


# ----------------------------------------------------------------------------- each limit, enforced


def _limits_of(manager: MCPManager, name: str) -> Dict[str, List[int]]:
    result: Dict[str, List[int]] = json.loads(manager.call_server_tool(name, "limits").text)
    return result


def test_cpu_limit_kills_the_server_and_the_error_names_it() -> None:
    exits: List[ServerExited] = []
    with make(
        {"cpu": server(cpu_time_limit_sec=1)}, on_event=lambda e: exits.append(e) if isinstance(e, ServerExited) else None
    ) as manager:
        assert _limits_of(manager, "cpu")["RLIMIT_CPU"] == [1, 2]
        with pytest.raises(ConnectionClosed) as info:
            manager.call_tool("cpu__burn", timeout=30)
        message = str(info.value)
        assert "tool call failed for `cpu/burn`" in message
        assert "resource limit exceeded: cpu_time_limit_sec = 1" in message and "SIGXCPU" in message
        assert info.value.returncode == -signal.SIGXCPU
        assert manager.startup_status()["cpu"].state is ServerState.EXITED
        assert _wait_for(lambda: exits, 5.0)  # events arrive on their own thread
        assert "cpu_time_limit_sec = 1" in exits[0].error and exits[0].returncode == -signal.SIGXCPU
        assert manager.call_tool("cpu__echo", {"text": "back"}).text == "back"  # restarted on next use
        assert manager.metrics()["cpu"].restarts == 1


def test_memory_limit_fails_allocations_and_the_error_names_it() -> None:
    with make({"mem": server(memory_limit_mb=300)}) as manager:
        assert manager.call_tool("mem__allocate", {"mb": 20}).text == "allocated 20 MiB"  # within the limit
        with pytest.raises(ConnectionClosed) as info:
            manager.call_tool("mem__allocate", {"mb": 1024})
        message = str(info.value)
        assert "resource limit exceeded: memory_limit_mb = 300" in message
        assert "MemoryError" in info.value.stderr_tail
        assert manager.startup_status()["mem"].state is ServerState.EXITED


def test_open_files_limit_gives_emfile_and_the_error_names_it() -> None:
    with make({"files": server(open_files_limit=32)}) as manager:
        assert manager.call_tool("files__open_files", {"count": 10}).text == "opened 10"
        with pytest.raises(ConnectionClosed, match=r"resource limit exceeded: open_files_limit = 32 \(it ran out of file"):
            manager.call_tool("files__open_files", {"count": 100})


def test_a_limit_too_small_to_start_fails_the_start_up_naming_it() -> None:
    with pytest.raises(StartupError) as info, make({"tiny": server(memory_limit_mb=4, required=True)}):
        pass
    assert "memory_limit_mb = 4" in str(info.value)


def test_lifetime_stops_the_server_fails_its_calls_and_restarts_it_with_backoff() -> None:
    exits: List[ServerExited] = []
    config = server(max_lifetime_sec=1.0)
    with make({"old": config}, on_event=lambda e: exits.append(e) if isinstance(e, ServerExited) else None) as manager:
        first = manager.call_tool("old__pid").text
        assert any(t.name == "syncmcp-lifetime[old]" for t in threading.enumerate())
        with pytest.raises(ConnectionClosed) as info:
            manager.call_tool("old__burn", timeout=30)  # still running when its lifetime ends
        assert "resource limit reached: max_lifetime_sec = 1 (the manager stopped it after 1 s)" in str(info.value)
        assert manager.startup_status()["old"].state is ServerState.EXITED
        assert _wait_for(lambda: exits, 5.0)
        assert "max_lifetime_sec = 1" in exits[0].error
        second = manager.call_tool("old__pid").text  # the first restart is immediate
        assert second != first
        assert manager.metrics()["old"].restarts == 1
        assert _wait_for(lambda: len(exits) == 2, 10.0)  # stopped again: a consecutive restart
        with pytest.raises(ServerUnavailableError, match="will be restarted on its next use in") as backoff:
            manager.call_tool("old__pid")
        assert 25 < (backoff.value.retry_after or 0) <= 30
        assert manager.restart_server("old")  # a manual restart skips the backoff, and re-arms the timer
        assert manager.call_tool("old__echo", {"text": "again"}).text == "again"
    assert not any(t.name.startswith("syncmcp-lifetime") for t in threading.enumerate() if t.is_alive())


def _wait_for(predicate: Any, timeout: float) -> bool:
    done = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return True
        done.wait(0.02)
    return bool(predicate())
