"""The parts together: the manager over syncmcp's own server (the embedded default), sandbox state
end to end, and ``syncmcp serve`` side by side with third-party servers."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any, Dict, List

import pytest

import syncmcp
from syncmcp import MCPManager, SandboxState, ServerConfig

from .conftest import npm_server, peers_python


@pytest.fixture
def no_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user with no syncmcp configuration at all, working in an empty project folder."""
    monkeypatch.delenv("SYNCMCP_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config-home"))
    project = tmp_path / "project"
    project.mkdir()
    (project / "notes.txt").write_text("remember the milk\n")
    monkeypatch.chdir(project)
    return project


def test_with_no_configuration_the_manager_serves_the_embedded_workspace(no_config: Path) -> None:
    assert not syncmcp._config.default_config_path().exists()
    with MCPManager.from_config() as manager:
        tools = manager.list_all_tools()
        assert {"workspace__read_file", "workspace__write_file", "workspace__list_directory", "workspace__apply_patch"} <= set(tools)
        assert manager.call_tool("workspace__read_file", {"path": "notes.txt"}).text == "remember the milk\n"
        listing = manager.call_tool("workspace__list_directory", {})
        assert "notes.txt" in listing.text
        assert manager.server_instructions()  # the workspace server explains itself


def test_sandbox_state_from_the_manager_changes_what_serve_allows(no_config: Path) -> None:
    with MCPManager({"ws": ServerConfig(command=sys.executable, args=("-m", "syncmcp", "serve"))}) as manager:
        write = {"path": "new.txt", "content": "hello"}
        assert not manager.call_tool("ws__write_file", write).is_error
        assert not manager.notify_sandbox_state_change(SandboxState("read-only", str(no_config)))  # no failures
        refused = manager.call_tool("ws__write_file", {"path": "other.txt", "content": "x"})
        assert refused.is_error and "read-only" in refused.text
        assert not (no_config / "other.txt").exists()
        manager.notify_sandbox_state_change(SandboxState("workspace-write", str(no_config), writable_roots=[str(no_config)]))
        assert not manager.call_tool("ws__write_file", {"path": "other.txt", "content": "x"}).is_error
        escape = manager.call_tool("ws__write_file", {"path": "../outside.txt", "content": "x"})
        assert escape.is_error
        assert not (no_config.parent / "outside.txt").exists()


@pytest.mark.real
def test_serve_alongside_third_party_servers(no_config: Path) -> None:
    everything = npm_server("server-everything")
    python = peers_python()
    servers = {
        "workspace": ServerConfig(command=sys.executable, args=("-m", "syncmcp", "serve")),
        "everything": ServerConfig(command=everything[0], args=(*everything[1:], "stdio")),
        "time": ServerConfig(command=python, args=("-m", "mcp_server_time", "--local-timezone", "UTC"), startup_timeout_sec=20),
    }
    with MCPManager(servers) as manager:
        tools = manager.list_all_tools()
        assert {"workspace__read_file", "everything__echo", "time__get_current_time"} <= set(tools)
        results: Dict[str, Any] = {}

        def call(name: str, arguments: Dict[str, Any]) -> None:
            results[name] = manager.call_tool(name, arguments)

        calls = [
            ("workspace__read_file", {"path": "notes.txt"}),
            ("everything__echo", {"message": "hi"}),
            ("time__get_current_time", {"timezone": "UTC"}),
        ]
        threads = [threading.Thread(target=call, args=item) for item in calls]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert results["workspace__read_file"].text == "remember the milk\n"
        assert results["everything__echo"].text == "Echo: hi"
        assert results["time__get_current_time"].structured_content["timezone"] == "UTC"
        states: List[str] = [str(manager.startup_status()[name].state) for name in servers]
        assert all("ready" in state for state in states)


def test_serve_result_validates_against_its_own_output_schemas(no_config: Path) -> None:
    """syncmcp's client validates structured results; syncmcp's server must produce valid ones."""
    with syncmcp.connect(sys.executable, ["-m", "syncmcp", "serve"], timeout=20) as session:
        tools = {tool.name: tool for tool in session.list_tools()}
        with_schema = [name for name, tool in tools.items() if tool.output_schema is not None]
        assert with_schema  # there is something to validate
        result = session.call_tool("execute_command", {"command": ["ls"]})
        assert not result.is_error
        assert "notes.txt" in json.dumps(result.structured_content)
