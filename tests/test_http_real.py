"""The HTTP transport against real servers nobody here wrote, each in its own process on loopback.

- ``@modelcontextprotocol/server-everything`` (npm, TypeScript SDK) in ``streamableHttp`` mode
  (``/mcp``: a session per client, every answer an SSE stream, a standalone ``GET`` stream) and in
  ``sse`` mode (``/sse``: the 2024-11-05 HTTP+SSE transport);
- the FastMCP fixture (``tests/servers/fixture_server.py``, the official ``mcp`` package, run by
  the peers' Python) over Streamable HTTP with SSE answers, JSON answers, and stateless; it
  speaks both protocol eras.

Each server listens on a free loopback port, its output in a log file; every process is killed
and reaped at the end of its fixture (its whole process group).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

import syncmcp
from syncmcp import ClientSession, RemoteError

from .conftest import SERVERS, npm_server, peers_python, syncmcp_threads, wait_until

pytestmark = pytest.mark.real

#: Seconds a server has to start listening (Python servers need ~1 s just to import).
START_TIMEOUT = 20.0
#: Seconds a notification that the server sends at once may take to arrive.
NOTIFICATION_TIMEOUT = 10.0


def free_port() -> int:
    """A loopback port nobody listens on right now (bind, read, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def accepting(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


class ServerProcess:
    """An HTTP MCP server in its own process group on ``port``; stdout and stderr go to ``log``."""

    def __init__(self, argv: List[str], port: int, log: Path, env: Optional[Dict[str, str]] = None) -> None:
        self.argv = argv
        self.port = port
        self.log = log
        self.env = {**os.environ, **(env or {})}
        self.process: Optional[subprocess.Popen] = None  # type: ignore[type-arg]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        with open(self.log, "ab") as output:
            self.process = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
            )
        process = self.process
        if not wait_until(lambda: process.poll() is not None or accepting(self.port), timeout=START_TIMEOUT, interval=0.05):
            self.stop()
            pytest.fail(f"{self.argv[1]} did not listen on port {self.port} within {START_TIMEOUT} s:\n{self.output()}")
        if process.poll() is not None:
            self.stop()
            pytest.fail(f"{self.argv[1]} exited with {process.returncode} before listening:\n{self.output()}")

    def stop(self) -> None:
        """Kill the whole process group and reap the server (it keeps no state worth a clean exit)."""
        process, self.process = self.process, None
        if process is None:
            return
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            pass
        process.wait(10)

    def restart(self) -> None:
        """A new server process on the same port: every session the old one held is gone."""
        self.stop()
        self.start()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def everything_server(folder: Path, mode: str) -> ServerProcess:
    argv = [*npm_server("server-everything"), mode]
    port = free_port()
    server = ServerProcess(argv, port, folder / f"everything-{mode}-{port}.log", {"PORT": str(port)})
    server.start()
    return server


def fastmcp_server(folder: Path, *flags: str) -> ServerProcess:
    port = free_port()
    argv = [peers_python(), str(SERVERS / "fixture_server.py"), "http", str(port), *flags]
    server = ServerProcess(argv, port, folder / f"fastmcp{''.join(flags)}-{port}.log")
    server.start()
    return server


@pytest.fixture(scope="module")
def everything_http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = everything_server(tmp_path_factory.mktemp("everything-http"), "streamableHttp")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def everything_sse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = everything_server(tmp_path_factory.mktemp("everything-sse"), "sse")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fastmcp_sse_answers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = fastmcp_server(tmp_path_factory.mktemp("fastmcp"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fastmcp_json_answers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = fastmcp_server(tmp_path_factory.mktemp("fastmcp-json"), "--json")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fastmcp_stateless(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = fastmcp_server(tmp_path_factory.mktemp("fastmcp-stateless"), "--stateless")
    yield server
    server.stop()


def open_http(url: str, **options: Any) -> ClientSession:
    options.setdefault("timeout", 20)
    options.setdefault("request_timeout", 30)
    return syncmcp.connect_http(url, **options)


def sampler(ctx: syncmcp.RequestContext, params: Dict[str, Any]) -> Dict[str, Any]:
    prompt = params["messages"][0]["content"]["text"]
    return {
        "role": "assistant",
        "content": {"type": "text", "text": f"echo of {prompt!r}"},
        "model": "test-model",
        "stopReason": "endTurn",
    }


def fill_form(ctx: syncmcp.RequestContext, params: Dict[str, Any]) -> Dict[str, Any]:
    """Answer server-everything's form: what has no default (syncmcp fills in the defaults)."""
    schema = params["requestedSchema"]
    content: Dict[str, Any] = {"name": "Ada Lovelace", "check": True, "email": "ada@example.com"}
    for key, spec in schema["properties"].items():
        if key not in content and "default" not in spec and key in schema.get("required", []):
            content[key] = spec["enum"][0] if "enum" in spec else "x"
    return {"action": "accept", "content": content}


def elicit_name(ctx: syncmcp.RequestContext, params: Dict[str, Any]) -> Dict[str, Any]:
    return {"action": "accept", "content": {"name": "Grace"}}


def new_lines(server: ServerProcess, pattern: str, before: str) -> List[str]:
    """Matches of ``pattern`` in what the server printed after ``before`` (its earlier output)."""
    return re.findall(pattern, server.output()[len(before) :])


# ----------------------------------------------------------------------------- server-everything, Streamable HTTP


def test_everything_http_handshake_era_and_plain_tools(everything_http: ServerProcess) -> None:
    with syncmcp.connect(everything_http.url("/mcp"), timeout=20) as session:
        assert isinstance(session.transport, syncmcp.HttpTransport)
        assert session.era == "legacy"
        assert session.protocol_version == "2025-11-25"
        assert session.server_info.name == "mcp-servers/everything"
        assert session.transport.session_id_present
        assert not session.transport.uses_sse
        names = {tool.name for tool in session.list_tools()}
        assert len(names) == 13  # no client capabilities: no roots, sampling or elicitation tools
        assert session.call_tool("echo", {"message": "hi"}).text == "Echo: hi"
        assert session.call_tool("get-sum", {"a": 2, "b": 3.5}).text == "The sum of 2 and 3.5 is 5.5."
        assert set(session.call_tool("get-structured-content", {"location": "Chicago"}).structured_content) == {
            "temperature",
            "conditions",
            "humidity",
        }
        assert session.read_resource(session.list_resources()[0].uri).text
        assert "Paris" in session.get_prompt("args-prompt", {"city": "Paris"}).text


def test_everything_http_client_features_register_the_conditional_tools(everything_http: ServerProcess) -> None:
    with open_http(
        everything_http.url("/mcp"),
        roots=["/srv/work"],
        sampling_handler=sampler,
        elicitation_handler=fill_form,
        elicitation_modes=["form", "url"],
    ) as session:
        # The server registers its conditional tools when `initialized` arrives; its list_changed
        # burst has no stream to go to yet (the GET stream opens after), so poll the listing.
        assert wait_until(lambda: len(session.list_tools(refresh=True)) == 17, timeout=NOTIFICATION_TIMEOUT), [
            tool.name for tool in session.list_tools()
        ]
        names = {tool.name for tool in session.list_tools()}
        assert {"get-roots-list", "trigger-sampling-request", "trigger-elicitation-request", "trigger-url-elicitation"} <= names


def test_everything_http_progress_arrives_in_order(everything_http: ServerProcess) -> None:
    seen: List[Tuple[float, Optional[float]]] = []
    with open_http(everything_http.url("/mcp")) as session:
        result = session.call_tool(
            "trigger-long-running-operation", {"duration": 1, "steps": 5}, on_progress=lambda p, t, m: seen.append((p, t))
        )
    assert "completed" in result.text
    assert seen == [(i, 5) for i in range(1, 6)]


def test_everything_http_elicitation_sampling_and_roots(everything_http: ServerProcess, tmp_path: Path) -> None:
    asked: List[str] = []

    def elicitation(ctx: syncmcp.RequestContext, params: Dict[str, Any]) -> Dict[str, Any]:
        asked.append("elicitation")
        return fill_form(ctx, params)

    def sampling(ctx: syncmcp.RequestContext, params: Dict[str, Any]) -> Dict[str, Any]:
        asked.append("sampling")
        return sampler(ctx, params)

    with open_http(
        everything_http.url("/mcp"), roots=[tmp_path], sampling_handler=sampling, elicitation_handler=elicitation
    ) as session:
        # Each server request arrives on the stream of the tools/call that caused it.
        elicited = session.call_tool("trigger-elicitation-request", {}).text
        sampled = session.call_tool("trigger-sampling-request", {"prompt": "the sea", "maxTokens": 12}).text
        roots = session.call_tool("get-roots-list").text
    assert "Ada Lovelace" in elicited
    assert "It was a dark and stormy night." in elicited  # a default syncmcp filled in
    assert "echo of " in sampled and "the sea" in sampled and "test-model" in sampled
    assert tmp_path.as_uri() in roots
    assert asked == ["elicitation", "sampling"]


def test_everything_http_logging_and_resource_updates_on_the_get_stream(everything_http: ServerProcess) -> None:
    logs: List[Tuple[str, Any]] = []
    updates: List[str] = []
    got_log, got_update = threading.Event(), threading.Event()

    def on_log(level: str, source: str, data: Any) -> None:
        logs.append((level, data))
        if "-level message" in str(data) or "level-message" in str(data):
            got_log.set()

    def on_updated(uri: str) -> None:
        updates.append(uri)
        got_update.set()

    with open_http(everything_http.url("/mcp"), on_log=on_log) as session:
        session.set_logging_level("debug")
        session.call_tool("toggle-simulated-logging")  # sends one message at once, then every 5 s
        try:
            assert got_log.wait(NOTIFICATION_TIMEOUT), logs
        finally:
            session.call_tool("toggle-simulated-logging")
        uri = session.list_resources()[0].uri
        session.subscribe_resource(uri, on_updated)
        session.call_tool("toggle-subscriber-updates")  # one update at once, then every 5 s
        try:
            assert got_update.wait(NOTIFICATION_TIMEOUT)
        finally:
            session.call_tool("toggle-subscriber-updates")
        session.unsubscribe_resource(uri)
    assert logs[-1][0] in syncmcp._session.LOGGING_LEVELS
    assert updates[0] == uri


def test_everything_http_many_threads_share_one_session(everything_http: ServerProcess) -> None:
    threads_count, calls = 16, 100
    mismatches: List[Tuple[str, str]] = []
    errors: List[BaseException] = []
    done = [0]
    lock = threading.Lock()

    with open_http(everything_http.url("/mcp")) as session:

        def work(worker: int) -> None:
            try:
                for call in range(calls):
                    message = f"{worker}-{call}"
                    text = session.call_tool("echo", {"message": message}).text
                    with lock:
                        done[0] += 1
                        if text != f"Echo: {message}":
                            mismatches.append((message, text))
            except BaseException as exc:  # reported below, with the other threads' results
                errors.append(exc)

        workers = [threading.Thread(target=work, args=(n,), name=f"caller-{n}") for n in range(threads_count)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        assert not any(worker.is_alive() for worker in workers)
    assert errors == []
    assert mismatches == []
    assert done[0] == threads_count * calls


def test_everything_http_close_deletes_the_session_and_leaves_nothing(everything_http: ServerProcess) -> None:
    before = everything_http.output()
    session = open_http(everything_http.url("/mcp"))
    assert session.call_tool("echo", {"message": "bye"}).text == "Echo: bye"
    assert wait_until(lambda: new_lines(everything_http, r"Session initialized with ID: (\S+)", before), timeout=5)
    (session_id,) = new_lines(everything_http, r"Session initialized with ID: (\S+)", before)
    session.close()
    assert session.closed
    assert wait_until(
        lambda: f"Received session termination request for session {session_id}" in everything_http.output(), timeout=5
    )
    assert wait_until(lambda: not syncmcp_threads(), timeout=5), [thread.name for thread in syncmcp_threads()]


def test_everything_http_session_lost_to_a_restart_is_renewed(tmp_path: Path) -> None:
    server = everything_server(tmp_path, "streamableHttp")
    logs: List[Any] = []
    got_log = threading.Event()

    def on_log(level: str, source: str, data: Any) -> None:
        logs.append(data)
        if "-level message" in str(data) or "level-message" in str(data):
            got_log.set()

    try:
        with open_http(server.url("/mcp"), on_log=on_log) as session:
            assert session.call_tool("echo", {"message": "first"}).text == "Echo: first"
            server.restart()
            before = server.output()
            # The old session id gets 400 "No valid session ID provided": a new session, then the call.
            assert session.call_tool("echo", {"message": "second"}).text == "Echo: second"
            assert len(new_lines(server, r"Session initialized with ID: (\S+)", before)) == 1
            # The new session's standalone GET stream carries the server's own messages again.
            session.call_tool("toggle-simulated-logging")
            try:
                assert got_log.wait(NOTIFICATION_TIMEOUT), logs
            finally:
                session.call_tool("toggle-simulated-logging")
    finally:
        server.stop()


def test_everything_http_timeout_cancels_and_the_session_goes_on(everything_http: ServerProcess) -> None:
    with open_http(everything_http.url("/mcp")) as session:
        started = time.monotonic()
        with pytest.raises(syncmcp.RequestTimeout):
            session.call_tool("trigger-long-running-operation", {"duration": 5, "steps": 5}, timeout=0.3)
        assert time.monotonic() - started < 3
        assert session.call_tool("echo", {"message": "after"}).text == "Echo: after"


# ----------------------------------------------------------------------------- server-everything, HTTP+SSE


@pytest.mark.parametrize("mode", ["auto", "sse"])
def test_everything_over_http_sse(everything_sse: ServerProcess, mode: str) -> None:
    seen: List[float] = []
    before = everything_sse.output()
    with open_http(everything_sse.url("/sse"), mode=mode, sampling_handler=sampler) as session:
        assert session.transport.uses_sse
        assert session.era == "legacy"
        assert session.server_info.name == "mcp-servers/everything"
        assert session.call_tool("echo", {"message": "over sse"}).text == "Echo: over sse"
        result = session.call_tool(
            "trigger-long-running-operation", {"duration": 0.5, "steps": 3}, on_progress=lambda p, t, m: seen.append(p)
        )
        assert "completed" in result.text
        assert "the moon" in session.call_tool("trigger-sampling-request", {"prompt": "the moon"}).text
    assert seen == [1, 2, 3]
    (client,) = new_lines(everything_sse, r"Client Connected:\s+(\S+)", before)
    assert wait_until(lambda: client in new_lines(everything_sse, r"Client Disconnected:\s+(\S+)", before), timeout=5)
    assert wait_until(lambda: not syncmcp_threads(), timeout=5)


# ----------------------------------------------------------------------------- FastMCP fixture over HTTP


@pytest.mark.parametrize(("era", "detected"), [("auto", "modern"), ("modern", "modern"), ("legacy", "legacy")])
def test_fastmcp_http_in_both_eras(fastmcp_sse_answers: ServerProcess, era: str, detected: str) -> None:
    progress: List[Tuple[float, Optional[float]]] = []
    with open_http(
        fastmcp_sse_answers.url("/mcp"),
        protocol_era=era,
        elicitation_handler=elicit_name,
        sampling_handler=sampler,
        roots=["/srv/a", "/srv/b"],
    ) as session:
        assert session.era == detected
        assert session.protocol_version == ("2026-07-28" if detected == "modern" else "2025-11-25")
        assert session.transport.session_id_present == (detected == "legacy")  # sessions are a legacy-era thing
        assert session.server_info.name == "fixture"
        assert {"add", "slow", "greet_person", "summarize", "count_roots"} <= {tool.name for tool in session.list_tools()}
        assert session.call_tool("add", {"a": 2, "b": 3}).structured_content == {"result": 5}
        assert session.call_tool("slow", {"steps": 3}, on_progress=lambda p, t, m: progress.append((p, t))).text == "done"
        assert session.call_tool("greet_person").text == "Hello Grace (30)"  # the schema's default filled in
        assert session.call_tool("summarize").text == "model test-model said: echo of 'Say something'"
        assert session.call_tool("count_roots").text == "file:///srv/a file:///srv/b"
        assert session.call_tool("boom").is_error
        assert session.read_resource("fixture://hello").text == "hello"
    assert progress == [(1, 3), (2, 3), (3, 3)]


@pytest.mark.parametrize("era", ["modern", "legacy"])
def test_fastmcp_http_json_answers(fastmcp_json_answers: ServerProcess, era: str) -> None:
    with open_http(fastmcp_json_answers.url("/mcp"), protocol_era=era, elicitation_handler=elicit_name) as session:
        assert session.era == era
        assert session.call_tool("add", {"a": 20, "b": 22}).structured_content == {"result": 42}
        assert session.call_tool("slow", {"steps": 2}).text == "done"  # its progress has no stream to travel on
        if era == "modern":
            assert session.call_tool("greet_person").text == "Hello Grace (30)"  # InputRequiredResult rounds
        else:
            # A JSON answer leaves the server no way to ask the client: its refusal comes back as an error.
            with pytest.raises(RemoteError) as info:
                session.call_tool("greet_person")
            assert "back-channel" in str(info.value)
            assert session.call_tool("add", {"a": 1, "b": 1}).structured_content == {"result": 2}


@pytest.mark.parametrize("era", ["modern", "legacy"])
def test_fastmcp_http_stateless(fastmcp_stateless: ServerProcess, era: str) -> None:
    progress: List[float] = []
    with open_http(fastmcp_stateless.url("/mcp"), protocol_era=era, elicitation_handler=elicit_name) as session:
        assert session.era == era
        assert not session.transport.session_id_present
        assert session.call_tool("add", {"a": 2, "b": 5}).structured_content == {"result": 7}
        assert session.call_tool("slow", {"steps": 3}, on_progress=lambda p, t, m: progress.append(p)).text == "done"
        if era == "modern":
            assert session.call_tool("greet_person").text == "Hello Grace (30)"
    assert progress == [1, 2, 3]


def test_fastmcp_http_session_lost_to_a_restart_is_renewed(tmp_path: Path) -> None:
    server = fastmcp_server(tmp_path)
    try:
        with open_http(server.url("/mcp"), protocol_era="legacy", elicitation_handler=elicit_name) as legacy:
            with open_http(server.url("/mcp"), protocol_era="modern") as modern:
                assert legacy.call_tool("add", {"a": 1, "b": 2}).structured_content == {"result": 3}
                assert modern.call_tool("add", {"a": 1, "b": 2}).structured_content == {"result": 3}
                server.restart()
                before = server.output()
                # FastMCP answers 404 to the forgotten session id: the transport initializes a new one.
                assert legacy.call_tool("add", {"a": 3, "b": 4}).structured_content == {"result": 7}
                # (the server's log may trail its answers a little)
                assert wait_until(lambda: new_lines(server, r'"POST /mcp HTTP/1.1" (404)', before) == ["404"], timeout=5)
                assert wait_until(
                    lambda: len(new_lines(server, r"Created new transport with session ID: (\S+)", before)) == 1, timeout=5
                )
                assert legacy.call_tool("greet_person").text == "Hello Grace (30)"  # server requests work on the new session
                assert modern.call_tool("add", {"a": 3, "b": 4}).structured_content == {"result": 7}  # no session to lose
    finally:
        server.stop()


def test_fastmcp_http_modern_resource_subscriptions_use_one_listen_stream(fastmcp_sse_answers: ServerProcess) -> None:
    updated = threading.Event()
    seen: List[str] = []

    def on_updated(uri: str) -> None:
        seen.append(uri)
        updated.set()

    with open_http(fastmcp_sse_answers.url("/mcp"), protocol_era="modern") as session:
        assert session.era == "modern"
        session.subscribe_resource("fixture://hello", on_updated, timeout=10)  # returns once acknowledged
        assert session.call_tool("touch", {"uri": "fixture://hello"}).text == "touched fixture://hello"
        assert updated.wait(10) and seen == ["fixture://hello"]
        session.unsubscribe_resource("fixture://hello", timeout=10)
        updated.clear()
        assert session.call_tool("touch", {"uri": "fixture://hello"}).text == "touched fixture://hello"
        assert not updated.wait(0.5) and seen == ["fixture://hello"]
