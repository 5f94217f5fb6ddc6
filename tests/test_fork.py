"""fork() safety: a process that forks while it uses syncmcp, as preloading web servers,
``multiprocessing`` pools and task-queue workers do.

Each scenario runs in its own interpreter (``tests/drivers/fork_driver.py``) so that the fork
happens in a process whose threads are busy calling a server, and never in pytest's. Every
scenario is run against a real server (server-everything) and against the scripted one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

from .conftest import npm_server, scripted

DRIVER = Path(__file__).resolve().parent / "drivers" / "fork_driver.py"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="fork() is POSIX only")


@pytest.fixture(params=[pytest.param("server-everything", marks=pytest.mark.real), "scripted"])
def server(request: pytest.FixtureRequest) -> List[str]:
    if request.param == "scripted":
        return scripted()
    return [*npm_server("server-everything"), "stdio"]


def run(scenario: str, server: List[str]) -> Dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(DRIVER), scenario, json.dumps(server)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr, done.stderr[-3000:]
    found: Dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def assert_parent_untouched(found: Dict[str, Any]) -> None:
    assert found["child_exit_status"] == 0 and found["child_exit_seconds"] < 10
    assert found["parent_calls"] > 0 and not found["parent_wrong"] and not found["parent_errors"], found


def test_a_child_cannot_use_an_inherited_session_and_the_parent_is_untouched(server: List[str]) -> None:
    found = run("session", server)
    for step in ("call", "submit"):
        assert found[step]["error_type"] == "ForkedProcessError", found
        assert "before fork()" in found[step]["error"] and "Make a new one in this process" in found[step]["error"]
    assert "error" not in found["close"] and found["close"]["seconds"] < 1
    assert found["server_alive_after_child_close"] and found["server_alive_after_child"]
    assert_parent_untouched(found)
    assert not found["server_alive_after_close"]


def test_a_child_that_exits_without_closing_leaves_the_parents_server_running(server: List[str]) -> None:
    found = run("session_unclosed", server)
    assert_parent_untouched(found)
    assert found["server_alive_after_child"]
    assert found["parent_call_after_child"]["value"].endswith("after")


def test_a_living_child_does_not_keep_the_servers_input_open(server: List[str]) -> None:
    found = run("pipes_released", server)
    # The server saw the end of its input and exited by itself, within the 5 s grace.
    assert found["server_exit"] == 0 and found["close_seconds"] < 4, found


def test_an_inherited_manager_refuses_by_default(server: List[str]) -> None:
    found = run("manager_error", server)
    for step in ("call", "tools"):
        assert found[step]["error_type"] == "ForkedProcessError", found
        assert "after_fork='reconnect'" in found[step]["error"]
    assert "error" not in found["close"] and found["parent_server_alive_after_child_close"]
    assert_parent_untouched(found)
    assert not found["server_alive_after_close"]


def test_a_manager_that_reconnects_gives_the_child_servers_of_its_own(server: List[str]) -> None:
    found = run("manager_reconnect", server)
    assert found["call"]["value"].endswith("child") and found["tools"]["value"] is True, found
    assert found["child_server_pid"] not in (None, found["parent_server_pid"])
    assert found["child_server_alive_after_close"] is False and found["parent_server_alive_after_child_close"]
    assert_parent_untouched(found)
    assert not found["server_alive_after_close"]


def test_multiprocessing_fork_pool_workers_reconnect(server: List[str]) -> None:
    found = run("pool", server)
    assert found["right"] == found["of"] == 30
    assert found["parent_calls"] > 0 and not found["parent_wrong"] and not found["parent_errors"], found


def test_after_fork_is_checked() -> None:
    import syncmcp

    with pytest.raises(ValueError, match="after_fork must be 'error' or 'reconnect'"):
        syncmcp.MCPManager({}, after_fork="ignore")


def test_a_child_cannot_use_an_inherited_http_session_nor_end_it() -> None:
    found = run("http_session", [])
    assert found["call"]["error_type"] == "ForkedProcessError" and "error" not in found["close"], found
    assert_parent_untouched(found)
    # The session still exists on the server: the child's close sent no DELETE.
    assert found["parent_after_child"]["value"] is True, found
