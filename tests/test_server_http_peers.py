"""The official ``mcp`` SDK's client (a real third-party peer) drives a syncmcp server over Streamable HTTP.

``tests/servers/framework_server.py --http 0`` serves the framework fixture with
``Server.run_http`` on a free port (printed as its first line of stdout); each scenario runs
``tests/peers/drive_server.py --url …`` with the peers' Python, which prints one JSON object
recording what the client saw (and every HTTP exchange); the assertions are here.

- legacy era with sessions (``Mcp-Session-Id``): everything, questions to the client over the
  request's SSE stream, change notifications on the GET stream, ``notifications/cancelled``,
  and the session is gone after the client's DELETE; once with JSON answers where nothing
  streams, once with every answer an SSE stream (``json_response=False``);
- legacy era on a ``stateless=True`` endpoint: no session, questions to the client fail clearly;
- 2026-07-28 era (``mode="auto"`` finds it with ``server/discover``), on both endpoints:
  ``InputRequiredResult`` rounds, ``subscriptions/listen``, cancellation by closing the stream;
- a legacy SSE stream cut by the network (a relay drops it): the client resumes it with a GET
  and ``Last-Event-ID`` and gets the answer;
- the SDK's other client API, ``ClientSessionGroup``: a smoke test.

Every server is stopped with SIGTERM and must exit cleanly (status 0).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from .conftest import ROOT, SERVERS, peers_python, require, wait_until
from .test_server_peers import assert_fixture_catalog

pytestmark = pytest.mark.real

DRIVER = Path(__file__).resolve().parent / "peers" / "drive_server.py"
SERVER = SERVERS / "framework_server.py"
#: Seconds the server may take to print its port, and to exit after SIGTERM.
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
#: A short keep-alive: a 2026-07-28 server learns that a client closed a quiet stream (its
#: cancellation) when a write fails, so the cancellation scenario takes a few of these.
KEEPALIVE = "0.2"

_results: Dict[Tuple[str, ...], Dict[str, Any]] = {}


@contextlib.contextmanager
def http_server(*flags: str) -> Iterator[str]:
    """Serve the framework fixture over HTTP; yields ``http://127.0.0.1:PORT``. Stops it with SIGTERM."""
    workdir = Path(tempfile.mkdtemp(prefix="syncmcp-http-peers-"))
    out, err = workdir / "stdout", workdir / "stderr"
    command = [sys.executable, "-u", str(SERVER), "--http", "0", "--page-size", "3", "--keepalive", KEEPALIVE, *flags]
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, cwd=workdir)
    failed = False
    try:
        started = wait_until(lambda: b"\n" in out.read_bytes() or process.poll() is not None, timeout=START_TIMEOUT)
        first = out.read_bytes().split(b"\n", 1)[0]
        assert started and first.strip().isdigit(), f"the server did not start:\n{err.read_text()[-4000:]}"
        yield f"http://127.0.0.1:{int(first)}"
    except BaseException:
        failed = True
        raise
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            if not failed:
                pytest.fail(f"the server did not stop within {STOP_TIMEOUT} s of SIGTERM")
    errors = err.read_text(errors="replace")
    shutil.rmtree(workdir, ignore_errors=True)
    if not failed:
        assert process.returncode == 0, f"the server exited with {process.returncode}:\n{errors[-4000:]}"


def status(base: str) -> Dict[str, Any]:
    """The test server's ``GET /status`` (``{"connections": N}``: its open legacy sessions)."""
    with urllib.request.urlopen(f"{base}/status", timeout=10) as response:
        return json.loads(response.read())


def drive(mode: str, base: str, *options: str) -> Dict[str, Any]:
    python = peers_python()
    done = subprocess.run(
        [python, str(DRIVER), "--mode", mode, "--url", f"{base}/mcp", "--status-url", f"{base}/status", *options],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"the official client failed:\n{done.stderr[-4000:]}"
    return json.loads(done.stdout)


def scenario(mode: str, *server_flags: str) -> Dict[str, Any]:
    """The fixture scenario against a fresh server (its state changes), once per configuration.

    The result also holds ``status_after``: the server's ``/status`` once the client is gone.
    """
    key = (mode, *server_flags)
    if key not in _results:
        driver_flags = ["--stateless"] if "--stateless" in server_flags else []
        with http_server(*server_flags) as base:
            out = drive(mode, base, "--scenario", "fixture", *driver_flags)
            out["status_after"] = status(base)
        _results[key] = out
    return _results[key]


def texts(result: Dict[str, Any]) -> str:
    return "\n".join(block["text"] for block in result["content"] if block["type"] == "text")


def exchanges(out: Dict[str, Any]) -> Counter:
    """How many HTTP exchanges of each (method, status, content type) the client had."""
    return Counter((e["method"], e["status"], e["type"]) for e in out["http"])


def check_served(out: Dict[str, Any], *, modern: bool) -> None:
    """What every configuration serves alike: tools, progress, logs, resources, prompts, completion."""
    assert out["server_info"] == {"name": "framework-fixture", "version": "2.0.0"}
    assert out["instructions"] == "A fixture built with syncmcp.server."
    assert set(out["capabilities"]) >= {"tools", "resources", "prompts", "completions", "logging"}
    tools = [tool["name"] for tool in out["tools"]["items"]]
    assert tools[:3] == ["add", "weather", "slow"] and len(tools) == 13
    assert out["tools"]["pages"] == 5  # page size 3
    weather_tool = next(tool for tool in out["tools"]["items"] if tool["name"] == "weather")
    assert weather_tool["outputSchema"]["required"] == ["city", "temperature", "conditions"]
    assert texts(out["add"]) == "5" and out["add"]["isError"] is False
    assert out["add_bad"]["isError"] is True and "'b' is a required property" in texts(out["add_bad"])
    assert out["unknown_tool"] == {"code": -32602, "message": "Unknown tool: 'no_such_tool'"}
    assert out["weather"]["structuredContent"] == {"city": "Paris", "temperature": 21.5, "conditions": "sunny"}
    assert json.loads(texts(out["weather"])) == out["weather"]["structuredContent"]
    assert out["boom"]["isError"] is True and texts(out["boom"]) == "kaboom"
    assert [block["type"] for block in out["pixel"]["content"]] == ["text", "image"]
    assert out["slow"] == "done after 3 steps"
    assert out["progress"] == [[1.0, 3.0, "step 1"], [2.0, 3.0, "step 2"], [3.0, 3.0, "step 3"]]
    assert [log["data"] for log in out["logs"]] == ["step 1 of 3", "step 2 of 3", "step 3 of 3"]
    assert out["noisy"] == "echo: x" and out["after_noisy"] == "2"
    assert out["cancel_scope_cancelled"] is True
    assert_fixture_catalog(out, modern)
    assert out["tools_after"][-1] == "late_tool" and out["late_tool"] == "I am late_tool"


def check_questions_answered(out: Dict[str, Any]) -> None:
    """Elicitation, sampling and roots from handlers reached the client and came back."""
    assert texts(out["ask_name"]) == "Hello, Ada!"
    assert [e["message"] for e in out["elicitations"]] == ["What is your name?"]
    assert out["summarize"] == "peer-model: short summary"
    assert out["samplings"][0]["maxTokens"] == 50
    assert json.loads(texts(out["client_roots"])) == ["file:///peer/root"]


# ----------------------------------------------------------------------------- legacy, sessions


@pytest.mark.parametrize("answers", ["json", "sse"])
def test_the_official_client_over_http_with_sessions(answers: str) -> None:
    out = scenario("legacy", *(["--sse"] if answers == "sse" else []))
    assert out["protocol_version"] == "2025-11-25"
    check_served(out, modern=False)
    check_questions_answered(out)  # each over the SSE stream of the tools/call that asked
    assert out["set_level"] == {"result": {}}
    assert len(json.loads(out["cancellations"])) == 1  # the handler saw notifications/cancelled
    assert out["subscribe"] == {"result": {}} and out["unsubscribe"] == {"result": {}}
    assert {"notifications/resources/updated", "notifications/tools/list_changed", "notifications/progress"} <= set(
        out["notifications"]
    )
    assert out["updated_after_unsubscribe"] is False

    # One session: initialize opened it, every later message named it, a GET stream carried
    # what belongs to no request, and the client's DELETE ended it.
    assert len(out["session_ids"]) == 1
    session = out["session_ids"][0]
    http = out["http"]
    assert http[0]["method"] == "POST" and http[0]["sent_session"] is None
    assert all(e["sent_session"] == session and e["sent_version"] == "2025-11-25" for e in http[1:])
    seen = exchanges(out)
    assert seen[("GET", 200, "text/event-stream")] == 1
    assert http[-1] == {
        "method": "DELETE",
        "status": 200,
        "type": "",
        "sent_session": session,
        "sent_version": "2025-11-25",
        "last_event_id": None,
    }
    assert seen[("POST", 202, "")] >= 2  # notifications/initialized, notifications/cancelled
    if answers == "sse":
        assert seen[("POST", 200, "application/json")] == 0  # json_response=False: every answer streams
    else:
        assert seen[("POST", 200, "text/event-stream")] >= 4  # slow, ask_name, summarize, client_roots, wait…
        assert seen[("POST", 200, "application/json")] > seen[("POST", 200, "text/event-stream")]

    # The session is gone after the client closed: the server forgot it, and says so (404).
    assert out["status_while_connected"] == {"connections": 1}
    assert out["after_close"]["status"] == 404
    assert out["after_close"]["body"]["error"]["message"] == "Session not found"
    assert out["status_after"] == {"connections": 0}


class CuttingProxy:
    """A TCP relay in front of the server that cuts the first connection whose answer carries ``marker``
    (after relaying that chunk): a broken SSE stream, as a client sees one when a network drops."""

    def __init__(self, upstream_port: int, marker: bytes) -> None:
        self.upstream_port = upstream_port
        self.marker = marker
        self.cuts = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._threads: List[threading.Thread] = []
        self._sockets: List[socket.socket] = []
        self._lock = threading.Lock()
        self._spawn(self._accept)

    def _spawn(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name="test-cutting-proxy", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            with self._lock:
                self._sockets += [client, upstream]
            self._spawn(self._pipe, client, upstream, False)
            self._spawn(self._pipe, upstream, client, True)

    def _pipe(self, source: socket.socket, target: socket.socket, answers: bool) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                target.sendall(data)
                if answers and self.marker in data:
                    with self._lock:
                        cut, self.cuts = self.cuts == 0, self.cuts + 1
                    if cut:
                        break
        except OSError:
            pass
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(5)


def test_the_official_client_resumes_a_broken_stream_with_last_event_id() -> None:
    with http_server() as base:
        proxy = CuttingProxy(int(base.rsplit(":", 1)[1]), b'"parked"')
        try:
            out = drive("legacy", f"http://127.0.0.1:{proxy.port}", "--scenario", "resume")
        finally:
            proxy.close()
        assert status(base) == {"connections": 0}
    assert proxy.cuts >= 1
    # The stream broke after the progress event; a GET with Last-Event-ID brought the answer.
    assert out["progress"] == [[0.5, 1.0, "parked"]]
    assert out["result"] == "not cancelled"  # a disconnect is no cancellation in the legacy era
    resumed = [e for e in out["http"] if e["method"] == "GET" and e["last_event_id"]]
    assert len(resumed) == 1 and resumed[0]["status"] == 200 and resumed[0]["type"] == "text/event-stream"
    assert out["after"] == "3"


# ----------------------------------------------------------------------------- legacy, stateless


def test_the_official_client_over_a_stateless_http_endpoint() -> None:
    out = scenario("legacy", "--stateless")
    assert out["protocol_version"] == "2025-11-25"
    check_served(out, modern=False)  # progress and logs travel on each request's own stream
    # No session: no Mcp-Session-Id, no GET stream, nothing to DELETE, no server connection.
    assert out["session_ids"] == [] and "after_close" not in out
    assert {e["method"] for e in out["http"]} == {"POST"}
    assert all(e["sent_session"] is None for e in out["http"])
    assert out["status_while_connected"] == {"connections": 0}
    assert out["status_after"] == {"connections": 0}
    # A handler cannot ask the client anything: the tool fails, saying why.
    for name in ("ask_name", "client_roots"):
        assert out[name]["isError"] is True
        assert "this HTTP endpoint is stateless" in texts(out[name])
    assert "this HTTP endpoint is stateless" in out["summarize"]
    assert out["elicitations"] == [] and out["samplings"] == []
    # No session ties notifications/cancelled to its request: the handler ran its course.
    assert out["cancellations"] == "[]"
    assert "notifications/resources/updated" not in out["notifications"]


def test_a_stateless_endpoint_advertises_only_what_it_serves() -> None:
    out = scenario("legacy", "--stateless")
    capabilities = out["capabilities"]
    if capabilities.get("resources", {}).get("subscribe"):
        assert "result" in out["subscribe"], out["subscribe"]
    if "logging" in capabilities:
        assert "result" in out["set_level"], out["set_level"]


# ----------------------------------------------------------------------------- 2026-07-28


@pytest.mark.parametrize("endpoint", ["sessions", "stateless"])
def test_the_official_client_over_http_in_the_2026_era(endpoint: str) -> None:
    out = scenario("auto", *(["--stateless"] if endpoint == "stateless" else []))
    assert out["protocol_version"] == "2026-07-28"
    check_served(out, modern=True)
    check_questions_answered(out)  # as InputRequiredResult rounds
    assert out["add"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "framework-fixture"
    assert len(json.loads(out["cancellations"])) == 1  # closing the stream cancelled the handler
    assert out["listen_honored"] == {"toolsListChanged": True, "resourceSubscriptions": ["fixture://items/apple"]}
    assert out["events"] == ["ResourceUpdated", "ToolsListChanged"]
    # Every request stands alone: POSTs only, each naming the version, no session anywhere.
    assert out["session_ids"] == [] and "after_close" not in out
    assert {e["method"] for e in out["http"]} == {"POST"}
    assert all(e["sent_session"] is None and e["sent_version"] == "2026-07-28" for e in out["http"])
    seen = exchanges(out)
    assert seen[("POST", 200, "text/event-stream")] >= 3  # slow (progress), wait_for_cancel, listen
    assert seen[("POST", 200, "application/json")] > 30
    assert out["status_while_connected"] == {"connections": 0}
    assert out["status_after"] == {"connections": 0}


# ----------------------------------------------------------------------------- ClientSessionGroup


def test_the_official_session_group_over_http() -> None:
    with http_server("--page-size", "100") as base:  # the group reads only the first page of each list
        out = drive("legacy", base, "--scenario", "group")
        after = status(base)
    assert "add" in out["tools"] and "weather" in out["tools"] and len(out["tools"]) == 13
    assert "hello" in out["resources"] and out["prompts"] == ["conversation", "greet"]
    assert texts(out["add"]) == "42"
    assert out["weather"]["structuredContent"] == {"city": "Oslo", "temperature": -3.0, "conditions": "snow"}
    assert out["status_while_connected"] == {"connections": 1}
    assert out["status_after_disconnect"] == {"connections": 0}  # the group's DELETE ended the session
    assert after == {"connections": 0}


FASTMCP_DRIVER = Path(__file__).resolve().parent / "peers" / "drive_fastmcp.py"
FASTMCP_PYTHON = Path(os.environ.get("SYNCMCP_FASTMCP_PYTHON", ROOT / ".peers" / "fastmcp" / "bin" / "python"))


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_the_fastmcp_client_over_http(mode: str) -> None:
    """The standalone FastMCP client (``fastmcp`` 4.x) against the same server, in both eras."""
    with http_server() as base:
        done = subprocess.run(
            [str(require(FASTMCP_PYTHON, "the FastMCP client (tools/run-tests installs it)")), str(FASTMCP_DRIVER), "--mode", mode, f"{base}/mcp"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert done.returncode == 0, f"the FastMCP client failed:\n{done.stderr[-4000:]}"
    out = json.loads(done.stdout)
    assert "add" in out["tools"] and "weather" in out["tools"]
    assert out["add"] == "42"
    assert out["weather"] == {"city": "Oslo", "temperature": -3.0, "conditions": "snow"}
    assert (out["slow"], out["progress"]) == ("done after 3 steps", [1.0, 2.0, 3.0])
    assert out["logs"] == ["step 1 of 3", "step 2 of 3", "step 3 of 3"]
    assert out["ask_name"] == "Hello, Fast!"
    assert out["summarize"].endswith(": short")
    assert out["boom"] == {"is_error": True, "text": "kaboom"}
    assert out["hello"] == "hello" and out["prompts"] == ["conversation", "greet"]
