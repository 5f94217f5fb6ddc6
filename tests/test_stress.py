"""Stress: 16 threads x 1000 calls over 4 managed servers while servers restart, leave, come back
and the configuration is reloaded.

What is checked:

* every call ends, with its own result (each call echoes a payload unique to it) or with an
  error the churn explains (below), never a timeout and never an untyped error;
* a server nobody touches (``steady``) answers every one of its calls and keeps its process;
* no deadlock: a watchdog thread that, past the deadline, dumps every thread's stack (Python
  frames from ``sys._current_frames`` and ``faulthandler``'s view) into the failure message;
* afterwards the manager is consistent: every configured server answers, ``steady`` kept its
  pid; and (``no_leaks``) no thread, child process or descriptor outlives the manager.

Errors a call may get, by what happens to its server (anything else fails the test):

* ``restarted`` (``restart_server()``, which closes the running instance at once, without a
  drain): ``ConnectionClosed`` (the call was in flight on the instance being closed),
  ``SessionClosedError`` ("session ... is closed": the call took the instance just before the
  restart closed it, and had sent nothing), ``ServerUnavailableError`` (the new instance's
  start-up, which the call waited for, failed or missed its deadline on a loaded machine).
* ``churn`` (``remove_server()`` / ``add_server()`` / a reload that drops it or brings it back):
  those of ``restarted``, plus ``UnknownServerError`` / ``UnknownToolError`` (looked up while it
  is not configured) and ``SessionClosedError`` ("was removed or its manager closed": looked up
  just before a removal, which drains only calls that hold an instance already).
* ``reloaded`` (a reload that changes its configuration, so it is replaced after a drain): those
  of ``restarted`` (a call that found the replaced instance closed mid-way).
* ``steady``: none.
"""

from __future__ import annotations

import collections
import faulthandler
import io
import os
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Counter, Dict, List, Tuple, Type

import pytest

from syncmcp import (
    ConnectionClosed,
    MCPManager,
    ServerUnavailableError,
    SessionClosedError,
    UnknownServerError,
    UnknownToolError,
)

from .conftest import scripted, toml_server

THREADS = 16
CALLS_PER_THREAD = 1000
DEADLINE = 50.0  # seconds for the whole run (the test must stay well under a minute)
CALL_TIMEOUT = 20.0  # a call that takes this long is a hang, reported as RequestTimeout

STEADY, RESTARTED, CHURN, RELOADED = "steady", "restarted", "churn", "reloaded"
SERVERS = (STEADY, RESTARTED, CHURN, RELOADED)

_RESTART_ERRORS: Tuple[Type[BaseException], ...] = (ConnectionClosed, SessionClosedError, ServerUnavailableError)
ACCEPTABLE: Dict[str, Tuple[Type[BaseException], ...]] = {
    STEADY: (),
    RESTARTED: _RESTART_ERRORS,
    CHURN: (*_RESTART_ERRORS, UnknownServerError, UnknownToolError),
    RELOADED: _RESTART_ERRORS,
}


class Watchdog(threading.Thread):
    """Waits for ``done``; past ``deadline`` seconds it dumps every thread's stack and sets ``fired``."""

    def __init__(self, deadline: float) -> None:
        super().__init__(name="stress-watchdog", daemon=True)
        self.deadline = deadline
        self.done = threading.Event()
        self.fired = threading.Event()
        self.report = ""

    def run(self) -> None:
        if self.done.wait(self.deadline):
            return
        self.report = dump_all_stacks()
        self.fired.set()

    def wait(self, workers: List[threading.Thread]) -> bool:
        """Wait until every worker ended (True) or the watchdog fired (False)."""
        for worker in workers:
            while worker.is_alive():
                if self.fired.is_set():
                    return False
                worker.join(0.05)
        self.done.set()
        return True


def dump_all_stacks() -> str:
    """Every thread's Python stack, by name (``sys._current_frames``), then ``faulthandler``'s dump."""
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    out = io.StringIO()
    for ident, frame in sys._current_frames().items():
        out.write(f"\n--- thread {names.get(ident, '?')} ({ident})\n")
        out.write("".join(traceback.format_stack(frame)))
    with tempfile.TemporaryFile("w+") as handle:  # faulthandler writes to a real descriptor
        faulthandler.dump_traceback(handle, all_threads=True)
        handle.seek(0)
        out.write("\n--- faulthandler\n" + handle.read())
    return out.getvalue()


def write_config(path: Path, generation: int, with_churn: bool) -> None:
    """The configuration file: ``reloaded``'s arguments change with ``generation``."""
    common = {"startup_timeout_sec": 15, "tool_timeout_sec": CALL_TIMEOUT}
    text = toml_server(STEADY, scripted(), **common)
    text += toml_server(RESTARTED, scripted(), **common)
    if with_churn:
        text += toml_server(CHURN, scripted(), **common)
    text += toml_server(RELOADED, scripted("--tool", f"generation_{generation}"), **common)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)  # a reload never reads half a file


class Outcomes:
    """Per server: successes, and errors by type (with one example message each)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ok: Counter[str] = collections.Counter()
        self.errors: Dict[str, Counter[str]] = collections.defaultdict(collections.Counter)
        self.unexpected: List[str] = []
        self.examples: Dict[Tuple[str, str], str] = {}

    def success(self, server: str) -> None:
        with self.lock:
            self.ok[server] += 1

    def failure(self, server: str, exc: BaseException, expected: bool) -> None:
        name = type(exc).__name__
        with self.lock:
            self.errors[server][name] += 1
            self.examples.setdefault((server, name), str(exc)[:300])
            if not expected:
                detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
                self.unexpected.append(f"[{server}] {name}: {detail}")

    def total(self) -> int:
        return sum(self.ok.values()) + sum(sum(c.values()) for c in self.errors.values())

    def summary(self) -> str:
        lines = []
        for server in SERVERS:
            errors = ", ".join(f"{n} {k}" for k, n in sorted(self.errors[server].items())) or "no errors"
            lines.append(f"{server}: {self.ok[server]} ok, {errors}")
        lines += [f"  e.g. {server}/{kind}: {text}" for (server, kind), text in sorted(self.examples.items())]
        return "\n".join(lines)


def worker(manager: MCPManager, index: int, outcomes: Outcomes, mismatches: List[str]) -> None:
    for call in range(CALLS_PER_THREAD):
        server = SERVERS[(index + call) % len(SERVERS)]
        payload = f"{server}/{index}/{call}/{time.monotonic_ns()}"
        try:
            if call % 2:
                result = manager.call_tool(f"{server}__echo", {"text": payload}, timeout=CALL_TIMEOUT)
            else:
                result = manager.call_server_tool(server, "echo", {"text": payload}, timeout=CALL_TIMEOUT)
        except BaseException as exc:  # every outcome is recorded and judged
            outcomes.failure(server, exc, isinstance(exc, ACCEPTABLE[server]) and mentions(exc, server))
            continue
        if result.is_error or result.text != payload:
            with outcomes.lock:
                mismatches.append(f"{server}: sent {payload!r}, got {result.text!r} (is_error={result.is_error})")
        outcomes.success(server)


def mentions(exc: BaseException, server: str) -> bool:
    """Whether an error names the server it is about (a typed error for the wrong server is a bug)."""
    owner = getattr(exc, "server", None)
    return owner == server if owner else f"{server}" in str(exc)


def chaos(manager: MCPManager, config: Path, stop: threading.Event, log: List[str], errors: List[str]) -> None:
    """Restart, remove, add and reload until ``stop``; each step's failure is recorded, never raised."""
    generation = 0
    churn_config = {"command": scripted()[0], "args": scripted()[1:], "startup_timeout_sec": 15}
    steps: List[Tuple[str, Callable[[], Any]]] = []

    def reload_changed() -> Any:
        nonlocal generation
        generation += 1
        write_config(config, generation, with_churn=CHURN in manager.servers)
        return manager.reload()

    def reload_without_churn() -> Any:
        write_config(config, generation, with_churn=False)
        return manager.reload()

    def reload_with_churn() -> Any:
        write_config(config, generation, with_churn=True)
        return manager.reload()

    steps = [
        ("restart restarted", lambda: manager.restart_server(RESTARTED)),
        ("remove churn", lambda: manager.remove_server(CHURN)),
        ("restart restarted (no wait)", lambda: manager.restart_server(RESTARTED, wait=False)),
        ("add churn", lambda: manager.add_server(CHURN, churn_config)),
        ("reload: reloaded changes", reload_changed),
        ("reload: churn leaves", reload_without_churn),
        ("restart restarted", lambda: manager.restart_server(RESTARTED)),
        ("reload: churn comes back", reload_with_churn),
    ]
    step = 0
    while not stop.is_set():
        name, action = steps[step % len(steps)]
        step += 1
        try:
            outcome = action()
        except Exception as exc:
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
        else:
            log.append(f"{name}: {outcome!r}")
        stop.wait(0.05)


@pytest.mark.slow
def test_many_threads_calling_many_servers_while_they_restart_come_and_go(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    write_config(config, 0, with_churn=True)
    started = time.monotonic()
    manager = MCPManager.from_config(config, shutdown_grace=0.5, drain_timeout=2.0)
    watchdog = Watchdog(DEADLINE)
    watchdog.start()
    try:
        assert manager.wait_for_startup(30), manager.startup_status()
        steady_pid = manager.metrics()[STEADY].pid
        assert steady_pid is not None

        outcomes = Outcomes()
        mismatches: List[str] = []
        stop = threading.Event()
        chaos_log: List[str] = []
        chaos_errors: List[str] = []
        chaos_thread = threading.Thread(
            target=chaos, args=(manager, config, stop, chaos_log, chaos_errors), name="stress-chaos", daemon=True
        )
        workers = [
            threading.Thread(target=worker, args=(manager, i, outcomes, mismatches), name=f"stress-worker-{i}", daemon=True)
            for i in range(THREADS)
        ]
        chaos_thread.start()
        for thread in workers:
            thread.start()
        finished = watchdog.wait(workers)
        stop.set()
        if not finished:
            pytest.fail(
                f"calls still running after {DEADLINE:.0f} s ({outcomes.total()} of {THREADS * CALLS_PER_THREAD} ended)\n"
                f"{outcomes.summary()}\nlast chaos steps: {chaos_log[-5:]}\n\nstacks:{watchdog.report}"
            )
        chaos_thread.join(30)
        assert not chaos_thread.is_alive(), "a restart, reload or add/remove is stuck:" + dump_all_stacks()
        elapsed = time.monotonic() - started

        summary = outcomes.summary()
        assert outcomes.total() == THREADS * CALLS_PER_THREAD, summary
        assert not mismatches, f"{len(mismatches)} results do not match their request: {mismatches[:5]}"
        assert not outcomes.unexpected, f"{len(outcomes.unexpected)} unexpected errors:\n{summary}\n" + "\n".join(
            outcomes.unexpected[:3]
        )
        assert not chaos_errors, f"restart/reload/add/remove failed: {chaos_errors[:5]}"
        assert outcomes.ok[STEADY] == THREADS * CALLS_PER_THREAD // len(SERVERS), summary
        for server in SERVERS:  # the churn really happened while calls ran, and calls still got through
            assert outcomes.ok[server] > 0, summary
        restarts = sum(line.startswith("restart") for line in chaos_log)
        reloads = sum(line.startswith("reload") for line in chaos_log)
        assert restarts >= 2 and reloads >= 2, chaos_log

        # Afterwards: a consistent manager. Whatever the last step left, every configured server answers.
        write_config(config, 10_000, with_churn=True)
        manager.reload()
        assert manager.wait_for_startup(30), manager.startup_status()
        for server in SERVERS:
            assert manager.call_tool(f"{server}__echo", {"text": f"final {server}"}).text == f"final {server}"
        assert manager.metrics()[STEADY].pid == steady_pid, "the untouched server was restarted"
        assert set(manager.list_all_tools()) >= {f"{server}__echo" for server in SERVERS}
        assert elapsed < DEADLINE, f"took {elapsed:.1f} s"
        print(f"\n{elapsed:.1f} s, {len(chaos_log)} chaos steps\n{summary}")
    finally:
        watchdog.done.set()
        manager.close()


def test_the_watchdog_dumps_every_threads_stack() -> None:
    """The deadlock report names each thread and shows where it waits."""
    release = threading.Event()
    stuck = threading.Thread(target=release.wait, name="stress-stuck", daemon=True)
    stuck.start()
    watchdog = Watchdog(0.1)
    watchdog.start()
    try:
        assert watchdog.wait([stuck]) is False
        assert "--- thread stress-stuck" in watchdog.report
        assert "release.wait" in watchdog.report or "in wait" in watchdog.report
        assert "--- faulthandler" in watchdog.report
    finally:
        release.set()
        stuck.join(5)
