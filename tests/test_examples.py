"""The examples run, the quick-start notebook executes with checked outputs, and a Jupyter kernel's
stop button and shutdown behave: interrupting cancels the call on the server, and servers left
open die with the kernel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

import pytest

from .conftest import ROOT, SCRIPTED, leftover_processes, wait_until

EXAMPLES = ROOT / "examples"


@pytest.fixture
def fresh_user(tmp_path: Path) -> Dict[str, str]:
    """An environment with no syncmcp configuration, working in an empty folder."""
    env = {k: v for k, v in os.environ.items() if k != "SYNCMCP_CONFIG"}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config-home")
    env["PYTHONPATH"] = str(ROOT)
    return env


def run_example(name: str, env: Dict[str, str], cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_multi_server_example(fresh_user: Dict[str, str], tmp_path: Path) -> None:
    out = run_example("multi_server.py", fresh_user, tmp_path)
    assert "workspace: ready" in out and "math: ready" in out
    assert "broken: failed (MCP client for `broken` failed to start" in out
    assert "math__add -> 42" in out
    assert "workspace__read_file" in out


def test_elicitation_example(fresh_user: Dict[str, str], tmp_path: Path) -> None:
    out = run_example("elicitation_handler.py", fresh_user, tmp_path)
    assert "[restaurant] Booking at Chez Python: who is coming?" in out
    assert "booked Chez Python for 2 under Ada, inside" in out  # guests and terrace: the form's defaults


def test_sandbox_state_example(fresh_user: Dict[str, str], tmp_path: Path) -> None:
    out = run_example("sandbox_state.py", fresh_user, tmp_path)
    assert "default policy: Created hello.txt" in out
    assert "read-only: refused" in out
    assert "workspace-write: Created again.txt" in out
    assert "files: ['again.txt', 'hello.txt']" in out


@pytest.mark.slow
@pytest.mark.parametrize("host", ["gunicorn", "waitress"])
@pytest.mark.parametrize("app", ["examples.flask_app:app", "examples.django_app:application"])
def test_web_framework_examples_serve_their_routes_and_mcp(app: str, host: str, tmp_path: Path) -> None:
    """The Flask and Django examples, run as their docstrings say: the framework keeps its routes,
    ``/mcp`` answers syncmcp's client in both eras (gunicorn: four workers, no sessions)."""
    import syncmcp

    from .test_wsgi_servers import get, serving

    with serving(host, tmp_path, app, cwd=ROOT) as served:
        assert get(served.port, "/hello")[::2] == (200, b"Hello, web!")
        status, _, body = get(served.port, "/quote/acme")
        assert status == 200 and json.loads(body) == {"symbol": "ACME", "price": 12.5}
        assert get(served.port, "/nowhere")[0] == 404
        for era in ("modern", "legacy"):
            with syncmcp.connect(served.url, protocol_era=era, timeout=30) as session:
                assert session.era == era
                assert [tool.name for tool in session.list_tools()] == ["greet", "quote"]
                assert session.call_tool("greet", {"name": "Ada"}).text == "Hello, Ada!"
                for _ in range(20):  # a few rounds, so that several workers answer
                    assert session.call_tool("quote", {"symbol": "acme"}).text == "ACME: 12.50"
                unknown = session.call_tool("quote", {"symbol": "nope"})
                assert unknown.is_error and "unknown symbol 'nope'" in unknown.text


def test_custom_server_example(fresh_user: Dict[str, str], tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "custom_server.py"), "--demo"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env=fresh_user,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "tools: ['add_note', 'stats']" in done.stdout
    assert "stats: {'notes': 1, 'characters': 14}" in done.stdout


# ----------------------------------------------------------------------------- notebooks

DRIVER = Path(__file__).resolve().parent / "drivers" / "kernel_driver.py"


def drive(env: Dict[str, str], *args: str) -> Dict[str, Any]:
    """Run the kernel driver (Jupyter's client machinery stays out of this process)."""
    done = subprocess.run([sys.executable, str(DRIVER), *args], check=False, capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_quickstart_notebook_executes_with_the_expected_outputs(fresh_user: Dict[str, str], tmp_path: Path) -> None:
    outputs = drive(fresh_user, "notebook", str(EXAMPLES / "quickstart.ipynb"), str(tmp_path))["outputs"]
    manager_table, tools_table, write, read, command, missing, session, closed = outputs
    assert "workspace" in manager_table and "ready" in manager_table and "<table" in manager_table
    assert "workspace__read_file" in tools_table and "<table" in tools_table
    assert "Created quickstart-note.txt" in write
    assert "written from a notebook" in read
    assert "structured content" in command and "Python 3" in command
    assert "tool error" in missing
    assert "syncmcp-workspace" in session and "read_file" in session
    assert "closed" in closed
    assert (tmp_path / "quickstart-note.txt").read_text() == "written from a notebook"


def test_the_stop_button_cancels_the_call_on_the_server(fresh_user: Dict[str, str], tmp_path: Path) -> None:
    seen = drive(fresh_user, "stop-button", str(SCRIPTED), str(tmp_path / "parked"))
    assert seen["setup"]["error"] is None, seen
    assert seen["interrupted"] == "KeyboardInterrupt"
    assert len(seen["cancelled"]) == 1  # the server was told
    assert seen["usable"] == "still usable"


def test_servers_left_open_die_with_the_kernel(fresh_user: Dict[str, str]) -> None:
    seen = drive(fresh_user, "shutdown", str(SCRIPTED))
    assert seen["error"] is None and len(seen["pids"]) == 2
    assert wait_until(lambda: not leftover_processes(seen["pids"]), timeout=10)


@pytest.mark.real
def test_remote_server_example(fresh_user: Dict[str, str], tmp_path: Path) -> None:
    from .test_http_real import everything_server

    server = everything_server(tmp_path, "streamableHttp")
    try:
        out = run_example("remote_server.py", fresh_user, tmp_path, server.url("/mcp"), "echo", '{"message": "from afar"}')
    finally:
        server.stop()
    lines = out.splitlines()
    assert lines[0].startswith("mcp-servers/everything") and lines[0].endswith("(legacy era)")
    assert any(line.startswith("  echo: ") for line in lines)
    assert lines[-1] == "Echo: from afar"


# ----------------------------------------------------------------------------- the agent loop


def test_agent_loop_example(fresh_user: Dict[str, str], tmp_path: Path) -> None:
    out = run_example("agent_loop.py", fresh_user, tmp_path).splitlines()
    assert 'assistant: calls workspace__write_file({"path": "agent-note.txt", "content": "Buy milk."})' in out
    assert "tool [call_1]: Created agent-note.txt (9 bytes)" in out
    # Both calls of the second turn ran, and came back in the order asked.
    assert out.index("tool [call_2]: Buy milk.") + 1 == out.index("tool [call_3]: agent-note.txt")
    assert out[-2:] == ["assistant: The note says 'Buy milk.'; the folder holds: agent-note.txt.", "turns: 3"]
    assert (tmp_path / "agent-note.txt").read_text() == "Buy milk."


def test_agent_loop_notebook_executes_with_the_expected_outputs(fresh_user: Dict[str, str], tmp_path: Path) -> None:
    outputs = drive(fresh_user, "notebook", str(EXAMPLES / "agent_loop.ipynb"), str(tmp_path))["outputs"]
    tools, _model, loop, answer, closed = outputs
    assert "workspace__write_file" in tools and "workspace__read_file" in tools
    assert loop.splitlines() == [
        "tool [call_1]: Created agent-note.txt (20 bytes)",
        "tool [call_2]: Written by an agent.",
        "tool [call_3]: agent-note.txt",
    ]
    assert answer.splitlines() == ["The note says 'Written by an agent.'; the folder holds: agent-note.txt.", "turns: 3"]
    assert "closed" in closed
    assert (tmp_path / "agent-note.txt").read_text() == "Written by an agent."
