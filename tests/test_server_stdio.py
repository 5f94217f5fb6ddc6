"""Servers as real processes on stdio: ``python -m syncmcp serve`` and a framework-built server,
driven by syncmcp's own client and by hand (stdout hygiene, EOF, SIGTERM, the command line)."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest

import syncmcp
from syncmcp import SandboxState
from syncmcp.server.workspace._commands import find_bubblewrap

from .conftest import IN_CI, SERVERS, processes_with, wait_until

FIXTURE = [sys.executable, "-u", str(SERVERS / "framework_server.py")]


def serve_command(root: Path, *extra: str) -> List[str]:
    return [sys.executable, "-m", "syncmcp", "serve", "--root", str(root), *extra]


class Process:
    """A server process driven by hand: JSON lines in, every stdout line checked to be JSON."""

    def __init__(self, argv: List[str], cwd: Path) -> None:
        self.proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._buffer = b""
        self.lines: List[bytes] = []

    def send(self, message: Dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()

    def receive(self, timeout: float = 10.0) -> Dict[str, Any]:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                pytest.fail(f"no line from the server within {timeout} s")
            chunk = os.read(fd, 65536)
            if not chunk:
                pytest.fail("the server closed stdout")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        self.lines.append(line)
        return json.loads(line)  # anything that is not JSON fails the test here

    def response(self, request_id: int) -> Dict[str, Any]:
        while True:
            message = self.receive()
            if message.get("id") == request_id and "method" not in message:
                return message

    def initialize(self) -> None:
        self.send(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
            }
        )
        assert self.response(1)["result"]["protocolVersion"] == "2025-11-25"
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def finish(self, timeout: float = 10.0) -> int:
        """Reap the process (killing it if needed); its exit code."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            pytest.fail("the server did not exit in time")
        finally:
            for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
                if stream is not None and not stream.closed:
                    try:
                        stream.close()
                    except BrokenPipeError:
                        pass


def test_syncmcp_serve_works_with_syncmcp_s_own_client(tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_text("hello\n")
    command = serve_command(tmp_path)
    with syncmcp.connect(command[0], command[1:], timeout=20) as session:
        assert session.era == "modern"  # syncmcp serve answers server/discover
        assert session.server_info.name == "syncmcp-workspace"
        assert sorted(tool.name for tool in session.list_tools()) == [
            "apply_patch",
            "execute_command",
            "list_directory",
            "read_file",
            "write_file",
        ]
        assert session.call_tool("read_file", {"path": "hello.txt"}).text == "hello\n"
        assert session.call_tool("execute_command", {"command": ["cat", "hello.txt"]}).structured_content["stdout"] == "hello\n"
        session.request("syncmcp/sandbox-state/update", SandboxState("read-only", str(tmp_path)).to_syncmcp())
        refused = session.call_tool("write_file", {"path": "new.txt", "content": "x"})
        assert refused.is_error and "read-only" in refused.text
        session.request("codex/sandbox-state/update", SandboxState("workspace-write", str(tmp_path)).to_codex())
        assert not session.call_tool("write_file", {"path": "new.txt", "content": "x"}).is_error
        assert "file://{+path}" in [t.uri_template for t in session.list_resource_templates()]
    assert (tmp_path / "new.txt").read_text() == "x"


def test_the_sandbox_flag_sets_the_starting_policy(tmp_path: Path) -> None:
    command = serve_command(tmp_path, "--sandbox", "read-only")
    with syncmcp.connect(command[0], command[1:], timeout=20) as session:
        assert session.call_tool("write_file", {"path": "x.txt", "content": "x"}).is_error
    assert not (tmp_path / "x.txt").exists()


def test_the_framework_fixture_works_with_syncmcp_s_own_client(tmp_path: Path) -> None:
    answers: List[str] = []
    with syncmcp.connect(
        FIXTURE[0],
        [*FIXTURE[1:], "--page-size", "4"],
        timeout=20,
        elicitation_handler=lambda ctx, params: (
            answers.append(params["message"]) or {"action": "accept", "content": {"name": "Lin"}}
        ),
    ) as session:
        assert len(session.list_tools()) == 13
        assert session.call_tool("weather", {"city": "Oslo"}).structured_content == {
            "city": "Oslo",
            "temperature": -3.0,
            "conditions": "snow",
        }
        assert session.call_tool("ask_name").text == "Hello, Lin!"
        assert answers == ["What is your name?"]
        threads = session.request("fixture/threads")["threads"]
        assert any(name.startswith("syncmcp-reader[stdio-client]") for name in threads)
        assert any(name.startswith("syncmcp-handler[stdio-client]") for name in threads)


def test_print_and_writes_to_fd_1_in_a_handler_never_reach_the_protocol_stream(tmp_path: Path) -> None:
    server = Process(FIXTURE, tmp_path)
    try:
        server.initialize()
        server.send(
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "noisy", "arguments": {"text": "leak?"}}}
        )
        assert server.response(2)["result"]["content"][0]["text"] == "echo: leak?"
        server.send({"jsonrpc": "2.0", "id": 3, "method": "ping"})
        assert server.response(3)["result"] == {}
    finally:
        assert server.proc.stdin is not None
        server.proc.stdin.close()
        assert server.finish() == 0
    assert all(line.startswith(b"{") for line in server.lines)


def test_noisy_output_goes_to_stderr(tmp_path: Path) -> None:
    result = subprocess.run(
        FIXTURE,
        input=(
            b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}\n'
            b'{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"noisy","arguments":{"text":"hi"}}}\n'
        ),
        capture_output=True,
        timeout=30,
        check=True,
    )
    lines = result.stdout.splitlines()
    assert [json.loads(line)["id"] for line in lines] == [1, 2]
    assert b"print: hi" in result.stderr and b"fd1: hi" in result.stderr and b"child: hi" in result.stderr


@pytest.mark.parametrize("sandbox", ["none", "bubblewrap"])
@pytest.mark.parametrize("how", ["stdin-eof", "sigterm"])
def test_the_server_exits_promptly_and_ends_its_commands(tmp_path: Path, how: str, sandbox: str) -> None:
    if sandbox == "bubblewrap" and find_bubblewrap() is None:
        message = "bubblewrap (bwrap) is missing or cannot create namespaces here; tools/run-tests installs it in CI"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    server = Process(serve_command(tmp_path, *(["--no-os-sandbox"] if sandbox == "none" else [])), tmp_path)
    marker = f"37.{os.getpid()}{len(how)}{len(sandbox)}"
    try:
        server.initialize()
        script = f"sleep {marker} & sleep {marker}; wait"
        server.send(
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {"name": "execute_command", "arguments": {"command": ["sh", "-c", script]}},
            }
        )
        assert wait_until(lambda: len(processes_with(marker)) == 2, timeout=10)
        started = time.monotonic()
        if how == "sigterm":
            server.proc.send_signal(signal.SIGTERM)
        else:
            assert server.proc.stdin is not None
            server.proc.stdin.close()
        assert server.finish(timeout=10) == 0
        assert time.monotonic() - started < 5.0
        assert wait_until(lambda: not processes_with(marker), timeout=5), "a command outlived the server"
    finally:
        if server.proc.returncode is None:
            server.proc.kill()
            server.finish()


def test_an_idle_server_exits_at_once_when_stdin_closes(tmp_path: Path) -> None:
    server = Process(serve_command(tmp_path), tmp_path)
    server.initialize()
    started = time.monotonic()
    assert server.proc.stdin is not None
    server.proc.stdin.close()
    assert server.finish() == 0
    assert time.monotonic() - started < 1.5


def test_serve_refuses_a_missing_root_with_a_clear_message(tmp_path: Path) -> None:
    result = subprocess.run(
        serve_command(tmp_path / "missing"), capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL, check=False
    )
    assert result.returncode == 2
    assert "is not a folder" in result.stderr and result.stdout == ""


def test_the_command_line_without_a_command_prints_help() -> None:
    result = subprocess.run([sys.executable, "-m", "syncmcp"], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2 and "serve" in result.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "syncmcp", "serve", "--env", "NOEQUALS"], capture_output=True, text=True, timeout=30, check=False
    )
    assert bad.returncode == 2 and "expected KEY=VALUE" in bad.stderr


def test_the_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "syncmcp"
    assert script.exists(), "pip install -e . should create the 'syncmcp' console script"
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0 and result.stdout.startswith("syncmcp ")
