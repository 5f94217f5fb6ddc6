"""MCPManager over real third-party servers at once (npm and PyPI peers), plus broken ones.

server-everything, server-filesystem and server-memory from npm, mcp-server-time from PyPI (run
by the peers' Python), a server-filesystem that cannot start and a scripted server that never
answers the handshake.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
from pathlib import Path
from typing import Any, Dict, List

import pytest

from syncmcp import (
    ElicitationRequest,
    MCPManager,
    ServerExited,
    ServerState,
    StartupComplete,
)

from .conftest import npm_server, scripted

pytestmark = pytest.mark.real

VALID_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def stdio(command: List[str], **config: Any) -> Dict[str, Any]:
    return {"command": command[0], "args": command[1:], **config}


class Events:
    def __init__(self) -> None:
        self.items: List[Any] = []
        self._cond = threading.Condition()

    def __call__(self, event: Any) -> None:
        with self._cond:
            self.items.append(event)
            self._cond.notify_all()

    def wait_for(self, predicate: Any, timeout: float = 30.0) -> Any:
        with self._cond:
            assert self._cond.wait_for(lambda: any(predicate(e) for e in self.items), timeout), self.items
            return next(e for e in self.items if predicate(e))


@pytest.fixture
def real_servers(tmp_path: Path, everything_cmd: List[str], time_cmd: List[str]) -> Dict[str, Any]:
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "notes.txt").write_text("hello from disk\n")
    return {
        "everything": stdio(everything_cmd),
        "files": stdio([*npm_server("server-filesystem"), str(tmp_path / "files")]),
        "memory": stdio(npm_server("server-memory"), env={"MEMORY_FILE_PATH": str(tmp_path / "memory.jsonl")}),
        "time": stdio(time_cmd, startup_timeout_sec=30),
        "broken": stdio([*npm_server("server-filesystem"), str(tmp_path / "does-not-exist")]),
        "mute": stdio(scripted("--no-init-answer"), startup_timeout_sec=1.0),
    }


def test_a_manager_over_four_real_servers_and_two_broken_ones(real_servers: Dict[str, Any], tmp_path: Path) -> None:
    events = Events()
    with MCPManager(real_servers, on_event=events, shutdown_grace=0.2) as manager:
        summary = events.wait_for(lambda e: isinstance(e, StartupComplete), timeout=60)
        assert summary.ready == ("everything", "files", "memory", "time")
        assert [f.server for f in summary.failed] == ["broken", "mute"]
        errors = {f.server: f.error for f in summary.failed}
        assert errors["broken"].startswith("MCP client for `broken` failed to start: MCP startup failed: ")
        assert "None of the specified directories are accessible" in errors["broken"]  # the server's stderr
        assert errors["mute"].startswith("MCP client for `mute` timed out after 1 seconds. Add or adjust `startup_timeout_sec`")

        tools = manager.list_all_tools()
        assert all(VALID_NAME.match(name) for name in tools)
        assert {"everything__echo", "files__read_text_file", "memory__create_entities", "time__get_current_time"} <= set(tools)
        assert {info.server for info in tools.values()} == {"everything", "files", "memory", "time"}
        assert tools["everything__get-sum"].tool_name == "get-sum"

        assert manager.call_tool("everything__echo", {"message": "hi"}).text == "Echo: hi"
        notes = manager.call_tool("files__read_text_file", {"path": str(tmp_path / "files" / "notes.txt")})
        assert notes.structured_content == {"content": "hello from disk\n"}
        manager.call_tool("memory__create_entities", {"entities": [{"name": "Ada", "entityType": "person", "observations": ["wrote code"]}]})
        graph = manager.call_tool("memory__read_graph").structured_content
        assert [entity["name"] for entity in graph["entities"]] == ["Ada"]
        assert manager.call_tool("time__get_current_time", {"timezone": "UTC"}).structured_content["timezone"] == "UTC"

        resources = manager.list_all_resources()
        assert len(resources["everything"]) >= 7 and "files" not in resources  # files declares no resources
        templates = manager.list_all_resource_templates()
        assert any(t.uri_template == "demo://resource/dynamic/text/{resourceId}" for t in templates["everything"])
        assert manager.read_resource("everything", resources["everything"][0].uri).text
        prompts = manager.list_all_prompts()
        assert "simple-prompt" in [p.name for p in prompts["everything"]]
        assert "Paris" in manager.get_prompt("everything", "args-prompt", {"city": "Paris"}).text
        assert "everything" in manager.server_instructions()

        health = manager.health_check()
        assert [name for name, status in health.items() if status.ok] == ["everything", "files", "memory", "time"]
        metrics = manager.metrics()
        assert metrics["memory"].calls == 2 and metrics["memory"].rss_bytes and metrics["memory"].rss_bytes > 10_000_000

        # 8 threads calling tools on the 4 servers at once.
        calls = [
            ("everything__echo", lambda i: {"message": f"m{i}"}, lambda i, r: r.text == f"Echo: m{i}"),
            ("files__list_allowed_directories", lambda i: {}, lambda i, r: str(tmp_path / "files") in r.text),
            ("memory__search_nodes", lambda i: {"query": "Ada"}, lambda i, r: "Ada" in r.text),
            ("time__get_current_time", lambda i: {"timezone": "Europe/Paris"}, lambda i, r: r.structured_content["timezone"] == "Europe/Paris"),
        ]
        barrier = threading.Barrier(8)
        failures: List[str] = []
        done: List[int] = []
        lock = threading.Lock()

        def worker(n: int) -> None:
            barrier.wait(10)
            for i in range(12):
                name, arguments, check = calls[(n + i) % 4]
                try:
                    result = manager.call_tool(name, arguments(i))
                    ok = check(i, result) and not result.is_error
                except Exception as exc:
                    ok, result = False, exc
                with lock:
                    done.append(n)
                    if not ok:
                        failures.append(f"{name}: {result}")

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert failures == []
        assert len(done) == 96
        assert sum(m.calls for m in manager.metrics().values()) == 96 + 5


def test_elicitation_from_server_everything_answered_through_an_event(everything_cmd: List[str]) -> None:
    events = Events()
    with MCPManager({"everything": stdio(everything_cmd, tool_timeout_sec=0.5)}, on_event=events, shutdown_grace=0.2) as manager:
        assert "everything__trigger-elicitation-request" in manager.list_all_tools()

        def user() -> None:
            request = events.wait_for(lambda e: isinstance(e, ElicitationRequest))
            threading.Event().wait(1.0)  # slower than the 0.5 s tool timeout: its clock is paused
            manager.resolve_elicitation(request.server, request.request_id, {"action": "accept", "content": {"name": "Ada Lovelace", "check": True}})

        helper = threading.Thread(target=user)
        helper.start()
        result = manager.call_tool("everything__trigger-elicitation-request")
        helper.join(10)
        assert "User provided the requested information" in result.text
        assert "- Name: Ada Lovelace" in result.text
        request = next(e for e in events.items if isinstance(e, ElicitationRequest))
        assert request.server == "everything" and isinstance(request.request_id, int)
        assert request.message == "Please provide inputs for the following fields:"
        assert request.requested_schema is not None and request.requested_schema["required"] == ["name"]


def test_elicitation_from_server_everything_answered_by_a_handler(everything_cmd: List[str]) -> None:
    asked = []

    def handler(server: str, request_id: Any, params: Dict[str, Any]) -> Dict[str, Any]:
        asked.append((server, params["message"]))
        return {"action": "decline"}

    with MCPManager({"everything": stdio(everything_cmd)}, elicitation_handler=handler, shutdown_grace=0.2) as manager:
        result = manager.call_tool("everything__trigger-elicitation-request")
        assert "User declined to provide the requested information." in result.text
        assert asked == [("everything", "Please provide inputs for the following fields:")]


def test_a_killed_real_server_restarts_on_next_use_and_reload_keeps_the_others(tmp_path: Path) -> None:
    memory_file = tmp_path / "memory.jsonl"
    servers = {
        "memory": stdio(npm_server("server-memory"), env={"MEMORY_FILE_PATH": str(memory_file)}),
        "thinking": stdio(npm_server("server-sequential-thinking")),
    }
    events = Events()
    with MCPManager(servers, on_event=events, shutdown_grace=0.2) as manager:
        manager.call_tool("memory__create_entities", {"entities": [{"name": "Grace", "entityType": "person", "observations": []}]})
        assert manager.startup_status()["memory"].era == "legacy"  # the TS SDK answers server/discover with -32601
        pid = manager.metrics()["memory"].pid
        assert pid is not None
        os.killpg(pid, signal.SIGKILL)
        exited = events.wait_for(lambda e: isinstance(e, ServerExited))
        assert exited.server == "memory" and exited.returncode == -9
        assert manager.startup_status()["memory"].state is ServerState.EXITED
        graph = manager.call_tool("memory__read_graph").structured_content  # restarted by this call
        assert [entity["name"] for entity in graph["entities"]] == ["Grace"]  # state came back from its file
        assert manager.metrics()["memory"].pid != pid
        assert manager.metrics()["memory"].restarts == 1
        restarted = manager._rt.slots["memory"].session()
        assert restarted is not None and restarted.protocol_era == "legacy"  # remembered: no second probe

        thinking_pid = manager.metrics()["thinking"].pid
        result = manager.reload({"thinking": servers["thinking"], "everything": stdio([*npm_server("server-everything"), "stdio"])})
        assert (result.added, result.removed, result.unchanged) == (("everything",), ("memory",), ("thinking",))
        assert manager.metrics()["thinking"].pid == thinking_pid
        assert manager.call_tool("everything__get-sum", {"a": 2, "b": 3.5}).text == "The sum of 2 and 3.5 is 5.5."
        thought = manager.call_tool(
            "thinking__sequentialthinking", {"thought": "one", "thoughtNumber": 1, "totalThoughts": 1, "nextThoughtNeeded": False}
        )
        assert json.loads(thought.text)["thoughtNumber"] == 1
