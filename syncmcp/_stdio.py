"""The stdio transport: an MCP server as a child process speaking JSON-RPC on stdin/stdout.

The child runs in its own process group (``start_new_session=True``) with no shell, an
environment built from an allow-list, and a stderr pipe drained continuously by a thread into the
``logging`` module and a bounded tail (quoted in error messages). Shutdown closes stdin, waits,
then signals the whole group (SIGTERM, then SIGKILL) and always reaps the child, so neither the
server nor a grandchild holding its stdout outlives the transport. A module-level net kills every
child still alive when the interpreter exits. Resource limits (address space, CPU seconds, open
files) are set in the child by a trampoline before the server runs (see ``syncmcp._limits``).
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import weakref
from typing import IO, Any, Deque, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from . import _forks
from ._exceptions import ServerStartError
from ._limits import explain_exit, limit_problem, trampoline_command
from ._transport import DEFAULT_MAX_MESSAGE_SIZE, StreamTransport
from ._wakeable import WakeableReader

__all__ = [
    "DEFAULT_SHUTDOWN_GRACE",
    "DEFAULT_TERMINATE_GRACE",
    "ENV_ALLOWLIST",
    "StdioTransport",
    "child_environment",
    "stop_servers_on_sigterm",
]

logger = logging.getLogger("syncmcp.stdio")

_POSIX = os.name != "nt"
_SIGKILL: int = getattr(signal, "SIGKILL", signal.SIGTERM)

#: Variables copied from the parent environment into every child (as Codex does). Everything else
#: must be named in ``env_vars`` or given in ``env``: secrets in the parent do not leak by default.
ENV_ALLOWLIST: Tuple[str, ...] = (
    ("HOME", "LOGNAME", "PATH", "SHELL", "USER", "LANG", "LC_ALL", "TERM", "TMPDIR", "TZ")
    if _POSIX
    else (
        "PATH",
        "PATHEXT",
        "COMSPEC",
        "SYSTEMROOT",
        "SYSTEMDRIVE",
        "USERNAME",
        "USERDOMAIN",
        "USERPROFILE",
        "HOMEDRIVE",
        "HOMEPATH",
        "PROGRAMFILES",
        "PROGRAMFILES(X86)",
        "PROGRAMW6432",
        "PROGRAMDATA",
        "LOCALAPPDATA",
        "APPDATA",
        "TEMP",
        "TMP",
    )
)

#: Seconds a server gets to exit by itself after its stdin is closed, before SIGTERM.
DEFAULT_SHUTDOWN_GRACE = 1.0
#: Seconds between SIGTERM and SIGKILL.
DEFAULT_TERMINATE_GRACE = 2.0
#: Upper bound on waiting for a SIGKILLed child to be reaped (it only exceeds this in kernel sleep).
_KILL_WAIT = 5.0
#: Seconds the readers get to reach the end of a stopped server's pipes before they are woken.
_DRAIN_WAIT = 0.5
#: Bytes of stderr kept for error messages.
STDERR_TAIL_BYTES = 64 * 1024
#: Characters of that tail quoted in an exception message.
STDERR_QUOTE_CHARS = 4000
#: A stderr "line" longer than this is logged in pieces rather than buffered without bound.
_STDERR_LINE_CAP = 64 * 1024


def child_environment(
    env: Optional[Mapping[str, str]] = None,
    env_vars: Iterable[str] = (),
    parent: Optional[Mapping[str, str]] = None,
) -> Tuple[Dict[str, str], List[str]]:
    """Build a child's environment: the allow-list, then ``env_vars``, then ``env`` literals.

    Returns:
        ``(environment, missing)`` where ``missing`` lists the ``env_vars`` names the parent
        does not have (they are skipped, and reported so a failure can name them).

    Example:
        >>> child_environment({"A": "1"}, ["B"], parent={"PATH": "/bin", "B": "2", "SECRET": "x"})
        ({'PATH': '/bin', 'B': '2', 'A': '1'}, [])
    """
    source = os.environ if parent is None else parent
    result: Dict[str, str] = {}
    for key in ENV_ALLOWLIST:
        value = source.get(key)
        if value is not None:
            result[key] = value
    missing: List[str] = []
    for key in env_vars:
        value = source.get(key)
        if value is None:
            missing.append(key)
        else:
            result[key] = value
    if env:
        result.update(env)
    return result, missing


class _StderrTail:
    """The last ``limit`` bytes a child wrote to stderr, thread-safe."""

    def __init__(self, limit: int = STDERR_TAIL_BYTES) -> None:
        self._chunks: Deque[bytes] = collections.deque()
        self._size = 0
        self._limit = limit
        self._lock = threading.Lock()

    def append(self, chunk: bytes) -> None:
        with self._lock:
            self._chunks.append(chunk)
            self._size += len(chunk)
            while self._size - len(self._chunks[0]) >= self._limit:
                self._size -= len(self._chunks.popleft())

    def text(self, max_chars: Optional[int] = None) -> str:
        with self._lock:
            data = b"".join(self._chunks)
        text = data[-self._limit :].decode("utf-8", "replace")
        if max_chars is not None and len(text) > max_chars:
            text = text[-max_chars:]
            newline = text.find("\n")
            if 0 <= newline < len(text) - 1:
                text = text[newline + 1 :]  # start on a line boundary
        return text


def _wakeable(stream: Optional[IO[bytes]]) -> WakeableReader:
    """A wakeable reader of a child's output pipe (the file object is closed, its descriptor kept)."""
    assert stream is not None  # spawned with stdout=PIPE and stderr=PIPE
    fd = os.dup(stream.fileno())
    stream.close()
    return WakeableReader(fd)


def _drain_stderr(stream: Any, tail: _StderrTail, log: logging.Logger, done: threading.Event) -> None:
    """Read a child's stderr until EOF: keep the tail, log complete lines at INFO."""
    pending = b""
    try:
        read = stream.read1 if hasattr(stream, "read1") else stream.read
        while True:
            chunk = read(65536)
            if not chunk:
                break
            tail.append(chunk)
            if not log.isEnabledFor(logging.INFO):
                continue
            pending += chunk
            *lines, pending = pending.split(b"\n")
            if len(pending) > _STDERR_LINE_CAP:
                lines.append(pending)
                pending = b""
            for line in lines:
                log.info("%s", line.rstrip(b"\r").decode("utf-8", "replace"))
    except (OSError, ValueError):
        pass
    finally:
        if pending and log.isEnabledFor(logging.INFO):
            log.info("%s", pending.decode("utf-8", "replace"))
        try:
            getattr(stream, "release", stream.close)()
        except (OSError, ValueError):
            pass
        done.set()


# Children not yet reaped, so the interpreter-exit net can kill them. pid -> Popen.
_live_children: Dict[int, subprocess.Popen[bytes]] = {}
_live_lock = threading.Lock()
# Transports with a running child, so that a fork()ed process can let go of their pipes.
_open_transports: weakref.WeakSet[StdioTransport] = weakref.WeakSet()


def _forget_parents_children() -> None:
    """In a child of ``fork()``: the parent's servers are not ours to kill, nor their pipes to hold.

    The interpreter-exit net starts empty (its lock too: a parent thread may have held it), and
    every inherited pipe end is pointed at ``/dev/null``, so that a server sees the end of its
    input when the parent closes it, however long this process lives. The file objects stay as
    they are: a parent's reader thread may have held their locks at the fork.
    """
    global _live_children, _live_lock
    _live_children = {}
    _live_lock = threading.Lock()
    transports = list(_open_transports)
    _open_transports.clear()
    if not transports:
        return
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        for transport in transports:
            transport._let_go_of_pipes(devnull)
    finally:
        os.close(devnull)


_forks.after_fork_in_child(_forget_parents_children)


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    """Signal the child's whole process group; a group already gone is not an error."""
    try:
        if _POSIX:
            os.killpg(proc.pid, sig)
        elif sig == signal.SIGTERM:
            proc.terminate()
        else:  # pragma: no cover - Windows only
            subprocess.run(
                ["taskkill", "/T", "/F", "/PID", str(proc.pid)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=_KILL_WAIT,
                check=False,
            )
    except (ProcessLookupError, PermissionError, OSError, subprocess.SubprocessError):
        pass


def _exit_status(proc: subprocess.Popen[bytes], deadline: float) -> Optional[int]:
    """Wait until ``deadline`` for the child to exit *without reaping it*; its exit code or None.

    Leaving the child a zombie keeps its pid, and so its process-group id, from being reused
    while we still signal the group. CPython's ``Popen.wait`` polls the same way.
    """
    if proc.returncode is not None:
        return proc.returncode
    if not hasattr(os, "waitid"):  # pragma: no cover - platforms without waitid reap instead
        try:
            return proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            return None
    delay = 0.0005
    while True:
        try:
            info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            # Reaped by another thread meanwhile, or SIGCHLD is ignored (the kernel reaps):
            # poll() then records the exit either way.
            return proc.returncode if proc.returncode is not None else proc.poll()
        if info is not None and info.si_pid:
            status = info.si_status
            return status if info.si_code == os.CLD_EXITED else -status
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.05)


def _reap(proc: subprocess.Popen[bytes]) -> None:
    """Kill stragglers in the group, then collect the child's exit status (bounded).

    A child already reaped is not signalled: its pid, and so the group id, may belong to
    another process by now.
    """
    if proc.returncode is None:
        _signal_group(proc, _SIGKILL)
    try:
        proc.wait(_KILL_WAIT)
    except subprocess.TimeoutExpired:  # pragma: no cover - a child stuck in the kernel
        logger.error("process %s did not exit %s s after SIGKILL", proc.pid, _KILL_WAIT)
    with _live_lock:
        _live_children.pop(proc.pid, None)


def _kill_forgotten(proc: subprocess.Popen[bytes], born: int) -> None:
    """Finaliser for a transport garbage-collected while its child runs (in the process that started it)."""
    if _forks.inherited(born):
        return
    if proc.returncode is None and _exit_status(proc, time.monotonic()) is None:
        _signal_group(proc, signal.SIGTERM)
        _exit_status(proc, time.monotonic() + 0.5)
    _reap(proc)


@atexit.register
def _kill_all_live_children() -> None:
    """At interpreter exit: SIGTERM every child still alive, wait briefly for all, SIGKILL, reap."""
    with _live_lock:
        children = list(_live_children.values())
    if not children:
        return
    try:
        for proc in children:
            if proc.returncode is None:
                _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + 1.0
        for proc in children:
            _exit_status(proc, deadline)
            _reap(proc)
    except BaseException:
        # Interrupted (another Ctrl-C while exiting): no more waiting; kill what is left.
        for proc in children:
            if proc.returncode is None:
                _signal_group(proc, _SIGKILL)
        for proc in children:
            try:
                proc.wait(0.5)
            except BaseException:
                pass
        raise


def stop_servers_on_sigterm() -> bool:
    """Make SIGTERM stop every MCP server this process started before the process exits.

    Servers run in their own process groups and are stopped by ``close()``, by garbage
    collection, or at interpreter exit. A plain SIGTERM, though, ends Python without running its
    exit handlers, and a server that ignores the end of its input would outlive this process.
    This installs a SIGTERM handler that exits through ``SystemExit`` (status 143) instead, so
    the exit handlers run. Only when SIGTERM still has its default behaviour, and only from the
    main thread; an application with its own SIGTERM handling keeps it.

    Returns:
        Whether the handler was installed.

    Example::

        import syncmcp
        syncmcp.stop_servers_on_sigterm()   # e.g. at the top of a service's main()
    """
    if threading.current_thread() is not threading.main_thread():
        return False
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return False

    def exit_cleanly(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, exit_cleanly)
    return True


class StdioTransport(StreamTransport):
    """Spawn an MCP server and talk to it over its stdin and stdout.

    Nothing runs until :meth:`open` (a session opens its transport when it initializes).

    Args:
        command: the program; looked up on the child's ``PATH`` when it has no directory part.
        args: its arguments.
        env: literal variables for the child, applied last.
        env_vars: names of parent variables to pass through (beside :data:`ENV_ALLOWLIST`).
        cwd: the child's working directory.
        name: the server's name for logs (``syncmcp.servers.<name>.stderr``) and errors.
        max_message_size: the longest line accepted from the server, in bytes.
        shutdown_grace: seconds to wait for an exit after closing stdin, before SIGTERM.
        terminate_grace: seconds between SIGTERM and SIGKILL.
        memory_limit_mb: the child's address space in MiB (``RLIMIT_AS``; POSIX, not macOS).
        cpu_time_limit_sec: CPU seconds the child may use (``RLIMIT_CPU``: ``SIGXCPU``, then
            ``SIGKILL`` one CPU second later).
        open_files_limit: descriptors the child may have open (``RLIMIT_NOFILE``).

    The limits are set by a trampoline (``python -I -S -c ...`` that calls ``setrlimit`` and
    ``execve``-s the server in its place), so nothing runs between fork and exec here; each
    process of the server's group inherits them, one budget per process.

    Example:
        >>> import sys
        >>> t = StdioTransport(sys.executable, ["-c", "print('{}')"], name="demo")
        >>> t.open()
        >>> t.receive()
        {}
        >>> t.close()
    """

    def __init__(
        self,
        command: str,
        args: Sequence[str] = (),
        *,
        env: Optional[Mapping[str, str]] = None,
        env_vars: Iterable[str] = (),
        cwd: Optional[str] = None,
        name: Optional[str] = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        shutdown_grace: float = DEFAULT_SHUTDOWN_GRACE,
        terminate_grace: float = DEFAULT_TERMINATE_GRACE,
        memory_limit_mb: Optional[int] = None,
        cpu_time_limit_sec: Optional[int] = None,
        open_files_limit: Optional[int] = None,
    ) -> None:
        if not isinstance(command, str) or not command:
            raise ValueError("command must be a non-empty string")
        if isinstance(args, str):
            raise TypeError("args must be a sequence of strings, not a string")
        super().__init__(None, None, name=name or os.path.basename(command), max_message_size=max_message_size)
        self.command = command
        self.args: Tuple[str, ...] = tuple(str(a) for a in args)
        self.env: Dict[str, str] = dict(env or {})
        self.env_vars: Tuple[str, ...] = tuple(env_vars)
        self.cwd = None if cwd is None else os.fspath(cwd)
        self.shutdown_grace = shutdown_grace
        self.terminate_grace = terminate_grace
        #: The resource limits set in the child, by configuration key (only those given).
        self.limits: Dict[str, int] = {
            key: value
            for key, value in (
                ("memory_limit_mb", memory_limit_mb),
                ("cpu_time_limit_sec", cpu_time_limit_sec),
                ("open_files_limit", open_files_limit),
            )
            if value is not None
        }
        #: Names from ``env_vars`` that the parent environment did not have at spawn time.
        self.missing_env_vars: List[str] = []
        self._proc: Optional[subprocess.Popen[bytes]] = None
        self._state_lock = threading.Lock()
        self._close_started = False
        self._closed = threading.Event()
        self._stderr_tail = _StderrTail()
        self._stderr_done = threading.Event()
        self._stderr_thread: Optional[threading.Thread] = None
        self._stderr: Optional[WakeableReader] = None
        self._finalizer: Optional[weakref.finalize[[subprocess.Popen[bytes], int], StdioTransport]] = None
        self._born = _forks.generation()

    @property
    def pid(self) -> Optional[int]:
        """The child's pid (also its process-group id), once spawned."""
        return self._proc.pid if self._proc is not None else None

    @property
    def returncode(self) -> Optional[int]:
        """The child's exit status once reaped, else ``None``."""
        return self._proc.returncode if self._proc is not None else None

    def open(self) -> None:
        """Spawn the server; a no-op if it is already running.

        Raises:
            ServerStartError: the command or working directory does not exist, or spawning failed.
        """
        # All of it under the state lock (spawning returns once the program is exec'd): a close()
        # racing this open() then sees either nothing to stop, or everything set up to stop it.
        with self._state_lock:
            if self._close_started:
                raise ServerStartError(f"transport for MCP server '{self.name}' is closed")
            if self._proc is not None:
                return
            proc = self._proc = self._spawn()
            # A read blocked on a pipe that a process outside the server's group still holds
            # open must end at close(): stderr is read through a wakeable reader; stdout, every
            # message's path, through a plain buffered one that close() wakes by writing into
            # the pipe itself (see _wake_stdout_reader).
            self._reader = proc.stdout
            self._stderr = stderr = _wakeable(proc.stderr)
            self._writer = proc.stdin
            assert proc.stdin is not None  # stdin=PIPE
            self._write_fd = proc.stdin.fileno()  # ours alone: one os.write per message
            self._finalizer = weakref.finalize(self, _kill_forgotten, proc, self._born)
            _open_transports.add(self)
            self._finalizer.atexit = False  # the module's atexit net covers exit, in parallel
            stderr_log = logging.getLogger(f"syncmcp.servers.{self.name}.stderr")
            thread = threading.Thread(
                target=_drain_stderr,
                args=(stderr, self._stderr_tail, stderr_log, self._stderr_done),
                name=f"syncmcp-stderr[{self.name}]",
                daemon=True,
            )
            self._stderr_thread = thread
            thread.start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        environment, self.missing_env_vars = child_environment(self.env, self.env_vars)
        if self.missing_env_vars:
            logger.debug("MCP server '%s': env_vars not set in this environment: %s", self.name, ", ".join(self.missing_env_vars))
        if self.cwd is not None and not os.path.isdir(self.cwd):
            raise ServerStartError(f"cannot start MCP server '{self.name}': working directory '{self.cwd}' does not exist")
        executable = self.command
        if os.sep not in self.command and not (os.altsep and os.altsep in self.command):
            found = shutil.which(self.command, path=environment.get("PATH", os.defpath))
            if found is None:
                raise ServerStartError(
                    f"cannot start MCP server '{self.name}': command '{self.command}' was not found on PATH "
                    f"({environment.get('PATH', '')!r})"
                )
            executable = found
        argv = [self.command, *self.args]
        if self.limits:
            argv, executable = self._through_trampoline(executable, argv, environment)
        kwargs: Dict[str, Any] = {}
        if _POSIX:
            kwargs["start_new_session"] = True
        else:  # pragma: no cover - Windows only
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
        try:
            proc = subprocess.Popen(
                argv,
                executable=executable,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=environment,
                cwd=self.cwd,
                bufsize=65536,
                **kwargs,
            )
        except OSError as exc:
            raise ServerStartError(f"cannot start MCP server '{self.name}' ({self.command}): {exc}") from exc
        with _live_lock:
            _live_children[proc.pid] = proc
        logger.debug("started MCP server '%s' (pid %s): %s", self.name, proc.pid, " ".join([self.command, *self.args]))
        return proc

    def _through_trampoline(self, executable: str, argv: List[str], environment: Dict[str, str]) -> Tuple[List[str], str]:
        """The command line and program that set the limits, then exec ``argv`` (see ``_limits``)."""
        for key, value in self.limits.items():
            problem = limit_problem(key, value)
            if problem is not None:
                raise ServerStartError(f"cannot start MCP server '{self.name}': {key} = {value} cannot be applied: {problem}")
        python = sys.executable
        if not python:
            raise ServerStartError(
                f"cannot start MCP server '{self.name}' with resource limits: no Python interpreter to set them "
                "(sys.executable is empty)"
            )
        return trampoline_command(self.limits, executable, argv, environment, python), python

    def explain_exit(self, returncode: Optional[int] = None, stderr_tail: Optional[str] = None) -> Optional[str]:
        """Which of its resource limits the server's exit points to, as a sentence, or ``None``.

        ``returncode`` and ``stderr_tail`` default to the child's own (once it exited).

        Example::

            transport.explain_exit(-24)
            # -> 'resource limit exceeded: cpu_time_limit_sec = 2 (the kernel sent SIGXCPU after 2 s of CPU time)'
        """
        if not self.limits:
            return None
        if returncode is None and self._proc is not None:
            returncode = _exit_status(self._proc, time.monotonic())
        return explain_exit(self.limits, returncode, self.stderr_tail() if stderr_tail is None else stderr_tail)

    def stderr_tail(self, max_chars: Optional[int] = STDERR_QUOTE_CHARS) -> str:
        """The last things the server wrote to stderr (at most ``max_chars`` characters)."""
        return self._stderr_tail.text(max_chars)

    def exit_details(self, wait: float) -> Tuple[Optional[int], str]:
        """Wait up to ``wait`` seconds for the child to exit and its stderr to drain.

        Returns:
            ``(exit code or None if still running, stderr tail)``.
        """
        deadline = time.monotonic() + wait
        code = _exit_status(self._proc, deadline) if self._proc is not None else None
        self._stderr_done.wait(max(0.0, deadline - time.monotonic()))
        return code, self.stderr_tail()

    def close(self) -> None:
        """Stop the server and reap it; idempotent and safe from any thread.

        Closes stdin, waits ``shutdown_grace``, sends SIGTERM to the process group, waits
        ``terminate_grace``, sends SIGKILL, then kills any straggler left in the group and reaps.
        A second caller waits (bounded) for the first to finish. In a process that inherited
        the transport through ``fork()``, the server belongs to the parent: nothing is stopped.
        """
        if _forks.inherited(self._born):
            self._close_started = True
            return
        with self._state_lock:
            first = not self._close_started
            self._close_started = True
            proc = self._proc
        if not first:
            self._closed.wait(self.shutdown_grace + self.terminate_grace + 2 * _KILL_WAIT)
            return
        try:
            _open_transports.discard(self)
            if proc is not None:
                self._shutdown(proc)
            StreamTransport.close(self)
        finally:
            self._closed.set()

    def _stdout_drained(self, wait: float) -> bool:
        """Whether no thread is left reading stdout, waiting up to ``wait`` seconds for one to finish."""
        deadline = time.monotonic() + wait
        while self._read_lock.locked() and self._reader is not None:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    def _wake_stdout_reader(self) -> None:
        """End a read blocked on stdout that the server's exit did not end.

        A process outside the server's group holds the pipe open. The reader is told to stop,
        then one newline is written into the pipe through ``/proc/self/fd`` (Linux reopens a
        pipe's other end there), which ends its blocked read. Elsewhere the reader stays blocked
        until the pipe closes; ``close()`` is bounded anyway.
        """
        reader: Any = self._reader
        self._stop_reading = True
        try:
            fd = reader.fileno() if reader is not None else -1
            if fd < 0:
                return
            wake = os.open(f"/proc/self/fd/{fd}", os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except (OSError, ValueError):
            return
        try:
            os.write(wake, b"\n")
        except OSError:
            pass
        finally:
            os.close(wake)
        logger.warning("MCP server '%s': a process outside its group holds its stdout; not waiting for it", self.name)

    def _let_go_of_pipes(self, devnull: int) -> None:
        """Point this process's copies of the child's pipes at ``devnull`` (after ``fork()``).

        Streams already closed (or being closed) by the parent are left alone: their descriptor
        numbers may have been reused since.
        """
        proc = self._proc
        if proc is None or self._close_started:
            return
        streams: Tuple[Any, ...] = (self._writer, self._reader, self._stderr if not self._stderr_done.is_set() else None)
        for stream in streams:
            try:
                if stream is not None and not stream.closed:
                    os.dup2(devnull, stream.fileno(), inheritable=False)
            except (OSError, ValueError):
                pass

    def _shutdown(self, proc: subprocess.Popen[bytes]) -> None:
        # A writer blocked on a full stdin pipe holds the write lock; do not wait long for it.
        # The signals below break its write.
        self._close_writer(wait=0.1)
        now = time.monotonic()
        if _exit_status(proc, now + self.shutdown_grace) is None:
            logger.debug("MCP server '%s' still running %s s after stdin closed; SIGTERM", self.name, self.shutdown_grace)
            _signal_group(proc, signal.SIGTERM)
            if _exit_status(proc, time.monotonic() + self.terminate_grace) is None:
                logger.warning("MCP server '%s' ignored SIGTERM for %s s; SIGKILL", self.name, self.terminate_grace)
                _signal_group(proc, _SIGKILL)
                _exit_status(proc, time.monotonic() + _KILL_WAIT)
        # The leader is gone (or unkillable); grandchildren still in its group would keep the
        # stdout pipe open and the reader blocked, so _reap kills the group before reaping.
        _reap(proc)
        if self._finalizer is not None:
            self._finalizer.detach()
        self._close_writer(wait=1.0)
        # The group is gone: what is left in the pipes is read at once. A reader still blocked
        # after that waits on a process outside the group (setsid()), which no signal reached.
        stderr_thread = self._stderr_thread
        if stderr_thread is not None and stderr_thread is not threading.current_thread():
            stderr_thread.join(_DRAIN_WAIT)
            if stderr_thread.is_alive() and self._stderr is not None:
                logger.warning(
                    "MCP server '%s': a process outside its group holds its stderr open; not waiting for it", self.name
                )
                self._stderr.close()
                stderr_thread.join(_KILL_WAIT)
        if self._reader is not None and not self._stdout_drained(_DRAIN_WAIT):
            self._wake_stdout_reader()
