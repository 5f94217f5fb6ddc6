"""``Server.wsgi_app`` under real WSGI servers: gunicorn with four ``gthread`` workers, and waitress.

The application is ``tests/servers/wsgi_server.py`` (``stateless=True``, a small page size, a
shared ``SYNCMCP_SERVER_SECRET``). Gunicorn runs with ``--keep-alive 0``: every request comes on
a new connection, so consecutive requests of one client land on any worker, as behind a load
balancer. Sixteen client threads make a hundred checked calls each with syncmcp's own client, in
the 2026-07-28 era and in the legacy era without sessions; then a pagination cursor and a
``requestState`` made by one worker are taken by another (the ``X-Worker-Pid`` header the test
application adds tells who answered), and refused by a process with another secret.

gunicorn and waitress come with the ``test`` extra: missing, these tests skip locally and fail in CI.
They are marked ``slow`` but not ``real`` (no peer from ``tools/run-tests`` is needed), so the unit
run on the oldest Python (``-m "not real"``) serves the application with them too.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

import pytest

import syncmcp

from .conftest import ROOT, SERVERS, need

pytestmark = pytest.mark.slow

SECRET = "wsgi-test-shared-secret"
PAGE_SIZE = 3
#: Every tool of the test application, in registration order (tools/list's order).
TOOL_NAMES = ["add", "pid", "confirm", *(f"filler_{index:02d}" for index in range(10))]
THREADS = 16
CALLS = 100
MODERN = "2026-07-28"
ENVELOPE = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"form": {}}},
    "io.modelcontextprotocol/clientInfo": {"name": "raw-test-client", "version": "1"},
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Served:
    """A WSGI server running ``app`` (``module:object``, imported from ``cwd``) in its own process group."""

    def __init__(self, kind: str, app: str, log: Path, *, cwd: Path, env: Dict[str, str], workers: int, threads: int) -> None:
        self.kind = kind
        self.log = log
        self.port = free_port()
        address = f"127.0.0.1:{self.port}"
        if kind == "gunicorn":
            # The documented command, plus: every request on a new connection, so consecutive
            # requests of one client land on any worker (as behind a load balancer).
            argv = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-k", "gthread", "--threads", str(threads)]
            argv += ["--keep-alive", "0", "--graceful-timeout", "5", "-b", address, app]
        else:
            argv = [sys.executable, "-m", "waitress", f"--listen={address}", "--threads=32", app]
        environment = {k: v for k, v in os.environ.items() if k != "SYNCMCP_SERVER_SECRET"}
        environment["PYTHONPATH"] = os.pathsep.join([str(cwd), str(ROOT)])
        environment.update(env)
        with open(log, "wb") as output:
            self.process = subprocess.Popen(
                argv,
                cwd=cwd,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def wait_ready(self, workers: int, deadline: float) -> bool:
        """Whether it answers HTTP before ``deadline``; under gunicorn, from every worker when the
        application names them (``X-Worker-Pid``): a worker still importing takes no connections,
        so the first one ready would get every client."""
        answered: Set[int] = set()
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                pid = get(self.port, "/mcp")[1]
            except OSError:
                time.sleep(0.05)
                continue
            answered.add(pid)
            if self.kind != "gunicorn" or not pid or len(answered) >= workers:
                return True
            time.sleep(0.01)
        return False

    def stop(self) -> None:
        """End the whole process group: TERM, then KILL after a grace period."""
        for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(grace)
                break
            except subprocess.TimeoutExpired:
                continue
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # workers a dead master left behind
        except ProcessLookupError:
            pass


@contextlib.contextmanager
def serving(
    kind: str,
    folder: Path,
    app: str = "wsgi_server:app",
    *,
    cwd: Path = SERVERS,
    secret: Optional[str] = SECRET,
    workers: int = 4,
    threads: int = 8,
) -> Iterator[Served]:
    """``kind`` (gunicorn or waitress) serving ``app`` on a free port, ready; stopped on exit."""
    need(kind)
    env = {"WSGI_TEST_PAGE_SIZE": str(PAGE_SIZE)}
    if secret is not None:
        env["SYNCMCP_SERVER_SECRET"] = secret
    deadline = time.monotonic() + 30.0
    for attempt in range(3):  # a free port another process took meanwhile: try another
        served = Served(kind, app, folder / f"{kind}-{attempt}.log", cwd=cwd, env=env, workers=workers, threads=threads)
        try:
            ready = served.wait_ready(workers, deadline)
        except BaseException:
            served.stop()
            raise
        if ready:
            break
        served.stop()
        if "already in use" not in served.output():
            pytest.fail(f"{kind} did not start within 30 s:\n{served.output()}")
    else:
        pytest.fail(f"{kind} found no free port:\n{served.output()}")
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    # Each 2026-07-28 client holds a thread with its subscriptions/listen stream: with 8 threads,
    # 8 of them on one worker would leave it none for requests, and the requests it accepted
    # would wait.
    with serving("gunicorn", tmp_path_factory.mktemp("gunicorn"), threads=16) as served:
        yield served


@pytest.fixture(scope="module")
def waitress(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving("waitress", tmp_path_factory.mktemp("waitress")) as served:
        yield served


# ----------------------------------------------------------------------------- raw HTTP


def get(port: int, path: str) -> Tuple[int, int, bytes]:
    """``(status, answering pid or 0, body)`` of a GET on a connection of its own."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, int(response.getheader("X-Worker-Pid") or 0), response.read()
    finally:
        connection.close()


def modern_request(request_id: int, method: str, params: Dict[str, Any], name: Optional[str] = None) -> Dict[str, Any]:
    """The body and headers of a 2026-07-28 request (``HTTPConnection.request`` arguments)."""
    body = json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": {**params, "_meta": ENVELOPE}})
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": MODERN,
        "Mcp-Method": method,
    }
    if name is not None:
        headers["Mcp-Name"] = name
    return {"body": body, "headers": headers}


def post_modern(port: int, method: str, params: Dict[str, Any], name: Optional[str] = None) -> Tuple[int, Dict[str, Any]]:
    """A 2026-07-28 request on a connection of its own: ``(answering pid, JSON-RPC response)``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", "/mcp", **modern_request(1, method, params, name))
        response = connection.getresponse()
        data = response.read()
        assert response.status == 200, (response.status, data)
        assert response.getheader("Content-Type", "").startswith("application/json"), data
        return int(response.getheader("X-Worker-Pid") or 0), json.loads(data)
    finally:
        connection.close()


def answered_elsewhere(
    port: int, pid: int, method: str, params: Dict[str, Any], name: Optional[str] = None
) -> Tuple[int, Dict[str, Any]]:
    """Repeat a request until a worker other than ``pid`` answers it (each answer must succeed)."""
    for _ in range(60):
        other, response = post_modern(port, method, params, name)
        assert "result" in response, response
        if other != pid:
            return other, response
    pytest.fail(f"60 requests in a row were all answered by worker {pid}")
    raise AssertionError  # unreachable


# ----------------------------------------------------------------------------- many clients


def hammer(url: str, era: str) -> Set[int]:
    """THREADS clients, each with its own session, make CALLS checked calls; the pids that answered."""
    pids: Set[int] = set()
    problems: List[str] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def client(number: int) -> None:
        try:
            with syncmcp.connect(url, protocol_era=era, timeout=30, request_timeout=30) as session:
                assert session.era == era
                assert [tool.name for tool in session.list_tools()] == TOOL_NAMES  # pages from any worker
                start.wait(30)
                seen = set()
                for call in range(CALLS):
                    a, b = number * 1000 + call, call * 7 - number
                    result = session.call_tool("add", {"a": a, "b": b})
                    assert not result.is_error and result.text == str(a + b), (a, b, result)
                    if call % 10 == 0:
                        seen.add(int(session.call_tool("pid").text))
            with lock:
                pids.update(seen)
        except BaseException as exc:  # reported by the main thread
            with lock:
                problems.append(f"client {number}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=client, args=(number,), name=f"client-{number}") for number in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert not any(thread.is_alive() for thread in threads), "clients still running after 90 s"
    assert not problems, "\n".join(problems[:5])
    return pids


@pytest.mark.parametrize("era", ["modern", "legacy"])
def test_gunicorn_four_workers_answer_every_call(gunicorn: Served, era: str) -> None:
    pids = hammer(gunicorn.url, era)
    assert len(pids) >= 2, f"one worker answered everything: {pids}"


@pytest.mark.parametrize("era", ["modern", "legacy"])
def test_waitress_answers_every_call(waitress: Served, era: str) -> None:
    assert hammer(waitress.url, era) == {waitress.process.pid}


def test_syncmcp_client_answers_questions_across_workers(gunicorn: Served) -> None:
    """In the 2026-07-28 era an elicitation ends the request; the retry may go to any worker."""
    asked: List[str] = []

    def confirm(ctx: Any, params: Dict[str, Any]) -> Dict[str, Any]:
        asked.append(params["message"])
        return {"action": "accept", "content": {"ok": True}}

    pairs = set()
    with syncmcp.connect(gunicorn.url, protocol_era="modern", elicitation_handler=confirm, timeout=30) as session:
        for number in range(20):
            text = session.call_tool("confirm", {"what": f"order {number}"}).text
            asker = asked[-1].rsplit("worker ", 1)[1].rstrip(")")
            assert asked[-1].startswith(f"Confirm order {number}?")
            assert text.startswith(f"order {number}: confirmed (answered by worker "), text
            pairs.add((asker, text.rsplit("worker ", 1)[1].rstrip(")")))
    assert any(asker != answerer for asker, answerer in pairs), f"every retry went back to the asking worker: {pairs}"


# ----------------------------------------------------------------------------- one secret, many workers


@pytest.fixture
def stranger(tmp_path: Path) -> Iterator[Served]:
    """The same application in a process with another secret."""
    with serving("waitress", tmp_path, secret="another-secret") as served:
        yield served


def test_cursors_and_request_state_cross_workers_with_a_shared_secret(gunicorn: Served, stranger: Served) -> None:
    port = gunicorn.port
    # Pagination: each page's cursor is taken by another worker than the one that made it.
    maker, first = post_modern(port, "tools/list", {})
    names = [tool["name"] for tool in first["result"]["tools"]]
    cursor = first_cursor = first["result"]["nextCursor"]
    answering = {maker}
    while cursor is not None:
        maker, page = answered_elsewhere(port, maker, "tools/list", {"cursor": cursor})
        answering.add(maker)
        names += [tool["name"] for tool in page["result"]["tools"]]
        cursor = page["result"].get("nextCursor")
    assert names == TOOL_NAMES
    assert len(answering) >= 2

    # requestState: one worker asks, another takes the answer.
    call = {"name": "confirm", "arguments": {"what": "the order"}}
    asker, question = post_modern(port, "tools/call", call, name="confirm")
    result = question["result"]
    assert result["resultType"] == "input_required", result
    ((key, request),) = result["inputRequests"].items()
    assert request["method"] == "elicitation/create"
    assert request["params"]["message"] == f"Confirm the order? (asked by worker {asker})"
    retry = {
        **call,
        "requestState": result["requestState"],
        "inputResponses": {key: {"action": "accept", "content": {"ok": True}}},
    }
    answerer, done = answered_elsewhere(port, asker, "tools/call", retry, name="confirm")
    assert done["result"]["content"][0]["text"] == f"the order: confirmed (answered by worker {answerer})"

    # A process with another secret refuses both.
    _, refused = post_modern(stranger.port, "tools/list", {"cursor": first_cursor})
    assert refused["error"]["code"] == -32602 and "cursor" in refused["error"]["message"].lower(), refused
    _, refused = post_modern(stranger.port, "tools/call", retry, name="confirm")
    assert refused["error"]["code"] == -32602 and "requestState" in refused["error"]["message"], refused


# ----------------------------------------------------------------------------- listen streams


def test_every_client_of_one_process_gets_its_listen_stream(waitress: Served) -> None:
    """Twelve 2026-07-28 clients of one process each open ``subscriptions/listen``; each is a client
    of its own (one stream each, well under the per-connection limit), so each is acknowledged."""
    connections = []
    try:
        first_events = []
        for number in range(12):
            connection = http.client.HTTPConnection("127.0.0.1", waitress.port, timeout=10)
            connections.append(connection)
            connection.request(
                "POST", "/mcp", **modern_request(number, "subscriptions/listen", {"notifications": {"toolsListChanged": True}})
            )
            response = connection.getresponse()
            assert response.status == 200 and response.getheader("Content-Type") == "text/event-stream"
            while not (line := response.readline()).startswith(b"data:"):
                assert line, "the stream ended before its first event"
            first_events.append(json.loads(line[5:]))
        refused = [event for event in first_events if "error" in event]
        assert not refused, refused
        assert all(event["method"] == "notifications/subscriptions/acknowledged" for event in first_events)
    finally:
        for connection in connections:
            connection.close()
