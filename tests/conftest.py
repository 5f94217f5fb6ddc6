"""Shared fixtures: leak checks after every test, and the real MCP peers from the test set-up.

Real peers are installed by ``tools/run-tests`` into ``.peers/`` (npm servers under
``.peers/npm``, Python servers and the official SDK in ``.peers/venv``). A test that needs one
and does not find it is skipped locally but **fails** when ``CI=true``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import json
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

import syncmcp
from syncmcp.testing import memory_pair

ROOT = Path(__file__).resolve().parent.parent
SERVERS = Path(__file__).resolve().parent / "servers"
SCRIPTED = SERVERS / "stdio_server.py"
NPM_PREFIX = Path(os.environ.get("SYNCMCP_NPM_PREFIX", ROOT / ".peers" / "npm"))
PEERS_PYTHON = Path(os.environ.get("SYNCMCP_PEERS_PYTHON", ROOT / ".peers" / "venv" / "bin" / "python"))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# OAuth tokens a test stores never land in the user's credential file (subprocesses inherit this).
os.environ.setdefault("SYNCMCP_CREDENTIALS", os.path.join(tempfile.mkdtemp(prefix="syncmcp-tests-"), "credentials.json"))

# Peer programs (run by subprocess with other interpreters), not test modules: no doctest collection.
collect_ignore_glob = ["servers/*", "peers/*", "drivers/*"]

# ----------------------------------------------------------------------------- process tracking

_spawned: List[int] = []
_original_popen_init = subprocess.Popen.__init__


def _recording_init(self: subprocess.Popen, *args: object, **kwargs: object) -> None:  # type: ignore[type-arg]
    _original_popen_init(self, *args, **kwargs)  # type: ignore[arg-type]
    _spawned.append(self.pid)


subprocess.Popen.__init__ = _recording_init  # type: ignore[method-assign]


def _proc_table() -> Dict[int, tuple]:
    """pid -> (state, ppid, pgid) for every process, from /proc."""
    table: Dict[int, tuple] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                data = handle.read().decode("ascii", "replace")
        except OSError:
            continue
        fields = data[data.rfind(")") + 2 :].split()
        table[int(entry)] = (fields[0], int(fields[1]), int(fields[2]))
    return table


def leftover_processes(pids: List[int]) -> List[str]:
    """Processes (or unreaped zombies) that belong to any of ``pids`` or their process groups."""
    wanted = set(pids)
    me = os.getpid()
    problems = []
    for pid, (state, ppid, pgid) in _proc_table().items():
        if pid not in wanted and pgid not in wanted:
            continue
        if state == "Z" and ppid != me:
            continue  # a killed grandchild waiting for its new parent (init) to reap it
        kind = "zombie (not reaped)" if state == "Z" else "still running"
        problems.append(f"pid {pid} (ppid {ppid}, pgid {pgid}) {kind}")
    return problems


def syncmcp_threads() -> List[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("syncmcp-") and t.is_alive()]


def wait_until(predicate, timeout: float = 5.0, interval: float = 0.01) -> bool:
    """Poll ``predicate`` until true or ``timeout``; for effects with no event to wait on
    (another process's state, a thread that is finishing)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


_FD_DIR = "/proc/self/fd"
#: How long a test's descriptors get to close after its threads and processes ended (a reader
#: thread's last close, a server thread answering its last connection).
FD_SETTLE = 2.0


def open_fds() -> Dict[int, str]:
    """``{fd: target}`` of every descriptor open in this process (``readlink`` of /proc/self/fd)."""
    fds: Dict[int, str] = {}
    try:
        names = os.listdir(_FD_DIR)
    except OSError:  # no /proc (not Linux): nothing to compare
        return fds
    for name in names:
        try:
            fds[int(name)] = os.readlink(f"{_FD_DIR}/{name}")
        except OSError:
            continue  # closed since: the listing's own descriptor, or another thread's
    return fds


def _socket_table() -> Dict[str, str]:
    """``{"socket:[inode]": "tcp 127.0.0.1:8000 -> 127.0.0.1:51234 ESTABLISHED"}`` for this process's sockets."""
    states = {"01": "ESTABLISHED", "02": "SYN_SENT", "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT", "0A": "LISTEN"}

    def address(text: str) -> str:
        host, port = text.split(":")
        if len(host) == 8:
            packed = bytes.fromhex(host)[::-1]
            return f"{'.'.join(str(b) for b in packed)}:{int(port, 16)}"
        return f"[{host}]:{int(port, 16)}"

    table: Dict[str, str] = {}
    for kind in ("tcp", "tcp6", "udp", "udp6"):
        try:
            with open(f"/proc/self/net/{kind}") as handle:
                rows = handle.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 9:
                state = states.get(fields[3], fields[3])
                table[f"socket:[{fields[9]}]"] = f"{kind} {address(fields[1])} -> {address(fields[2])} {state}"
    try:
        with open("/proc/self/net/unix") as handle:
            rows = handle.read().splitlines()[1:]
    except OSError:
        rows = []
    for row in rows:
        fields = row.split()
        if len(fields) >= 7:
            table[f"socket:[{fields[6]}]"] = f"unix {fields[7] if len(fields) > 7 else '(unnamed)'}"
    return table


def _fd_is_exempt(target: str) -> bool:
    """Descriptors a test may leave open on purpose: none so far.

    Module-scoped and session-scoped fixtures are set up before this function-scoped fixture
    (pytest instantiates higher scopes first) and torn down after it, so their servers and
    sockets are in the "before" snapshot already; pytest's own capture files are session-wide
    or belong to ``capfd``/``capsys``, torn down before this fixture. Anything found here is a
    lazily-created, process-wide cache: list it precisely, with the module that keeps it.
    """
    return False


def leaked_fds(before: Dict[int, str]) -> List[str]:
    """Descriptions of descriptors open now that were not open (to the same target) in ``before``."""
    leaked = {fd: target for fd, target in open_fds().items() if before.get(fd) != target and not _fd_is_exempt(target)}
    if not leaked:
        return []
    sockets = _socket_table() if any(t.startswith("socket:") for t in leaked.values()) else {}
    return [f"fd {fd} -> {target}" + (f" ({sockets[target]})" if target in sockets else "") for fd, target in sorted(leaked.items())]


@pytest.fixture(autouse=True)
def no_leaks(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that leaves a child process, a zombie, a syncmcp thread, or an open file
    descriptor (a file, pipe or socket: anything in /proc/self/fd) behind."""
    start = len(_spawned)
    fds_before = open_fds()
    yield
    pids = _spawned[start:]
    if not wait_until(lambda: not syncmcp_threads(), timeout=5.0):
        names = sorted(t.name for t in syncmcp_threads())
        pytest.fail(f"syncmcp threads left running: {names}")
    if pids and not wait_until(lambda: not leftover_processes(pids), timeout=3.0):
        problems = leftover_processes(pids)
        for pid in pids:  # clean up so one leak does not cascade into later tests
            try:
                os.killpg(pid, 9)
            except OSError:
                pass
        pytest.fail("child processes left behind: " + "; ".join(problems))
    # Never closed here: the owner may still close it later, and a descriptor number closed
    # twice closes whatever reused it. A leak stays a leak for this test only: the next test's
    # snapshot includes it.
    if not wait_until(lambda: not leaked_fds(fds_before), timeout=FD_SETTLE, interval=0.02):
        leaked = leaked_fds(fds_before)
        if leaked:
            pytest.fail(f"file descriptors left open ({len(leaked)}): " + "; ".join(leaked))


# ----------------------------------------------------------------------------- peers


def require(path: Path, what: str) -> Path:
    """Return ``path`` if it exists; otherwise fail in CI, skip elsewhere."""
    if path.exists():
        return path
    message = f"{what} is not installed at {path}; run tools/run-tests to install the test peers"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)
    raise AssertionError  # unreachable


def need(module: str) -> None:
    """Skip without ``module``, a pinned test extra; fail in CI, where it must be installed."""
    if importlib.util.find_spec(module) is None:
        message = f"{module} is not installed; it comes with the test extra: pip install -e '.[test]'"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def npm_server(package: str) -> List[str]:
    """Command line of an npm MCP server installed by the test set-up."""
    script = require(NPM_PREFIX / "node_modules" / "@modelcontextprotocol" / package / "dist" / "index.js", package)
    return ["node", str(script)]


def peers_python() -> str:
    """The Python of the peers' virtual environment (official SDK, Python servers)."""
    return str(require(PEERS_PYTHON, "the peers' Python environment"))


def scripted(*flags: str) -> List[str]:
    """Command line of the scripted stdlib server."""
    return [sys.executable, "-u", str(SCRIPTED), *flags]


@pytest.fixture
def everything_cmd() -> List[str]:
    return [*npm_server("server-everything"), "stdio"]


@pytest.fixture
def filesystem_cmd(tmp_path: Path) -> List[str]:
    return [*npm_server("server-filesystem"), str(tmp_path)]


@pytest.fixture
def time_cmd() -> List[str]:
    python = peers_python()
    return [python, "-m", "mcp_server_time", "--local-timezone", "UTC"]


@pytest.fixture
def fastmcp_cmd() -> List[str]:
    python = peers_python()
    return [python, str(SERVERS / "fixture_server.py")]


def first(items: list, name: str) -> Optional[object]:
    return next((item for item in items if getattr(item, "name", None) == name), None)


# ----------------------------------------------------------------------------- servers in process


@contextlib.contextmanager
def serve_in_process(server: Any, era: str = "legacy", **session_options: Any) -> Iterator[syncmcp.ClientSession]:
    """A syncmcp ClientSession connected to ``server`` (a ``syncmcp.server.Server``) in memory.

    ``era`` is the session's ``protocol_era``: legacy by default, where most server behaviour is
    specified; ``"auto"`` finds the 2026-07-28 era, as a real client of ``syncmcp serve`` does.
    """
    client_end, server_end = memory_pair("server", "client")
    connection = server.connect(server_end)
    session = syncmcp.ClientSession(client_end, protocol_era=era, **session_options)
    try:
        session.initialize(timeout=10)
        yield session
    finally:
        session.close()
        connection.close()
        server.close()


class RawClient:
    """A hand-driven JSON-RPC client for protocol-level server tests.

    The server end is the real stdio server transport (``ServerStreamTransport`` over OS pipes),
    so what is tested is what ``run_stdio`` serves; this end writes raw lines and reads whole
    messages with a deadline.
    """

    def __init__(self, server: Any) -> None:
        from syncmcp.server._io import ServerStreamTransport, WakeableReader

        to_server_r, self._to_server = os.pipe()
        self._from_server, from_server_w = os.pipe()
        self._reader = WakeableReader(to_server_r)
        transport = ServerStreamTransport(self._reader, os.fdopen(from_server_w, "wb"), name="raw")
        self.connection = server.connect(transport, name="raw-client")
        self._buffer = b""
        self._ids = itertools.count(1)
        self.seen: List[Any] = []  # messages read while waiting for a response

    def send_line(self, line: bytes) -> None:
        os.write(self._to_server, line if line.endswith(b"\n") else line + b"\n")

    def send(self, message: Any) -> None:
        self.send_line(json.dumps(message).encode())

    def notify(self, method: str, params: Optional[Dict[str, Any]] = None) -> None:
        message: Dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)

    def receive(self, timeout: float = 5.0) -> Any:
        """The next message from the server; fails the test after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_server], [], [], max(0.0, remaining))
            if not ready:
                pytest.fail(f"no message from the server within {timeout} s")
            chunk = os.read(self._from_server, 65536)
            if not chunk:
                pytest.fail("the server closed its output")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    def request(
        self, method: str, params: Optional[Dict[str, Any]] = None, *, request_id: Any = None, timeout: float = 5.0
    ) -> Dict[str, Any]:
        """Send a request and return its whole response (other messages go to ``seen``)."""
        request_id = next(self._ids) if request_id is None else request_id
        message: Dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        return self.response_to(request_id, timeout=timeout)

    def response_to(self, request_id: Any, *, timeout: float = 5.0) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            message = self.receive(max(0.01, deadline - time.monotonic()))
            if isinstance(message, dict) and message.get("id") == request_id and "method" not in message:
                return message
            self.seen.append(message)

    def initialize(self, version: str = "2025-11-25", capabilities: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        response = self.request(
            "initialize",
            {"protocolVersion": version, "capabilities": capabilities or {}, "clientInfo": {"name": "raw", "version": "1"}},
        )
        self.notify("notifications/initialized")
        return response

    def close(self) -> None:
        os.close(self._to_server)
        self.connection.close()
        self._reader.release()  # the reading thread has stopped: its descriptors can go
        os.close(self._from_server)


@pytest.fixture
def raw_client() -> Iterator[Any]:
    """``raw_client(server)`` connects a :class:`RawClient`; all are closed after the test."""
    clients: List[RawClient] = []

    def connect(server: Any) -> RawClient:
        client = RawClient(server)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


# ----------------------------------------------------------------------------- the command line


class CLI:
    """Runs the real entry point (``python -m syncmcp``) isolated from the user's configuration.

    ``XDG_CONFIG_HOME`` points into the test's folder, so the default configuration file is
    ``self.default_config`` (absent until a test creates it); ``SYNCMCP_CONFIG`` and
    ``SYNCMCP_LOG`` are removed from the environment. Commands run in ``self.cwd``.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cwd = root / "project"
        self.cwd.mkdir(parents=True, exist_ok=True)
        home = root / "xdg"
        self.default_config = home / "syncmcp" / "config.toml"
        self.env = {k: v for k, v in os.environ.items() if k not in ("SYNCMCP_CONFIG", "SYNCMCP_LOG")}
        self.env["XDG_CONFIG_HOME"] = str(home)

    def argv(self, *args: str) -> List[str]:
        return [sys.executable, "-m", "syncmcp", *args]

    def environment(self, env: Optional[Dict[str, str]] = None) -> Dict[str, str]:
        return {**self.env, **(env or {})}

    def __call__(
        self, *args: str, env: Optional[Dict[str, str]] = None, input: Optional[str] = None, timeout: float = 60
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.argv(*args),
            cwd=self.cwd,
            env=self.environment(env),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def popen(self, *args: str, env: Optional[Dict[str, str]] = None, **kwargs: Any) -> subprocess.Popen:
        return subprocess.Popen(self.argv(*args), cwd=self.cwd, env=self.environment(env), **kwargs)


@pytest.fixture
def cli(tmp_path: Path) -> CLI:
    return CLI(tmp_path)


def toml_server(name: str, command: List[str], **extra: Any) -> str:
    """A ``[mcp_servers.NAME]`` table for ``command`` (JSON strings are valid TOML strings)."""
    lines = [f"[mcp_servers.{name}]", f"command = {json.dumps(command[0])}", f"args = {json.dumps(command[1:])}"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in extra.items()]
    return "\n".join(lines) + "\n"


def process_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie is not)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().decode("ascii", "replace").rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _live_command_lines() -> Iterator[Tuple[int, List[bytes]]]:
    """(pid, arguments) of every live process."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            arguments = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if process_alive(int(entry)):
            yield int(entry), arguments


def processes_mentioning(text: str) -> List[int]:
    """Pids of live (not zombie) processes whose command line contains ``text``."""
    return [pid for pid, arguments in _live_command_lines() if text in b" ".join(arguments).decode("utf-8", "replace")]


def processes_with(argument: str) -> List[int]:
    """Pids of live (not zombie) processes with ``argument`` among their arguments.

    A command inside bubblewrap has its own pid namespace: its arguments find it, its pids do not.
    """
    return [pid for pid, arguments in _live_command_lines() if argument.encode() in arguments]
