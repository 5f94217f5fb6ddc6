"""Ctrl-C in a plain script blocked in a call: a clean ``KeyboardInterrupt``, and the server
reaped at exit although the script never closed anything."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import leftover_processes, scripted, wait_until

DRIVER = Path(__file__).resolve().parent / "drivers" / "interrupt_driver.py"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


@pytest.mark.parametrize("kind", ["session", "manager"])
def test_ctrl_c_interrupts_a_blocked_call_and_exit_reaps_the_server(kind: str) -> None:
    script = subprocess.Popen(
        [sys.executable, str(DRIVER), kind, json.dumps(scripted())],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert script.stdout is not None
        server_pid = int(script.stdout.readline())
        assert script.stdout.readline().strip() == "calling"
        time.sleep(0.3)  # into the blocking wait (an earlier SIGINT would interrupt the write instead: also fine)
        interrupted = time.monotonic()
        script.send_signal(signal.SIGINT)
        _, stderr = script.communicate(timeout=15)
        took = time.monotonic() - interrupted
    finally:
        if script.poll() is None:
            script.kill()
            script.wait()
    assert script.returncode in (130, -signal.SIGINT, 1), stderr
    assert stderr.rstrip().endswith("KeyboardInterrupt"), stderr
    assert "Exception ignored" not in stderr and stderr.count("Traceback") == 1, stderr
    assert took < 5, f"exit took {took:.1f} s"
    assert wait_until(lambda: not leftover_processes([server_pid]), timeout=5), leftover_processes([server_pid])
