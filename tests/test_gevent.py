"""syncmcp under gevent: with ``monkey.patch_all()`` threads become greenlets and pipes and
sockets cooperative. The flows run in a fresh interpreter (patching must come first), against
the scripted server, server-everything and syncmcp's own HTTP server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import leftover_processes, need, npm_server, scripted, wait_until

DRIVER = Path(__file__).resolve().parent / "drivers" / "gevent_driver.py"

pytestmark = [pytest.mark.real, pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")]


def test_sessions_the_manager_and_http_work_under_gevent_and_exit_reaps_what_was_left_open() -> None:
    need("gevent")
    real = [*npm_server("server-everything"), "stdio"]
    done = subprocess.run(
        [sys.executable, str(DRIVER), json.dumps(scripted()), json.dumps(real)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # No noise at exit: no exception in a thread or a finaliser, no warning about an unclosed manager
    # beyond the one syncmcp logs on purpose.
    assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["patched"]
    assert found["echo"] == "hi" and found["greenlets_right"] == 20
    assert found["progress"] == [1, 2, 3]
    assert 0.25 <= found["timeout_seconds"] < 3 and found["ping_after_timeout"]
    assert "exit code 3" in found["crash"]
    assert found["tools"] and found["manager_right"] == 20
    assert found["http_tools"] and found["http_greenlets_right"] == 10
    # The manager left open at exit was reaped by the interpreter-exit net.
    assert wait_until(lambda: not leftover_processes([found["unclosed_pid"]]), timeout=5)
