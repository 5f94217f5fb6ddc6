"""Scenarios of a process that forks while it uses syncmcp; run by tests/test_fork.py.

``python fork_driver.py SCENARIO SERVER_ARGV_JSON`` prints one JSON object (the findings) as its
last line. Each scenario forks from a process whose threads are busy calling a server, as a
preloading web server or a ``multiprocessing`` pool does, and reports what the child and the
parent saw.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import threading
import time
from typing import Any, Callable, Dict, List

from _serving import workspace_over_http  # this folder: the drivers run as scripts

import syncmcp

SERVER: List[str] = []


def args(text: str) -> Dict[str, str]:
    """``echo``'s arguments: the scripted server's take ``text``, server-everything's ``message``."""
    return {"text": text} if SERVER[-1].endswith("stdio_server.py") else {"message": text}


class Caller:
    """A parent thread calling ``echo`` without pause; each answer must echo its own message."""

    def __init__(self, call: Callable[[str], str]) -> None:
        self.call = call
        self.calls = 0
        self.wrong: List[str] = []
        self.errors: List[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)
        self._thread.start()
        deadline = time.monotonic() + 10
        while self.calls < 20 and time.monotonic() < deadline:  # busy before the fork
            time.sleep(0.01)

    def _run(self) -> None:
        number = 0
        while not self._stop.is_set():
            number += 1
            message = f"parent-{number}"
            try:
                text = self.call(message)
            except Exception as exc:  # reported, not raised: the test says what went wrong
                self.errors.append(repr(exc))
                continue
            if message not in text:
                self.wrong.append(text)
            self.calls += 1

    def stop(self) -> Dict[str, Any]:
        time.sleep(0.3)  # keep calling after the child is gone
        self._stop.set()
        self._thread.join(30)
        return {"parent_calls": self.calls, "parent_wrong": self.wrong[:3], "parent_errors": self.errors[:3]}


def in_child(work: Callable[[], Dict[str, Any]]) -> Dict[str, Any]:
    """Fork; run ``work`` in the child, which sends its findings back through a pipe and exits
    through the interpreter's normal exit (exit handlers and finalisers run)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            found = work()
        except BaseException as exc:  # pragma: no cover - reported to the parent
            found = {"child_crash": repr(exc)}
        os.write(write_end, json.dumps(found).encode())
        os.close(write_end)
        sys.exit(0)
    os.close(write_end)
    chunks = []
    while True:
        chunk = os.read(read_end, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_end)
    started = time.monotonic()
    _, status = os.waitpid(pid, 0)
    found = json.loads(b"".join(chunks) or b"{}")
    found["child_exit_status"] = status
    found["child_exit_seconds"] = round(time.monotonic() - started, 3)
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def try_call(call: Callable[[], Any]) -> Dict[str, Any]:
    started = time.monotonic()
    try:
        value = call()
    except Exception as exc:
        return {"error_type": type(exc).__name__, "error": str(exc), "seconds": round(time.monotonic() - started, 3)}
    return {"value": value, "seconds": round(time.monotonic() - started, 3)}


def session() -> Dict[str, Any]:
    """A session made before fork(): the child is refused, closes it, exits; the parent goes on."""
    s = syncmcp.connect(SERVER[0], SERVER[1:], name="echo")
    server_pid = s._transport.pid  # type: ignore[attr-defined]
    caller = Caller(lambda message: s.call_tool("echo", args(message)).text)

    def child() -> Dict[str, Any]:
        found = {"call": try_call(lambda: s.call_tool("echo", args("child")).text)}
        found["submit"] = try_call(lambda: s.submit("ping", None).id)
        found["close"] = try_call(s.close)
        found["server_alive_after_child_close"] = alive(server_pid)
        return found

    found = in_child(child)
    found.update(caller.stop())
    found["server_alive_after_child"] = alive(server_pid)
    s.close()
    found["server_alive_after_close"] = alive(server_pid)
    return found


def session_unclosed() -> Dict[str, Any]:
    """The child never closes what it inherited and exits normally: nothing of the parent's dies."""
    s = syncmcp.connect(SERVER[0], SERVER[1:], name="echo")
    server_pid = s._transport.pid  # type: ignore[attr-defined]
    caller = Caller(lambda message: s.call_tool("echo", args(message)).text)
    found = in_child(lambda: {"pid": os.getpid()})
    found.update(caller.stop())
    found["server_alive_after_child"] = alive(server_pid)
    found["parent_call_after_child"] = try_call(lambda: s.call_tool("echo", args("after")).text)
    s.close()
    return found


def pipes_released() -> Dict[str, Any]:
    """The parent closes its session while a forked child still lives: the server sees the end of
    its input (exit status 0) instead of needing a signal."""
    transport = syncmcp.StdioTransport(SERVER[0], SERVER[1:], name="echo", shutdown_grace=5.0)
    s = syncmcp.ClientSession(transport)
    s.initialize()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # a child that lives on, holding whatever it inherited
        os.close(write_end)
        os.read(read_end, 1)
        os._exit(0)
    os.close(read_end)
    started = time.monotonic()
    s.close()
    found = {"close_seconds": round(time.monotonic() - started, 3), "server_exit": transport.returncode}
    os.close(write_end)
    os.waitpid(pid, 0)
    return found


def manager(after_fork: str) -> Dict[str, Any]:
    """A manager made before fork(), with ``after_fork`` as given."""
    m = syncmcp.MCPManager({"echo": {"command": SERVER[0], "args": SERVER[1:]}}, after_fork=after_fork)
    m.wait_for_server_ready("echo", 30)
    server_pid = m._rt.slots["echo"].pid  # type: ignore[attr-defined]
    caller = Caller(lambda message: m.call_tool("echo__echo", args(message)).text)

    def child() -> Dict[str, Any]:
        found = {"call": try_call(lambda: m.call_tool("echo__echo", args("child")).text)}
        found["tools"] = try_call(lambda: "echo__echo" in m.list_all_tools())
        found["child_server_pid"] = m._rt.slots["echo"].pid  # type: ignore[attr-defined]
        found["close"] = try_call(m.close)
        found["child_server_alive_after_close"] = (
            alive(found["child_server_pid"]) if found["child_server_pid"] not in (None, server_pid) else None
        )
        found["parent_server_alive_after_child_close"] = alive(server_pid)
        return found

    found = in_child(child)
    found.update(caller.stop())
    found["parent_server_pid"] = server_pid
    found["server_alive_after_child"] = alive(server_pid)
    m.close()
    found["server_alive_after_close"] = alive(server_pid)
    return found


def http_session() -> Dict[str, Any]:
    """An HTTP session made before fork() (syncmcp's own server): the child's close does not end
    the parent's session on the server."""
    with workspace_over_http() as url:
        s = syncmcp.connect(url, protocol_era="legacy")
        names = len(s.list_tools())
        caller = Caller(lambda message: message if len(s.list_tools(refresh=True)) == names else "wrong")

        def child() -> Dict[str, Any]:
            return {"call": try_call(lambda: len(s.list_tools())), "close": try_call(s.close)}

        found = in_child(child)
        found.update(caller.stop())
        found["parent_after_child"] = try_call(lambda: len(s.list_tools(refresh=True)) == names)
        s.close()
        return found


_POOL_MANAGER: Any = None


def _pool_task(number: int) -> str:
    return str(_POOL_MANAGER.call_tool("echo__echo", args(f"task-{number}")).text)


def pool() -> Dict[str, Any]:
    """``multiprocessing`` with the fork start method and a manager that reconnects in workers."""
    global _POOL_MANAGER
    _POOL_MANAGER = syncmcp.MCPManager({"echo": {"command": SERVER[0], "args": SERVER[1:]}}, after_fork="reconnect")
    caller = Caller(lambda message: _POOL_MANAGER.call_tool("echo__echo", args(message)).text)
    with multiprocessing.get_context("fork").Pool(3) as workers:
        texts = workers.map(_pool_task, range(30))
    found = {"right": sum(f"task-{number}" in text for number, text in enumerate(texts)), "of": len(texts)}
    found.update(caller.stop())
    _POOL_MANAGER.close()
    return found


SCENARIOS: Dict[str, Callable[[], Dict[str, Any]]] = {
    "session": session,
    "session_unclosed": session_unclosed,
    "pipes_released": pipes_released,
    "manager_error": lambda: manager("error"),
    "manager_reconnect": lambda: manager("reconnect"),
    "pool": pool,
    "http_session": http_session,
}


if __name__ == "__main__":
    SERVER[:] = json.loads(sys.argv[2])
    print(json.dumps(SCENARIOS[sys.argv[1]]()), flush=True)
