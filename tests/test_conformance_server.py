"""The official MCP conformance suite (``@modelcontextprotocol/conformance``) scores syncmcp's server.

``tools/conformance_server.py`` (a ``syncmcp.server.Server`` built with the public API only,
served by ``Server.run_http``) runs as a subprocess on a free port; the suite's runner, on the
Node >= 22 found as in ``tests/test_conformance.py``, connects to ``http://127.0.0.1:PORT/mcp``
as an MCP client (the TypeScript SDK's, over Streamable HTTP) and runs its server scenarios one
after the other.

- ``active`` (the default suite, 30 scenarios in 0.1.16): every scenario must pass, except those
  listed, with a reason, in ``tools/conformance/expected-server-failures.yml``; run twice, with
  JSON answers where nothing streams (the default) and with every answer an SSE stream
  (``--sse``).
- ``pending`` (``json-schema-2020-12``, ``server-sse-polling``): informational; the table is
  printed and saved, and only a crash of the runner fails the test.

The server is always stopped: SIGTERM (``run_http`` shuts down cleanly), then SIGKILL.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, NamedTuple, Optional

import pytest

from .conftest import ROOT
from .test_conformance import conformance_node, conformance_script, results_tools, run_runner

pytestmark = [pytest.mark.real, pytest.mark.slow]

SERVER = ROOT / "tools" / "conformance_server.py"
EXPECTED_FAILURES = ROOT / "tools" / "conformance" / "expected-server-failures.yml"
#: The active server scenarios of 0.1.16 (a missing one means the suite changed under us).
ACTIVE_SCENARIOS = (
    "server-initialize",
    "logging-set-level",
    "ping",
    "completion-complete",
    "tools-list",
    "tools-call-simple-text",
    "tools-call-image",
    "tools-call-audio",
    "tools-call-embedded-resource",
    "tools-call-mixed-content",
    "tools-call-with-logging",
    "tools-call-error",
    "tools-call-with-progress",
    "tools-call-sampling",
    "tools-call-elicitation",
    "elicitation-sep1034-defaults",
    "server-sse-multiple-streams",
    "elicitation-sep1330-enums",
    "resources-list",
    "resources-read-text",
    "resources-read-binary",
    "resources-templates-read",
    "resources-subscribe",
    "resources-unsubscribe",
    "prompts-list",
    "prompts-get-simple",
    "prompts-get-with-args",
    "prompts-get-embedded-resource",
    "prompts-get-with-image",
    "dns-rebinding-protection",
)
#: Seconds the server may take to accept connections, and to exit after SIGTERM.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
#: Seconds a whole suite may take: the scenarios run one after the other, the active suite in a
#: few seconds; below pytest's 120 s timeout, so that a hung run is killed here, with its group.
SUITE_TIMEOUT = 90


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServedServer:
    """``tools/conformance_server.py`` running on a port; its output goes to ``log``."""

    def __init__(self, log: Path, mode: str) -> None:
        self.mode = mode
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self.log = log
        self.returncode: Optional[int] = None
        self.killed = False
        with open(log, "wb") as output:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    str(SERVER),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    *(["--sse"] if mode == "sse" else []),
                ],
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def wait_until_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                pytest.fail(
                    f"the conformance server exited with {self.process.returncode} before listening:\n{self.output()[-4000:]}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1.0):
                    return
            except OSError:
                pass
            if time.monotonic() >= deadline:
                pytest.fail(
                    f"the conformance server did not listen on port {self.port} within {START_TIMEOUT:g} s:\n{self.output()[-4000:]}"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL (its whole process group) if it has not exited in time; idempotent."""
        if self.returncode is not None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.killed = True
                os.killpg(self.process.pid, signal.SIGKILL)  # not reaped yet: the group is still ours
                self.process.wait()
        self.returncode = self.process.returncode


@pytest.fixture(params=["json", "sse"])
def conformance_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServedServer]:
    """The server, answering with JSON where nothing streams (``json``) or always with SSE (``sse``)."""
    conformance_node()  # no server to start when the suite is missing
    conformance_script()
    served = ServedServer(tmp_path / "server.log", request.param)
    try:
        served.wait_until_listening()
        yield served
    finally:
        served.stop()


class ServerRun(NamedTuple):
    suite: str
    mode: str
    returncode: int
    stdout: str
    stderr: str
    folder: Path
    results: Dict[str, List[Dict[str, Any]]]
    started: List[str]  # the scenarios the runner announced
    summarized: List[str]  # the scenarios the runner's summary names

    def table(self, expected: Optional[List[str]] = None, every_check: bool = False) -> str:
        title = f"conformance server suite '{self.suite}', {self.mode} answers (runner exit code {self.returncode})"
        return results_tools.format_table(self.results, expected, title=title, every_check=every_check)

    def crashed(self) -> Optional[str]:
        """Why the runner itself failed (no summary, or a scenario without results), else ``None``."""
        if "=== SUMMARY ===" not in self.stdout or not self.summarized:
            return "the runner printed no summary"
        missing = sorted(set(self.started) - set(self.results))
        if missing:
            return f"no checks.json for {missing}"
        return None


def run_server_suite(served: ServedServer, suite: str, folder: Path, expected_failures: Optional[Path] = None) -> ServerRun:
    argv = [conformance_node(), conformance_script(), "server", "--url", served.url, "--suite", suite, "-o", str(folder)]
    returncode, stdout, stderr = run_runner(argv, f"the conformance server suite '{suite}'", expected_failures, SUITE_TIMEOUT)
    started = re.findall(r"^=== Running scenario: (\S+) ===$", stdout, flags=re.MULTILINE)
    summarized = re.findall(r"^[✓✗] (\S+): \d+ passed", stdout, flags=re.MULTILINE)
    results = results_tools.load_server_results(folder) if folder.exists() else {}
    return ServerRun(suite, served.mode, returncode, stdout, stderr, folder, results, started, summarized)


def report(run: ServerRun, folder: Path, capsys: pytest.CaptureFixture[str], expected: Optional[List[str]] = None) -> str:
    """Print the table (past pytest's capture: it belongs in the log) and keep it beside the results."""
    table = run.table(expected, every_check=run.suite != "active")
    (folder / f"table-server-{run.suite}-{run.mode}.txt").write_text(table + "\n", encoding="utf-8")
    with capsys.disabled():
        print(f"\n{table}\n(results in {run.folder})")
    return table


def test_active_server_scenarios(tmp_path: Path, capsys: pytest.CaptureFixture[str], conformance_server: ServedServer) -> None:
    expected = results_tools.load_expected_failures(EXPECTED_FAILURES, "server")
    unknown = sorted(set(expected) - set(ACTIVE_SCENARIOS))
    assert unknown == [], f"{EXPECTED_FAILURES.name} lists scenarios that are not active server scenarios: {unknown}"
    run = run_server_suite(conformance_server, "active", tmp_path / "active", EXPECTED_FAILURES)
    table = report(run, tmp_path, capsys, expected)
    conformance_server.stop()
    diagnosis = f"{table}\n--- the server's output ---\n{conformance_server.output()[-6000:]}"
    crash = run.crashed()
    assert crash is None, f"{crash}\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}\n{diagnosis}"

    missing = [name for name in ACTIVE_SCENARIOS if name not in run.results]
    assert missing == [], f"these active scenarios did not run: {missing}\n{diagnosis}"
    failing = [name for name in run.results if not results_tools.passed(run.results[name]) and name not in expected]
    assert failing == [], f"failing server scenarios: {failing}\n{diagnosis}"
    stale = [name for name in run.results if results_tools.passed(run.results[name]) and name in expected]
    assert stale == [], f"remove these passing scenarios from {EXPECTED_FAILURES.name}: {stale}\n{diagnosis}"
    # The runner's own verdict on the baseline agrees: no unexpected failure, no stale entry.
    assert run.returncode == 0, f"{diagnosis}\n{run.stdout[-3000:]}"
    # run_http stops cleanly on SIGTERM.
    assert not conformance_server.killed, f"the server did not exit within {STOP_TIMEOUT:g} s of SIGTERM\n{diagnosis}"
    assert conformance_server.returncode == 0, f"the server exited with {conformance_server.returncode}\n{diagnosis}"


def test_pending_server_scenarios(tmp_path: Path, capsys: pytest.CaptureFixture[str], conformance_server: ServedServer) -> None:
    run = run_server_suite(conformance_server, "pending", tmp_path / "pending")
    report(run, tmp_path, capsys)
    crash = run.crashed()
    assert crash is None, f"{crash}\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}\n{conformance_server.output()[-4000:]}"
    assert run.results, "no scenario ran"
