r"""Running commands for ``execute_command``: process groups, timeouts, capped output, an OS sandbox.

Each command runs without a shell (an argv list), in its own process group, with stdin from
the caller's text or the null device. Output is read continuously by two threads and capped
per stream: the head and the tail are kept, the middle is replaced by a marker. On timeout the
whole group gets SIGTERM, then SIGKILL; when the command exits, stragglers it left in its group
are killed too, so no background process outlives the call. :class:`ProcessTracker` kills every
group still running when the server shuts down.

When bubblewrap (``bwrap``) works on this machine, commands can run inside it: the whole file
system read-only (``read-only`` policy) or writable only under the writable roots
(``workspace-write``), with a private ``/tmp`` and, unless allowed, no network.

Example:
    >>> result = run_command(["echo", "hi"], cwd="/", timeout=10)
    >>> result.exit_code, result.stdout
    (0, 'hi\n')
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import IO, Dict, List, Mapping, Optional, Sequence

__all__ = [
    "DEFAULT_MAX_OUTPUT",
    "CommandResult",
    "ProcessTracker",
    "bubblewrap_argv",
    "find_bubblewrap",
    "run_command",
]

#: Bytes of each stream kept by default (half from the start, half from the end).
DEFAULT_MAX_OUTPUT = 100_000
#: Seconds between SIGTERM and SIGKILL for a command that timed out.
_TERM_GRACE = 1.0
#: Seconds to wait for the output readers once the process group is gone.
_READER_JOIN = 2.0
#: How often the wait checks the caller's cancellation event.
_POLL = 0.05
_POSIX = os.name != "nt"
_SIGKILL = getattr(signal, "SIGKILL", signal.SIGTERM)


@dataclass(frozen=True)
class CommandResult:
    """What a command did.

    Attributes:
        exit_code: the exit status; negative when killed by a signal; ``None`` if it never ended.
        stdout: what it wrote to stdout (decoded as UTF-8, capped).
        stderr: what it wrote to stderr (decoded as UTF-8, capped).
        timed_out: it was killed because the timeout expired.
        stdout_truncated: part of stdout was dropped to respect the cap.
        stderr_truncated: part of stderr was dropped to respect the cap.
        duration_seconds: wall-clock time.
        sandbox: ``"bubblewrap"`` when it ran inside the OS sandbox, else ``"none"``.
    """

    exit_code: Optional[int]
    stdout: str
    stderr: str
    timed_out: bool
    stdout_truncated: bool
    stderr_truncated: bool
    duration_seconds: float
    sandbox: str = "none"


class _Capture:
    """Keeps the first and last ``limit // 2`` bytes of a stream and counts the rest."""

    def __init__(self, limit: int) -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self.half = max(limit // 2, 1)
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = self.half - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if not chunk:
            return
        self.tail += chunk
        excess = len(self.tail) - self.half
        if excess > 0:
            del self.tail[:excess]
            self.dropped += excess

    def text(self) -> str:
        head = self.head.decode("utf-8", "replace")
        tail = self.tail.decode("utf-8", "replace")
        if not self.dropped:
            return head + tail
        return f"{head}\n[... {self.dropped} bytes truncated ...]\n{tail}"


def _drain(stream: IO[bytes], capture: _Capture) -> None:
    try:
        while True:
            chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
            if not chunk:
                return
            capture.add(chunk)
    except (OSError, ValueError):
        return


def _feed(stream: IO[bytes], data: bytes) -> None:
    try:
        stream.write(data)
    except (BrokenPipeError, OSError, ValueError):
        pass
    finally:
        try:
            stream.close()
        except (OSError, ValueError):
            pass


class ProcessTracker:
    """The command process groups currently running, so shutdown can end them all.

    Example:
        >>> tracker = ProcessTracker()
        >>> tracker.kill_all()
        0
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: Dict[int, subprocess.Popen[bytes]] = {}

    def add(self, proc: subprocess.Popen[bytes]) -> None:
        """Track a started command."""
        with self._lock:
            self._running[proc.pid] = proc

    def remove(self, proc: subprocess.Popen[bytes]) -> None:
        """Stop tracking a finished command."""
        with self._lock:
            self._running.pop(proc.pid, None)

    def kill_all(self) -> int:
        """SIGKILL every tracked group (the commands' own threads reap them); how many."""
        with self._lock:
            running = list(self._running.values())
        for proc in running:
            _signal_group(proc, _SIGKILL)
        return len(running)


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        if _POSIX:
            os.killpg(proc.pid, sig)
        else:  # pragma: no cover - Windows
            proc.kill()
    except (ProcessLookupError, PermissionError, OSError):
        pass


def _exited(proc: subprocess.Popen[bytes]) -> bool:
    """Whether the child exited, *without reaping it*.

    While it is a zombie its pid, and so its process-group id, cannot be reused: signalling
    the group stays safe.
    """
    if proc.returncode is not None:
        return True
    if not hasattr(os, "waitid"):  # pragma: no cover - no waitid: poll (reaps)
        return proc.poll() is not None
    try:
        info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None and info.si_pid != 0


def _wait(proc: subprocess.Popen[bytes], deadline: float, cancelled: Optional[threading.Event]) -> str:
    """Wait until the child exits (``"exited"``), the deadline passes or the caller cancels."""
    delay = 0.001
    while True:
        if _exited(proc):
            return "exited"
        if cancelled is not None and cancelled.is_set():
            return "cancelled"
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return "timeout"
        time.sleep(min(delay, remaining, _POLL))
        delay = min(delay * 2, _POLL)


def run_command(
    argv: Sequence[str],
    *,
    cwd: str,
    timeout: float,
    stdin: Optional[str] = None,
    env: Optional[Mapping[str, str]] = None,
    max_output: int = DEFAULT_MAX_OUTPUT,
    cancelled: Optional[threading.Event] = None,
    tracker: Optional[ProcessTracker] = None,
    sandbox_argv: Optional[List[str]] = None,
) -> CommandResult:
    """Run ``argv`` to completion (or until ``timeout`` / ``cancelled``) and report what it did.

    Args:
        argv: the program and its arguments (no shell).
        cwd: the working folder.
        timeout: seconds before the group is terminated.
        stdin: text for the command's stdin (default: the null device).
        env: the complete environment (default: this process's).
        max_output: bytes kept per stream.
        cancelled: stop early when set (the group is killed).
        tracker: registers the process while it runs.
        sandbox_argv: a wrapper prefix (bubblewrap's) to run the command inside.

    Raises:
        FileNotFoundError: the program does not exist.
        PermissionError: it cannot be executed.
        OSError: it could not be started for another reason.
    """
    full = [*(sandbox_argv or ()), *argv]
    started = time.monotonic()
    proc = subprocess.Popen(
        full,
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=_POSIX,
    )
    if tracker is not None:
        tracker.add(proc)
    out, err = _Capture(max_output), _Capture(max_output)
    threads = [
        threading.Thread(target=_drain, args=(proc.stdout, out), name=f"syncmcp-command[{proc.pid}]-stdout", daemon=True),
        threading.Thread(target=_drain, args=(proc.stderr, err), name=f"syncmcp-command[{proc.pid}]-stderr", daemon=True),
    ]
    if stdin is not None:
        threads.append(
            threading.Thread(
                target=_feed, args=(proc.stdin, stdin.encode("utf-8")), name=f"syncmcp-command[{proc.pid}]-stdin", daemon=True
            )
        )
    for thread in threads:
        thread.start()
    timed_out = False
    try:
        outcome = _wait(proc, started + timeout, cancelled)
        if outcome != "exited":
            timed_out = outcome == "timeout"
            _signal_group(proc, signal.SIGTERM if timed_out else _SIGKILL)
            if _wait(proc, time.monotonic() + _TERM_GRACE, None) != "exited":
                _signal_group(proc, _SIGKILL)
    finally:
        # Whatever happened, end the group (stragglers would hold the pipes open), then reap.
        _signal_group(proc, _SIGKILL)
        try:
            proc.wait(5.0)
        except subprocess.TimeoutExpired:  # pragma: no cover - a child stuck in the kernel
            pass
        if tracker is not None:
            tracker.remove(proc)
        for thread in threads:
            thread.join(_READER_JOIN)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
    return CommandResult(
        exit_code=proc.returncode,
        stdout=out.text(),
        stderr=err.text(),
        timed_out=timed_out,
        stdout_truncated=out.dropped > 0,
        stderr_truncated=err.dropped > 0,
        duration_seconds=round(time.monotonic() - started, 3),
        sandbox="bubblewrap" if sandbox_argv else "none",
    )


_bwrap_lock = threading.Lock()
_bwrap_probing: Optional[threading.Event] = None  # set when the probe has finished
_bwrap_path: Optional[str] = None
#: Seconds the trial run of bubblewrap may take (and others wait for its verdict).
_BWRAP_PROBE_TIMEOUT = 10.0


def find_bubblewrap() -> Optional[str]:
    """The path of a *working* ``bwrap`` (it is tried once), or ``None``.

    Installed is not enough: in many containers user namespaces are unavailable and bwrap
    fails, so a trial run decides.

    Example:
        >>> find_bubblewrap() in (None, shutil.which("bwrap"))
        True
    """
    global _bwrap_probing, _bwrap_path
    with _bwrap_lock:
        probing = _bwrap_probing
        first = probing is None
        if first:
            probing = _bwrap_probing = threading.Event()
    assert probing is not None
    if not first:
        # Another thread is trying bubblewrap: wait for its verdict rather than guess "absent"
        # (which would run a command without the sandbox).
        probing.wait(_BWRAP_PROBE_TIMEOUT + 5)
        return _bwrap_path
    try:
        _bwrap_path = _probe_bubblewrap()
    finally:
        probing.set()
    return _bwrap_path


def _probe_bubblewrap() -> Optional[str]:
    path = shutil.which("bwrap")
    found: Optional[str] = None
    if path is not None and _POSIX:
        try:
            trial = subprocess.run(
                [*bubblewrap_argv(path, "/", writable=(), network=False), "true"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=_BWRAP_PROBE_TIMEOUT,
                check=False,
                start_new_session=True,
            )
            found = path if trial.returncode == 0 else None
        except (OSError, subprocess.SubprocessError):
            found = None
    return found


def bubblewrap_argv(bwrap: str, cwd: str, *, writable: Sequence[str], network: bool) -> List[str]:
    """The bubblewrap prefix that runs a command in the OS sandbox.

    Everything is read-only except ``writable``; ``/tmp`` is private; there is no network
    unless ``network``; the command gets a fresh pid namespace that dies with its parent.

    Example:
        >>> bubblewrap_argv("bwrap", "/w", writable=["/w"], network=False)[:4]
        ['bwrap', '--ro-bind', '/', '/']
    """
    argv = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    for folder in writable:
        argv += ["--bind", folder, folder]
    if not network:
        argv.append("--unshare-net")
    argv += ["--unshare-pid", "--die-with-parent", "--new-session", "--chdir", cwd, "--"]
    return argv
