r"""Running commands for ``execute_command``: process groups, timeouts, capped output, an OS sandbox.

Each command runs without a shell (an argv list), in its own process group, with stdin from
the caller's text or the null device, and the environment the caller builds (the workspace
server passes syncmcp's allow-list plus its configured variables, never its whole
environment). Output is read continuously by two threads and capped per stream: the head and
the tail are kept, the middle is replaced by a marker. On timeout the whole group gets
SIGTERM, then SIGKILL; when the command exits, stragglers it left in its group are killed too,
and so are processes that left the group (``setsid``) but still hold its output pipes open
(found through ``/proc``; elsewhere the call returns and abandons those pipes): the call never
waits for them. :class:`ProcessTracker` kills every group still running when the server shuts
down, and at interpreter exit at the latest.

When bubblewrap (``bwrap``) works on this machine, commands can run inside it
(:func:`bubblewrap_argv`): only the system folders (``/usr``, ``/bin``, ``/lib*``, ``/etc``
without its secrets, ``/opt``) and the workspace roots are visible, read-only except the
writable roots; ``/tmp`` is private; there is no network unless allowed; every capability is
dropped, so even a server running as root cannot remount its way out.

Example:
    >>> result = run_command(["echo", "hi"], cwd="/", timeout=10)
    >>> result.exit_code, result.stdout
    (0, 'hi\n')
"""

from __future__ import annotations

import atexit
import errno
import glob
import os
import shutil
import signal
import subprocess
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO, Callable, Dict, List, Mapping, Optional, Sequence, Set, Tuple

from ..._stdio import _exit_status, _signal_group

__all__ = [
    "DEFAULT_MAX_OUTPUT",
    "SYSTEM_DIRECTORIES",
    "CommandResult",
    "ProcessTracker",
    "bubblewrap_argv",
    "find_bubblewrap",
    "run_command",
]

#: Bytes of each stream kept by default (half from the start, half from the end).
DEFAULT_MAX_OUTPUT = 100_000
#: Folders bubblewrap shows read-only besides the roots: what programs need to run.
SYSTEM_DIRECTORIES: Tuple[str, ...] = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt")
#: Files of ``/etc`` hidden inside the sandbox (password hashes, host and service keys), if present.
_ETC_SECRETS: Tuple[str, ...] = (
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/security/opasswd",
    "/etc/ssh/ssh_host_*_key",
    "/etc/krb5.keytab",
    "/etc/ppp/*-secrets",
)
#: Folders of ``/etc`` replaced by an empty one inside the sandbox (private keys, network secrets).
_ETC_SECRET_FOLDERS: Tuple[str, ...] = (
    "/etc/ssl/private",
    "/etc/sudoers.d",
    "/etc/letsencrypt",
    "/etc/wireguard",
    "/etc/ipsec.d/private",
    "/etc/NetworkManager/system-connections",
)
#: Seconds between SIGTERM and SIGKILL for a command that timed out.
_TERM_GRACE = 1.0
#: Seconds to wait for a SIGKILLed group leader to be reaped (only a child stuck in the kernel takes longer).
_KILL_WAIT = 5.0
#: Seconds the output readers get to finish once the process group is gone, before whatever
#: still holds the pipes open (a process that left the group) is looked for and killed.
_READER_GRACE = 0.5
#: Seconds to wait for the output readers after that; a reader still blocked is abandoned.
_READER_JOIN = 2.0
#: How often the wait checks the caller's cancellation event.
_POLL = 0.05
#: What bubblewrap prints when it cannot start the command (it then exits with status 1).
_BWRAP_EXEC_FAILED = b"bwrap: execvp "
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
    """Keeps the first and last ``limit // 2`` bytes of a stream (or only the first ``limit``) and counts the rest."""

    def __init__(self, limit: int, keep_tail: bool = True) -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self.keep_tail = keep_tail
        self.half = max(limit // 2, 1) if keep_tail else max(limit, 1)
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = self.half - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if not chunk:
            return
        if not self.keep_tail:
            self.dropped += len(chunk)
            return
        self.tail += chunk
        excess = len(self.tail) - self.half
        if excess > 0:
            del self.tail[:excess]
            self.dropped += excess

    def text(self) -> str:
        head = self.head.decode("utf-8", "replace")
        tail = self.tail.decode("utf-8", "replace")
        if not self.dropped or not self.keep_tail:
            return head + tail
        return f"{head}\n[... {self.dropped} bytes truncated ...]\n{tail}"


def _drain(stream: IO[bytes], capture: _Capture) -> None:
    # The reader closes its own pipe: closing a pipe another thread is blocked reading would
    # block the closer until the last writer (maybe a process that escaped the group) ends.
    try:
        while True:
            chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
            if not chunk:
                return
            capture.add(chunk)
    except (OSError, ValueError):
        return
    finally:
        try:
            stream.close()
        except (OSError, ValueError):
            pass


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

    Every tracker is also ended at interpreter exit (commands run on daemon threads, which
    do not get to clean up when the main thread leaves): commands still starting are waited
    for briefly, and one that starts after that is killed at once.

    Example:
        >>> tracker = ProcessTracker()
        >>> tracker.kill_all()
        0
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._running: Dict[int, subprocess.Popen[bytes]] = {}
        self._starting = 0
        self._closed = False
        with _trackers_lock:
            _trackers.add(self)

    def spawn(self, start: Callable[[], subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
        """Start a command with ``start()`` and track it until :meth:`remove`.

        Raises:
            OSError: whatever ``start()`` raises (nothing is tracked then).
        """
        with self._cond:
            self._starting += 1
        proc: Optional[subprocess.Popen[bytes]] = None
        try:
            proc = start()
        finally:
            with self._cond:
                self._starting -= 1
                if proc is not None:
                    self._running[proc.pid] = proc
                closed = self._closed
                self._cond.notify_all()
        if closed:
            _signal_group(proc, _SIGKILL)  # the interpreter is leaving: no new command may outlive it
        return proc

    def remove(self, proc: subprocess.Popen[bytes]) -> None:
        """Stop tracking a finished command."""
        with self._cond:
            self._running.pop(proc.pid, None)

    def kill_all(self) -> int:
        """SIGKILL every tracked group (the commands' own threads reap them); how many."""
        with self._cond:
            running = list(self._running.values())
        for proc in running:
            _signal_group(proc, _SIGKILL)
        return len(running)

    def close(self, deadline: float) -> int:
        """Refuse to keep new commands, wait (until the monotonic ``deadline``) for those being started, kill all."""
        with self._cond:
            self._closed = True
            self._cond.wait_for(lambda: self._starting == 0, max(0.0, deadline - time.monotonic()))
        return self.kill_all()


_trackers: weakref.WeakSet[ProcessTracker] = weakref.WeakSet()
_trackers_lock = threading.Lock()
#: How long interpreter exit waits for commands that are being started, in seconds.
_EXIT_START_WAIT = 2.0


@atexit.register
def _kill_tracked_commands() -> None:
    """At interpreter exit: no command started by a workspace server outlives the process."""
    with _trackers_lock:
        trackers = list(_trackers)
    deadline = time.monotonic() + _EXIT_START_WAIT
    for tracker in trackers:
        tracker.close(deadline)


def _wait(proc: subprocess.Popen[bytes], deadline: float, cancelled: Optional[threading.Event]) -> str:
    """Wait until the child exits (``"exited"``), the deadline passes or the caller cancels.

    The child is not reaped (see ``syncmcp._stdio._exit_status``): while it is a zombie its
    process-group id cannot be reused, so signalling the group afterwards stays safe.
    """
    while True:
        if cancelled is not None and cancelled.is_set():
            return "cancelled"
        now = time.monotonic()
        if now >= deadline:
            return "exited" if _exit_status(proc, now) is not None else "timeout"
        step = deadline if cancelled is None else min(deadline, now + _POLL)
        if _exit_status(proc, step) is not None:
            return "exited"


def _pipe_names(streams: Sequence[Optional[IO[bytes]]]) -> Set[str]:
    """How ``/proc/<pid>/fd`` shows the pipes of ``streams`` (taken while they are surely open)."""
    names = set()
    for stream in streams:
        if stream is not None:
            try:
                names.add(f"pipe:[{os.fstat(stream.fileno()).st_ino}]")
            except (OSError, ValueError):
                continue
    return names


def _pipe_holders(wanted: Set[str]) -> List[int]:
    """Processes other than this one holding one of the ``wanted`` pipes open (Linux ``/proc``; else none).

    A pipe's two ends share one inode, and this process's own ends are not inheritable
    (PEP 446): any other process holding it got it from the command, directly or not.
    """
    if not wanted or not os.path.isdir("/proc/self/fd"):
        return []
    me = os.getpid()
    holders = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            descriptors = os.listdir(f"/proc/{entry}/fd")
        except OSError:  # gone, or another user's
            continue
        for descriptor in descriptors:
            try:
                if os.readlink(f"/proc/{entry}/fd/{descriptor}") in wanted:
                    holders.append(int(entry))
                    break
            except OSError:
                continue
    return holders


def _finish_io(threads: Sequence[threading.Thread], streams: Sequence[Optional[IO[bytes]]], pipes: Set[str]) -> None:
    """Let the readers and the stdin feeder finish, killing what keeps them from it; never blocks for long.

    Once the group is gone, the pipes only stay open in processes that left it (a ``setsid``
    daemon): they are killed. A reader still blocked after that (no ``/proc`` to find them)
    is abandoned; it closes its pipe when it ends.
    """
    started = [thread for thread in threads if thread.ident is not None]
    deadline = time.monotonic() + _READER_GRACE
    for thread in started:
        thread.join(max(0.0, deadline - time.monotonic()))
    if any(thread.is_alive() for thread in started):
        for pid in _pipe_holders(pipes):
            try:
                os.kill(pid, _SIGKILL)
            except OSError:
                pass
        deadline = time.monotonic() + _READER_JOIN
        for thread in started:
            thread.join(max(0.0, deadline - time.monotonic()))
    for thread, stream in zip(threads, streams):
        if stream is not None and not thread.is_alive():  # never started, or done (then closed already)
            try:
                stream.close()
            except (OSError, ValueError):
                pass


def run_command(
    argv: Sequence[str],
    *,
    cwd: str,
    timeout: float,
    stdin: Optional[str] = None,
    env: Optional[Mapping[str, str]] = None,
    max_output: int = DEFAULT_MAX_OUTPUT,
    keep_tail: bool = True,
    cancelled: Optional[threading.Event] = None,
    tracker: Optional[ProcessTracker] = None,
    sandbox_argv: Optional[List[str]] = None,
) -> CommandResult:
    """Run ``argv`` to completion (or until ``timeout`` / ``cancelled``) and report what it did.

    The call returns within about ``timeout`` plus a few seconds of grace whatever the command
    does (a process it started that left its group and holds the output open is killed).

    Args:
        argv: the program and its arguments (no shell).
        cwd: the working folder.
        timeout: seconds before the group is terminated.
        stdin: text for the command's stdin (default: the null device).
        env: the complete environment (default: this process's).
        max_output: bytes kept per stream.
        keep_tail: keep the start and the end of a long stream (``False``: only the start, for
            output that is parsed).
        cancelled: stop early when set (the group is killed).
        tracker: registers the process while it runs.
        sandbox_argv: a wrapper prefix (bubblewrap's) to run the command inside.

    Raises:
        FileNotFoundError: the program does not exist (or, inside the OS sandbox, is not
            visible there).
        PermissionError: it cannot be executed.
        OSError: it could not be started for another reason.
    """
    environment = dict(env) if env is not None else None
    if sandbox_argv:
        # Popen would only notice a missing program inside bubblewrap, as bwrap's own failure.
        _check_program(argv[0], cwd, (environment if environment is not None else os.environ).get("PATH"))
    full = [*(sandbox_argv or ()), *argv]
    started = time.monotonic()

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            full,
            cwd=cwd,
            env=environment,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=_POSIX,
        )

    proc = tracker.spawn(start) if tracker is not None else start()
    out, err = _Capture(max_output, keep_tail), _Capture(max_output, keep_tail)
    threads = [
        threading.Thread(target=_drain, args=(proc.stdout, out), name=f"syncmcp-command[{proc.pid}]-stdout", daemon=True),
        threading.Thread(target=_drain, args=(proc.stderr, err), name=f"syncmcp-command[{proc.pid}]-stderr", daemon=True),
    ]
    streams: List[Optional[IO[bytes]]] = [proc.stdout, proc.stderr]
    if stdin is not None:
        threads.append(
            threading.Thread(
                target=_feed, args=(proc.stdin, stdin.encode("utf-8")), name=f"syncmcp-command[{proc.pid}]-stdin", daemon=True
            )
        )
        streams.append(proc.stdin)
    pipes = _pipe_names(streams)
    timed_out = False
    try:
        for thread in threads:
            thread.start()
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
            proc.wait(_KILL_WAIT)
        except subprocess.TimeoutExpired:  # pragma: no cover - a child stuck in the kernel
            pass
        if tracker is not None:
            tracker.remove(proc)
        _finish_io(threads, streams, pipes)
    if sandbox_argv and proc.returncode == 1 and not out.head and bytes(err.head).startswith(_BWRAP_EXEC_FAILED):
        reason = bytes(err.head).decode("utf-8", "replace").strip()
        raise FileNotFoundError(errno.ENOENT, f"{argv[0]} cannot be started inside the OS sandbox: {reason}")
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


def _check_program(program: str, cwd: str, path: Optional[str]) -> None:
    """Raise what ``Popen`` would for a program that cannot be found or run."""
    if os.sep in program or (os.altsep and os.altsep in program):
        candidate = os.path.join(cwd, program)
        if not os.path.exists(candidate):
            raise FileNotFoundError(errno.ENOENT, f"no such file: {program}")
        if os.path.isdir(candidate) or not os.access(candidate, os.X_OK):
            raise PermissionError(errno.EACCES, f"not executable: {program}")
        return
    if shutil.which(program, path=path if path is not None else os.defpath) is None:
        raise FileNotFoundError(errno.ENOENT, f"{program} is not on the PATH")


_bwrap_lock = threading.Lock()
_bwrap_probing: Optional[threading.Event] = None  # set when the probe has finished
_bwrap_path: Optional[str] = None
#: Seconds the trial run of bubblewrap may take (and others wait for its verdict).
_BWRAP_PROBE_TIMEOUT = 10.0


def find_bubblewrap() -> Optional[str]:
    """The path of a *working* ``bwrap`` (it is tried once), or ``None``.

    Installed is not enough: in many containers user namespaces are unavailable and bwrap
    fails, so a trial run (with the very options commands get) decides.

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
                [*bubblewrap_argv(path, "/", readable=(), writable=(), network=False), "true"],
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


def _depth(path: str) -> int:
    return len(PurePosixPath(path).parts)


def _inside_any(path: str, folders: Sequence[str]) -> bool:
    pure = PurePosixPath(path)
    return any(pure == PurePosixPath(folder) or PurePosixPath(folder) in pure.parents for folder in folders)


def bubblewrap_argv(
    bwrap: str,
    cwd: str,
    *,
    readable: Sequence[str] = (),
    writable: Sequence[str],
    network: bool,
) -> List[str]:
    """The bubblewrap prefix that runs a command in the OS sandbox.

    Visible: the :data:`SYSTEM_DIRECTORIES` that exist (read-only; ``/etc``'s password hashes,
    host keys and private keys hidden), ``readable`` (read-only; one that no longer exists is
    left out) and ``writable`` (writable),
    a private ``/tmp``, ``/proc`` and ``/dev``. Nothing else of the file system exists inside.
    There is no network unless ``network``; the command gets fresh pid and IPC namespaces that
    die with it, a new session (no terminal injection) and no capabilities (a server running
    as root could otherwise remount a read-only folder writable).

    Args:
        bwrap: the bubblewrap executable.
        cwd: the command's working folder (inside ``readable`` or ``writable``).
        readable: folders shown read-only (the workspace roots).
        writable: folders shown writable (the writable roots).
        network: keep the host's network.

    Example:
        >>> argv = bubblewrap_argv("bwrap", "/w", readable=["/w"], writable=["/w/src"], network=False)
        >>> argv[argv.index("--bind") : argv.index("--bind") + 3], argv[-3:]
        (['--bind', '/w/src', '/w/src'], ['--chdir', '/w', '--'])
    """
    argv = [bwrap, "--new-session", "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--cap-drop", "ALL"]
    if not network:
        argv.append("--unshare-net")
    # Mounts are made shallowest first, so a root under /tmp is bound inside the private /tmp
    # (and not hidden by it), and a writable folder inside a read-only root stays writable.
    mounts: List[Tuple[int, int, List[str]]] = []

    def mount(order: int, destination: str, *options: str) -> None:
        mounts.append((_depth(destination), order, list(options)))

    for folder in SYSTEM_DIRECTORIES:
        if os.path.islink(folder):
            mount(0, folder, "--symlink", os.readlink(folder), folder)
        elif os.path.isdir(folder):
            mount(0, folder, "--ro-bind", folder, folder)
    for pattern in _ETC_SECRETS:
        for secret in sorted(glob.glob(pattern)):
            if os.path.isfile(secret) and not os.path.islink(secret):
                mount(1, secret, "--ro-bind", os.devnull, secret)
    for folder in _ETC_SECRET_FOLDERS:
        if os.path.isdir(folder) and not os.path.islink(folder):
            mount(1, folder, "--tmpfs", folder)
    mount(0, "/proc", "--proc", "/proc")
    mount(0, "/dev", "--dev", "/dev")
    mount(0, "/tmp", "--tmpfs", "/tmp")
    if network:
        # /etc/resolv.conf is often a link into /run, which is not shown: show its target.
        resolver = os.path.realpath("/etc/resolv.conf")
        if resolver != "/etc/resolv.conf" and os.path.isfile(resolver) and not _inside_any(resolver, SYSTEM_DIRECTORIES):
            mount(2, resolver, "--ro-bind", resolver, resolver)
    shown_writable = list(dict.fromkeys(writable))
    for folder in dict.fromkeys(readable):
        if folder not in shown_writable:
            # "-try": a folder removed since it was checked is left out instead of failing the command.
            mount(2, folder, "--ro-bind-try", folder, folder)
    for folder in shown_writable:
        mount(3, folder, "--bind", folder, folder)
    for _depth_key, _order, options in sorted(mounts, key=lambda item: (item[0], item[1])):
        argv += options
    argv += ["--chdir", cwd, "--"]
    return argv
