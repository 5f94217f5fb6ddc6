"""``examples/flask_mcp_client.py`` under real WSGI servers: one MCPManager per process, shared by
every request thread, and every MCP server stopped when the host gets SIGTERM.

The app is served by gunicorn (``gthread``, two workers, with ``--preload`` and the servers
started in the master before the fork, and without) and by waitress, against a real MCP server
(server-everything, passed through ``MCP_SERVER_COMMAND``). Eight client threads make fifty
checked calls each, every one on a new connection so both gunicorn workers answer. Then:

* each serving process ran exactly one server (one manager per process, not one per thread or
  per request), and with ``--preload`` each worker's server is its own, not the master's;
* SIGTERM to the host (the gunicorn master, or waitress) ends it with status 0 within 15 s,
  and leaves no process behind: no worker, no MCP server.

``examples/celery_worker.py`` gets the same under a real Celery prefork worker (two pool
processes, kombu's ``filesystem://`` broker and the ``file://`` result backend in the test's
folder): each pool process that ran tasks has one server of its own, the main process none, and
SIGTERM to the main process closes every manager (``worker_process_shutdown``) and leaves
nothing behind. gunicorn, waitress and celery are pinned test extras; server-everything comes
from the test set-up (hence ``real``: these fail, never skip, in CI).
"""

from __future__ import annotations

import http.client
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Set, Tuple

import pytest

from .conftest import ROOT, _proc_table, leftover_processes, process_alive, wait_until
from .test_wsgi_servers import free_port, need

pytestmark = [pytest.mark.real, pytest.mark.slow]

APP = "examples.flask_mcp_client:app"
THREADS = 8
REQUESTS = 50
WORKERS = 2


def request(port: int, method: str, path: str, body: Any = None) -> Tuple[int, Dict[str, Any]]:
    """``(status, JSON body)`` of one request on a connection of its own."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def descendants(root: int) -> Set[int]:
    """Every live process below ``root`` (children, grandchildren, ...)."""
    table = _proc_table()
    children: Dict[int, List[int]] = {}
    for pid, (_state, ppid, _pgid) in table.items():
        children.setdefault(ppid, []).append(pid)
    found: Set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return {pid for pid in found if process_alive(pid)}


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def parent_of(pid: int) -> int:
    return int(_proc_table().get(pid, ("?", 0, 0))[1])


class Host:
    """gunicorn or waitress serving the example app in its own session; killed if the test fails."""

    def __init__(self, kind: str, server: List[str], log: Path) -> None:
        self.kind = kind
        self.port = free_port()
        address = f"127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MCP_", "SYNCMCP_CONFIG"))}
        env.update(PYTHONPATH=str(ROOT), MCP_SERVER_COMMAND=shlex.join(server), MCP_SERVER_NAME="everything")
        if kind.startswith("gunicorn"):
            argv = [sys.executable, "-m", "gunicorn", "-w", str(WORKERS), "-k", "gthread", "--threads", "4"]
            argv += ["--keep-alive", "0", "--graceful-timeout", "5", "-b", address, APP]
            if kind == "gunicorn-preload":
                argv.insert(3, "--preload")
                env["MCP_WARM_UP"] = "1"  # the master starts the servers before it forks the workers
        else:
            argv = [sys.executable, "-m", "waitress", f"--listen={address}", "--threads=8", APP]
        self.log = log
        with open(log, "wb") as output:
            self.process = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def wait_ready(self, processes: int, timeout: float = 60.0) -> Set[int]:
        """Poll ``/tools`` (each on a new connection) until ``processes`` distinct processes answered."""
        answered: Set[int] = set()
        deadline = time.monotonic() + timeout
        while len(answered) < processes and time.monotonic() < deadline:
            assert self.process.poll() is None, f"{self.kind} exited:\n{self.output()}"
            try:
                status, body = request(self.port, "GET", "/tools")
            except OSError:
                time.sleep(0.05)
                continue
            assert status == 200 and "everything__echo" in body["tools"], body
            answered.add(body["pid"])
        assert len(answered) == processes, f"only {answered} answered within {timeout} s:\n{self.output()}"
        return answered

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(10)


def hammer(port: int) -> Tuple[List[str], Set[int]]:
    """``THREADS`` threads, ``REQUESTS`` calls each, alternating echo and get-sum; the wrong answers
    (and failures) and the pids of the processes that answered."""
    wrong: List[str] = []
    pids: Set[int] = set()
    lock = threading.Lock()

    def client(number: int) -> None:
        for step in range(REQUESTS):
            try:
                if step % 2:
                    status, body = request(port, "POST", "/call/everything__get-sum", {"a": number, "b": step})
                    right = status == 200 and body["text"] == f"The sum of {number} and {step} is {number + step}."
                else:
                    message = f"thread {number} call {step}"
                    status, body = request(port, "POST", "/call/everything__echo", {"message": message})
                    right = status == 200 and body["text"] == f"Echo: {message}" and body["is_error"] is False
            except Exception as exc:  # reported: the assertion below names it
                status, body, right = 0, {"exception": repr(exc)}, False
            with lock:
                pids.add(body.get("pid", 0))
                if not right:
                    wrong.append(f"{status} {body}")

    threads = [threading.Thread(target=client, args=(number,)) for number in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads), "client threads still running after 120 s"
    return wrong, pids


@pytest.mark.parametrize("kind", ["gunicorn-preload", "gunicorn", "waitress"])
def test_one_manager_per_process_serves_concurrent_requests_and_sigterm_stops_every_server(
    kind: str, everything_cmd: List[str], tmp_path: Path
) -> None:
    if kind.startswith("gunicorn"):
        need("gunicorn")
    else:
        need("waitress")
    script = everything_cmd[1]  # node's script: it names server-everything's processes
    host = Host(kind, everything_cmd, tmp_path / f"{kind}.log")
    try:
        serving = host.wait_ready(WORKERS if kind.startswith("gunicorn") else 1)
        wrong, answered = hammer(host.port)
        assert not wrong, f"{len(wrong)} of {THREADS * REQUESTS} wrong, e.g. {wrong[:3]}\n{host.output()}"
        assert answered == serving  # the same processes: none restarted or crashed under load
        if kind.startswith("gunicorn"):
            assert host.process.pid not in serving
        else:
            assert serving == {host.process.pid}

        servers = {pid for pid in descendants(host.process.pid) if script in command_line(pid)}
        owners = sorted(parent_of(pid) for pid in servers)
        expected = sorted(serving | ({host.process.pid} if kind == "gunicorn-preload" else set()))
        assert owners == expected, f"MCP servers {servers} belong to {owners}, expected one for each of {expected}"

        host.process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        try:
            status = host.process.wait(20)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{kind} still running 20 s after SIGTERM:\n{host.output()}")
        # gunicorn's master exits 0 on SIGTERM; so does waitress, which takes the SystemExit of
        # stop_servers_on_sigterm() as a request to shut down gracefully.
        assert status == 0, host.output()
        took = time.monotonic() - started
        assert wait_until(lambda: not [pid for pid in servers if process_alive(pid)], timeout=10), (
            f"MCP servers left running after {kind} exited: {[pid for pid in servers if process_alive(pid)]}"
        )
        assert wait_until(lambda: not leftover_processes([host.process.pid]), timeout=10), leftover_processes([host.process.pid])
        log = host.output()
        assert "Traceback" not in log and "Exception ignored" not in log, log
        assert took < 15, f"{kind} took {took:.1f} s to stop"
    finally:
        if host.process.poll() is None:
            host.kill()


# ----------------------------------------------------------------------------- Celery

CLIENT = """
import json, sys
from examples.celery_worker import call_tool
calls = [("everything__echo", {"message": f"task {n}"}) if n % 2 else ("everything__get-sum", {"a": n, "b": 100}) for n in range(12)]
pending = [call_tool.delay(tool, arguments) for tool, arguments in calls]
print(json.dumps([result.get(timeout=60) for result in pending]))
"""


def test_a_celery_prefork_worker_has_one_manager_per_pool_process_closed_at_shutdown(
    everything_cmd: List[str], tmp_path: Path
) -> None:
    """``celery worker --pool=prefork -c 2`` with ``examples/celery_worker.py`` (file broker and
    results): tasks call server-everything through each pool process's own manager; SIGTERM to
    the main process closes every manager (``worker_process_shutdown``) and leaves nothing behind."""
    need("celery")
    script = everything_cmd[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MCP_", "CELERY_", "SYNCMCP_CONFIG"))}
    env.update(
        PYTHONPATH=str(ROOT), CELERY_DATA_DIR=str(tmp_path / "celery"), MCP_SERVER_COMMAND=shlex.join(everything_cmd),
        MCP_SERVER_NAME="everything",
    )  # fmt: skip
    log = tmp_path / "worker.log"
    argv = [sys.executable, "-m", "celery", "-A", "examples.celery_worker", "worker", "--pool=prefork", "-c", "2"]
    argv += ["--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=INFO"]
    with open(log, "wb") as output:
        worker = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        client = subprocess.run(
            [sys.executable, "-c", CLIENT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=90, check=False
        )
        text = log.read_text(errors="replace")[-4000:]
        assert client.returncode == 0, client.stderr[-3000:] + text
        results = json.loads(client.stdout.strip().splitlines()[-1])
        for n, result in enumerate(results):
            expected = f"Echo: task {n}" if n % 2 else f"The sum of {n} and 100 is {n + 100}."
            assert result["text"] == expected and result["is_error"] is False, result

        answered = {result["pid"] for result in results}
        pool = descendants(worker.pid)
        assert worker.pid not in answered and answered <= pool  # the tasks ran in pool processes
        servers = {pid for pid in pool if script in command_line(pid)}
        owners = sorted(parent_of(pid) for pid in servers)
        assert owners == sorted(answered), f"MCP servers {servers} belong to {owners}, expected one for each of {answered}"

        worker.send_signal(signal.SIGTERM)  # warm shutdown: the pool processes finish and exit
        try:
            status = worker.wait(20)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the worker still runs 20 s after SIGTERM:\n{log.read_text(errors='replace')[-4000:]}")
        text = log.read_text(errors="replace")
        assert status == 0, text[-4000:]
        for pid in answered:
            assert f"closed the MCP servers of process {pid}" in text, text[-4000:]
        assert wait_until(lambda: not [pid for pid in servers if process_alive(pid)], timeout=10)
        assert wait_until(lambda: not leftover_processes([worker.pid]), timeout=10), leftover_processes([worker.pid])
        assert "Traceback" not in text and "Exception ignored" not in text, text[-4000:]
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)
