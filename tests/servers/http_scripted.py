"""A scripted MCP-over-HTTP server for tests: in process, on a thread, doing on demand what real servers won't.

:class:`ScriptedHTTPServer` is a ``ThreadingHTTPServer`` on ``127.0.0.1`` (port 0) that speaks
just enough MCP to hold a session with :class:`syncmcp.HttpTransport` (both eras, and the
2024-11-05 HTTP+SSE transport), records every request it gets, and lets each test script the
answers:

* ``server.handlers["tools/call"] = fn`` replaces the answer to one JSON-RPC method. ``fn(ex)``
  gets an :class:`Exchange` and either returns a result (sent as JSON, or as an SSE stream when
  ``server.sse_responses`` is set), raises :class:`RpcError`, or writes the HTTP response itself
  (``ex.respond``, ``ex.json``, ``ex.stream``, ``ex.reset``, ``ex.drop``, ``ex.hang``...).
* ``server.hook = fn`` sees every HTTP request first (any method and path); whatever it answers
  is final, and when it answers nothing the default behaviour runs.
* ``server.push(message)`` sends a message on the open standalone ``GET`` stream (legacy era) or
  the HTTP+SSE event stream; ``server.wait_answer(id)`` returns the client's answer to it.

Everything the client sent is in ``server.requests`` (:class:`Recorded`: method, path, headers,
body, parsed JSON, client port, arrival time). ``close()`` (or leaving the ``with`` block)
stops the server, wakes every handler that is parked or streaming, closes every connection and
joins the threads. Exceptions raised by scripts are collected in ``server.errors``.

Example::

    with ScriptedHTTPServer() as server:
        server.handlers["tools/call"] = lambda ex: {"content": [{"type": "text", "text": "hi"}]}
        with syncmcp.connect_http(server.url) as session:
            assert session.call_tool("echo").text == "hi"
        assert server.posts("tools/call")[0].headers["Mcp-Session-Id"] == "session-1"
"""

from __future__ import annotations

import http
import itertools
import json
import queue
import select
import socket
import ssl
import struct
import threading
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

__all__ = ["ClientGone", "Exchange", "Recorded", "RpcError", "SSEStream", "ScriptedHTTPServer", "sse_event"]

LEGACY_VERSION = "2025-11-25"
MODERN_VERSION = "2026-07-28"
SERVER_INFO = {"name": "scripted-http", "version": "1.0"}
ECHO_TOOL = {
    "name": "echo",
    "description": "Echoes its text",
    "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}},
}
#: How often parked handlers and idle streams look at the stop flag and the client's socket.
_POLL = 0.02


class RpcError(Exception):
    """Raised by a handler: answer the request with this JSON-RPC error (HTTP status ``status``)."""

    def __init__(self, code: int, message: str, data: Any = None, status: int = 200) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data
        self.status = status


class ClientGone(Exception):
    """Writing failed: the client closed or reset the connection."""


def sse_event(data: Any = None, *, id: Optional[str] = None, event: Optional[str] = None, retry: Optional[int] = None) -> bytes:
    """One SSE event: a dict or list ``data`` is sent as JSON; a string as it is (one line per line)."""
    lines = []
    if event is not None:
        lines.append(f"event: {event}")
    if id is not None:
        lines.append(f"id: {id}")
    if retry is not None:
        lines.append(f"retry: {retry}")
    if data is not None:
        text = data if isinstance(data, str) else json.dumps(data)
        lines.extend(f"data: {line}" for line in text.split("\n"))
    return ("\n".join(lines) + "\n\n").encode("utf-8")


class Recorded:
    """One request as the server received it."""

    def __init__(self, number: int, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        self.number = number
        self.method: str = handler.command
        self.path: str = handler.path
        self.headers = handler.headers  # case-insensitive .get() / .get_all()
        self.body = body
        self.client_port: int = handler.client_address[1]
        self.at = time.monotonic()
        self.status: Optional[int] = None  # the status the script answered, if it answered one
        self.content_type: Optional[str] = None  # and the Content-Type of that answer
        try:
            self.json: Any = json.loads(body) if body else None
        except ValueError:
            self.json = None

    @property
    def rpc_method(self) -> Optional[str]:
        """The JSON-RPC method of the body (``None`` for a response, a batch or no body)."""
        return self.json.get("method") if isinstance(self.json, dict) else None

    @property
    def rpc_id(self) -> Any:
        return self.json.get("id") if isinstance(self.json, dict) else None

    def header_names(self) -> List[str]:
        return [name.lower() for name in self.headers]

    def __repr__(self) -> str:
        return f"<Recorded #{self.number} {self.method} {self.path} {self.rpc_method or ''}>"


class SSEStream:
    """A streamed ``text/event-stream`` response, framed chunked or ended by closing the connection."""

    def __init__(self, ex: Exchange, framing: str) -> None:
        self._ex = ex
        self._framing = framing
        self.ended = False
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()  # what push() sends on a standalone stream

    def write(self, data: bytes) -> None:
        """Raw body bytes (wrapped in a chunk when the stream is chunked)."""
        if self._framing == "chunked":
            data = f"{len(data):x}\r\n".encode() + data + b"\r\n"
        self._ex.write(data)

    def event(self, data: Any = None, *, id: Optional[str] = None, event: Optional[str] = None, retry: Optional[int] = None) -> None:
        self.write(sse_event(data, id=id, event=event, retry=retry))

    def send(self, message: Any, *, id: Optional[str] = None) -> None:
        """One JSON-RPC message as a ``message`` event."""
        self.event(message, id=id)

    def comment(self, text: str = "keep-alive") -> None:
        self.write(f": {text}\n\n".encode())

    def end(self) -> None:
        """End the body properly (the last chunk, or closing the connection)."""
        if self.ended:
            return
        self.ended = True
        if self._framing == "chunked":
            self._ex.write(b"0\r\n\r\n")
        else:
            self._ex.drop()


class Exchange:
    """One HTTP request being answered: what came in, and the means to answer it."""

    def __init__(self, server: ScriptedHTTPServer, handler: _Handler, request: Recorded) -> None:
        self.server = server
        self.request = request
        self._handler = handler
        self.responded = False

    # ------------------------------------------------------------------ what came in

    @property
    def message(self) -> Any:
        return self.request.json

    @property
    def params(self) -> Dict[str, Any]:
        message = self.message
        params = message.get("params") if isinstance(message, dict) else None
        return params if isinstance(params, dict) else {}

    @property
    def id(self) -> Any:
        return self.request.rpc_id

    @property
    def sock(self) -> socket.socket:
        return self._handler.connection

    # ------------------------------------------------------------------ writing

    def write(self, data: bytes) -> None:
        """Raw bytes on the connection (the status line and headers included, if you write them)."""
        self.responded = True
        try:
            self._handler.wfile.write(data)
        except (OSError, ValueError) as exc:
            self._handler.close_connection = True
            raise ClientGone(str(exc)) from exc

    def head(self, status: int, headers: Iterable[Tuple[str, str]] = ()) -> None:
        """The status line and headers (nothing else)."""
        self.request.status = status
        headers = list(headers)
        self.request.content_type = next((value for name, value in headers if name.lower() == "content-type"), None)
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = "Scripted"
        lines = [f"HTTP/1.1 {status} {reason}", *(f"{name}: {value}" for name, value in headers)]
        self.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def respond(
        self,
        status: int,
        body: bytes = b"",
        *,
        content_type: Optional[str] = "text/plain",
        headers: Iterable[Tuple[str, str]] = (),
        framing: str = "length",
    ) -> None:
        """A whole response; ``framing`` is ``length``, ``chunked`` (one chunk) or ``close``."""
        fields = list(headers)
        if content_type and body:
            fields.append(("Content-Type", content_type))
        if framing == "length":
            fields.append(("Content-Length", str(len(body))))
        elif framing == "chunked":
            fields.append(("Transfer-Encoding", "chunked"))
        else:
            fields.append(("Connection", "close"))
        self.head(status, fields)
        if framing == "chunked":
            self.write((f"{len(body):x}\r\n".encode() + body + b"\r\n" if body else b"") + b"0\r\n\r\n")
        else:
            if body:
                self.write(body)
            if framing == "close":
                self.drop()

    def json(self, value: Any, *, status: int = 200, headers: Iterable[Tuple[str, str]] = (), framing: str = "length") -> None:
        self.respond(status, json.dumps(value).encode(), content_type="application/json", headers=headers, framing=framing)

    def sse(
        self, events: Sequence[bytes], *, status: int = 200, headers: Iterable[Tuple[str, str]] = (), framing: str = "length"
    ) -> None:
        """A whole ``text/event-stream`` body of ``events`` (see :func:`sse_event`)."""
        self.respond(status, b"".join(events), content_type="text/event-stream", headers=headers, framing=framing)

    def stream(self, *, status: int = 200, headers: Iterable[Tuple[str, str]] = (), framing: str = "chunked") -> SSEStream:
        """Start an SSE stream (``chunked`` or ``close`` framing); write events as you go."""
        fields = [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache"), *headers]
        fields.append(("Transfer-Encoding", "chunked") if framing == "chunked" else ("Connection", "close"))
        self.head(status, fields)
        if framing != "chunked":
            self._handler.close_connection = True
        return SSEStream(self, framing)

    def result(self, result: Any, *, sse: Optional[bool] = None, event_id: Optional[str] = None) -> None:
        """Answer the JSON-RPC request with ``result`` (JSON, or an SSE stream of one event)."""
        self.reply({"jsonrpc": "2.0", "id": self.id, "result": result}, sse=sse, event_id=event_id)

    def error(self, code: int, message: str, *, data: Any = None, status: int = 200, sse: Optional[bool] = None) -> None:
        error: Dict[str, Any] = {"code": code, "message": message}
        if data is not None:
            error["data"] = data
        self.reply({"jsonrpc": "2.0", "id": self.id, "error": error}, status=status, sse=sse)

    def reply(self, message: Any, *, status: int = 200, sse: Optional[bool] = None, event_id: Optional[str] = None) -> None:
        use_sse = self.server.sse_responses if sse is None else sse
        headers = self.server.response_headers(self)
        if use_sse and status == 200:
            stream = self.stream(headers=headers)
            stream.send(message, id=event_id)
            stream.end()
        else:
            self.json(message, status=status, headers=headers)

    # ------------------------------------------------------------------ misbehaving

    def reset(self) -> None:
        """Abort the connection with a TCP RST (``SO_LINGER`` 0, then close)."""
        self.responded = True
        self._handler.close_connection = True
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self._handler.rfile.close()  # drops the makefile's reference: close() below really closes
        self.sock.close()

    def drop(self) -> None:
        """Close the connection (FIN) after whatever was written."""
        self.responded = True
        self._handler.close_connection = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def client_gone(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) until the client closes the connection; ``False`` otherwise."""
        deadline = time.monotonic() + timeout
        while not self.server.stopping.is_set():
            remaining = max(0.0, deadline - time.monotonic())
            try:
                readable, _, _ = select.select([self.sock], [], [], min(_POLL, remaining))
                if readable and not self.sock.recv(1, socket.MSG_PEEK):
                    return True
            except (OSError, ValueError):
                return True
            if remaining <= 0:
                return False
            if readable:  # bytes from the client (it pipelined?): not a close; look again later
                time.sleep(_POLL)
        return False

    def hang(self, timeout: float = 60.0) -> bool:
        """Never answer: park until the client leaves (``True``), the server stops or ``timeout``."""
        self.responded = True
        self._handler.close_connection = True
        gone = self.client_gone(timeout)
        if gone:
            self._left()
        return gone

    def _left(self) -> None:
        with self.server.changed:
            self.server.hung_up += 1
            self.server.changed.notify_all()

    def drip(self, data: bytes, interval: float = 1.0) -> bool:
        """Write ``data`` one byte at a time, ``interval`` s apart; ``False`` once the client left."""
        for index in range(len(data)):
            try:
                self.write(data[index : index + 1])
            except ClientGone:
                self._left()
                return False
            if index + 1 < len(data) and self.client_gone(interval):
                self._left()
                return False
        return True


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    scripted: ScriptedHTTPServer

    def get_request(self) -> Tuple[socket.socket, Any]:
        sock, address = super().get_request()
        context = self.scripted.tls_context
        if context is not None:
            sock = context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread, args=(request, client_address), name="http-scripted-conn", daemon=True
        )
        self.scripted._threads.append(thread)
        thread.start()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # TLS handshakes refused by the client, connections reset: expected here


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # a head and a body written apart must not wait for a delayed ACK
    server: _HTTPServer

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(5.0)
            self.request.do_handshake()
            self.request.settimeout(None)
        super().setup()
        self.server.scripted._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.scripted._track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _any(self) -> None:
        scripted = self.server.scripted
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        record = scripted._record(self, body)
        ex = Exchange(scripted, self, record)
        try:
            scripted._serve(ex)
            if not ex.responded:
                raise AssertionError(f"the script wrote no response to {record!r}")
        except ClientGone:
            self.close_connection = True
        except Exception:
            scripted.errors.append(traceback.format_exc())
            self.close_connection = True
            if not ex.responded:
                try:
                    ex.respond(500, b"scripted server error")
                except ClientGone:
                    pass
        with scripted.changed:
            scripted.changed.notify_all()

    do_GET = do_POST = do_DELETE = do_PUT = do_HEAD = _any


class ScriptedHTTPServer:
    """An MCP server over HTTP whose every answer a test can script (see the module docstring).

    Args:
        era: ``"legacy"`` (``initialize``; ``server/discover`` refused with 400 like the
            TypeScript SDK) or ``"modern"`` (2026-07-28: ``server/discover``, no sessions, no
            ``GET``).
        path: the MCP endpoint's path.
        sessions: give out and check ``Mcp-Session-Id`` (legacy era).
        get_stream: answer the standalone ``GET`` with a stream (``True``) or this status (e.g. 405).
        sse_responses: answer requests with SSE streams instead of JSON bodies.
        legacy_sse: be a 2024-11-05 HTTP+SSE server: ``GET path`` is the event stream, messages are
            posted to ``/messages?session_id=…``, and a ``POST`` to ``path`` gets ``refusal``.
        refusal: ``(status, content type, body)`` for a ``POST`` to ``path`` in ``legacy_sse`` mode.
        tls: ``(certfile, keyfile)`` to serve HTTPS.
    """

    def __init__(
        self,
        era: str = "legacy",
        *,
        path: str = "/mcp",
        sessions: bool = True,
        get_stream: Any = True,
        sse_responses: bool = False,
        legacy_sse: bool = False,
        refusal: Tuple[int, str, bytes] = (405, "text/plain", b"Method Not Allowed"),
        tls: Optional[Tuple[str, str]] = None,
        capabilities: Optional[Dict[str, Any]] = None,
    ) -> None:
        self.era = era
        self.path = path
        self.sessions = sessions and era == "legacy"
        self.get_stream = get_stream
        self.sse_responses = sse_responses
        self.legacy_sse = legacy_sse
        self.refusal = refusal
        self.capabilities: Dict[str, Any] = capabilities if capabilities is not None else {"tools": {}, "resources": {}, "prompts": {}}
        self.tools: List[Dict[str, Any]] = [dict(ECHO_TOOL)]
        self.handlers: Dict[str, Callable[[Exchange], Any]] = {}
        self.hook: Optional[Callable[[Exchange], Any]] = None
        self.requests: List[Recorded] = []
        self.errors: List[str] = []
        self.answers: Dict[Any, Dict[str, Any]] = {}
        self.live_sessions: set = set()
        self.hung_up = 0
        self.changed = threading.Condition()
        self.stopping = threading.Event()
        self.tls_context: Optional[ssl.SSLContext] = None
        if tls is not None:
            self.tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.tls_context.load_cert_chain(*tls)
        self._numbers = itertools.count(1)
        self._session_numbers = itertools.count(1)
        self._streams: List[SSEStream] = []  # open standalone / HTTP+SSE event streams, oldest first
        self._connections: set = set()
        self._threads: List[threading.Thread] = []
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.scripted = self
        self.port: int = self._httpd.server_address[1]
        scheme = "https" if tls is not None else "http"
        self.origin = f"{scheme}://127.0.0.1:{self.port}"
        self.url = self.origin + path
        self._serving = threading.Thread(target=self._httpd.serve_forever, args=(0.01,), name="http-scripted", daemon=True)
        self._serving.start()

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> ScriptedHTTPServer:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving, wake every parked handler, close every connection, join the threads."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        with self.changed:
            streams = list(self._streams)
        for stream in streams:
            stream.queue.put(None)
        self._httpd.shutdown()
        self._serving.join(5)
        with self.changed:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in list(self._threads):
            thread.join(5)
        self._httpd.server_close()

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self.changed:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)
            self.changed.notify_all()

    def _record(self, handler: BaseHTTPRequestHandler, body: bytes) -> Recorded:
        with self.changed:
            record = Recorded(next(self._numbers), handler, body)
            self.requests.append(record)
            self.changed.notify_all()
        return record

    # ------------------------------------------------------------------ what tests look at

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> bool:
        """Wait until ``predicate()`` is true (re-checked on every request and state change)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.changed.wait(min(remaining, 0.05))
            return True

    def posts(self, rpc_method: Optional[str] = None) -> List[Recorded]:
        """The ``POST`` requests, optionally only those whose body is a ``rpc_method`` message."""
        with self.changed:
            return [r for r in self.requests if r.method == "POST" and (rpc_method is None or r.rpc_method == rpc_method)]

    def of(self, http_method: str) -> List[Recorded]:
        with self.changed:
            return [r for r in self.requests if r.method == http_method]

    @property
    def open_streams(self) -> int:
        with self.changed:
            return len(self._streams)

    def push(self, message: Any, *, event_id: Optional[str] = None, timeout: float = 5.0) -> None:
        """Send ``message`` on the newest open event stream (waiting for one to open)."""
        if not self.wait_for(lambda: self._streams, timeout):
            raise AssertionError("no event stream opened")
        with self.changed:
            stream = self._streams[-1]
        stream.queue.put((message, event_id))

    def end_streams(self) -> None:
        """End every open event stream (the client sees the stream finish normally)."""
        with self.changed:
            streams = list(self._streams)
        for stream in streams:
            stream.queue.put(None)

    def wait_answer(self, request_id: Any, timeout: float = 5.0) -> Dict[str, Any]:
        """The client's answer to a request the server pushed."""
        if not self.wait_for(lambda: request_id in self.answers, timeout):
            raise AssertionError(f"no answer to {request_id!r} within {timeout} s")
        return self.answers[request_id]

    def forget_sessions(self) -> None:
        """Forget every session, as a restarted server does: its ids now get 404."""
        with self.changed:
            self.live_sessions.clear()

    # ------------------------------------------------------------------ serving

    def response_headers(self, ex: Exchange) -> List[Tuple[str, str]]:
        """Headers every answer to a request gets (the session id of ``initialize``)."""
        session = getattr(ex, "new_session", None)
        return [("Mcp-Session-Id", session)] if session else []

    def _serve(self, ex: Exchange) -> None:
        if self.hook is not None:
            self.hook(ex)
            if ex.responded:
                return
        if self.legacy_sse:
            self._serve_legacy_sse(ex)
        elif ex.request.method == "POST":
            self._serve_post(ex)
        elif ex.request.method == "GET":
            self._serve_get(ex)
        elif ex.request.method == "DELETE":
            if self.era == "modern":
                ex.respond(405)
                return
            with self.changed:
                self.live_sessions.discard(ex.request.headers.get("Mcp-Session-Id"))
            ex.respond(200)
        else:
            ex.respond(405)

    def _session_ok(self, ex: Exchange) -> bool:
        if not self.sessions:
            return True
        session = ex.request.headers.get("Mcp-Session-Id")
        if session is None:
            ex.json({"jsonrpc": "2.0", "error": {"code": -32000, "message": "Bad Request: No valid session ID provided"}, "id": None},
                    status=400)
            return False
        with self.changed:
            known = session in self.live_sessions
        if not known:
            ex.json({"jsonrpc": "2.0", "error": {"code": -32001, "message": "Session not found"}, "id": None}, status=404)
            return False
        return True

    def _serve_post(self, ex: Exchange) -> None:
        message = ex.message
        if not isinstance(message, dict):
            ex.respond(400, b"the body is not a JSON-RPC message")
            return
        method = message.get("method")
        if isinstance(method, str) and "id" in message:
            if method == "initialize" and self.sessions:
                session = f"session-{next(self._session_numbers)}"
                with self.changed:
                    self.live_sessions.add(session)
                ex.new_session = session  # type: ignore[attr-defined]
            elif self.era == "legacy" and method == "server/discover" and method not in self.handlers:
                ex.json({"jsonrpc": "2.0", "error": {"code": -32000, "message": "Bad Request: Server not initialized"}, "id": None},
                        status=400)
                return
            elif not self._session_ok(ex):
                return
            self._answer_request(ex)
            return
        if not self._session_ok(ex):  # a notification, or an answer to a request of ours
            return
        if method is None:
            with self.changed:
                self.answers[message.get("id")] = message
        ex.respond(202)

    def _answer_request(self, ex: Exchange) -> None:
        handler = self.handlers.get(ex.message["method"]) or self._defaults().get(ex.message["method"])
        try:
            if handler is None:
                raise RpcError(-32601, f"Method not found: {ex.message['method']}")
            value = handler(ex)
        except RpcError as exc:
            if not ex.responded:
                ex.error(exc.code, exc.message, data=exc.data, status=exc.status)
            return
        if not ex.responded:
            if value is None:
                raise AssertionError(f"the handler of {ex.message['method']} returned no result and wrote nothing")
            ex.result(value)

    def _serve_get(self, ex: Exchange) -> None:
        if self.era == "modern":
            ex.respond(405)
            return
        if not self._session_ok(ex):
            return
        if self.get_stream is not True:
            ex.respond(int(self.get_stream))
            return
        self._run_event_stream(ex, ex.stream())

    def _run_event_stream(self, ex: Exchange, stream: SSEStream) -> None:
        """Send what ``push()`` queues on ``stream`` until ended, the client leaves or the server stops."""
        with self.changed:
            self._streams.append(stream)
            self.changed.notify_all()
        try:
            while not self.stopping.is_set():
                try:
                    item = stream.queue.get(timeout=_POLL)
                except queue.Empty:
                    if ex.client_gone(0.0):
                        return
                    continue
                if item is None:
                    stream.end()
                    return
                message, event_id = item
                stream.send(message, id=event_id)
        finally:
            with self.changed:
                self._streams.remove(stream)
                self.changed.notify_all()

    # ------------------------------------------------------------------ 2024-11-05 HTTP+SSE

    def _serve_legacy_sse(self, ex: Exchange) -> None:
        parts = urllib.parse.urlsplit(ex.request.path)
        if ex.request.method == "GET" and parts.path == self.path:
            stream = ex.stream()
            stream.event("/messages?session_id=legacy-1", event="endpoint")
            self._run_event_stream(ex, stream)
        elif ex.request.method == "POST" and parts.path == self.path:
            status, content_type, body = self.refusal
            ex.respond(status, body, content_type=content_type)
        elif ex.request.method == "POST" and parts.path == "/messages":
            message = ex.message
            ex.respond(202, b"Accepted")
            if isinstance(message, dict) and isinstance(message.get("method"), str) and "id" in message:
                reply = self._legacy_reply(ex)
                if reply is not None:
                    self.push(reply)
            elif isinstance(message, dict) and "method" not in message:
                with self.changed:
                    self.answers[message.get("id")] = message
        else:
            ex.respond(404)

    def _legacy_reply(self, ex: Exchange) -> Optional[Dict[str, Any]]:
        """The answer to push on the event stream (a handler returning ``None`` sends none)."""
        method = ex.message["method"]
        handler = self.handlers.get(method) or self._defaults().get(method)
        try:
            if handler is None or method == "server/discover":
                raise RpcError(-32601, f"Method not found: {method}")
            result = handler(ex)
        except RpcError as exc:
            return {"jsonrpc": "2.0", "id": ex.id, "error": {"code": exc.code, "message": exc.message}}
        return None if result is None else {"jsonrpc": "2.0", "id": ex.id, "result": result}

    # ------------------------------------------------------------------ default answers

    def _defaults(self) -> Mapping[str, Callable[[Exchange], Any]]:
        return {
            "initialize": self._initialize,
            "server/discover": self._discover,
            "ping": lambda ex: {},
            "tools/list": lambda ex: self._listing({"tools": self.tools}),
            "prompts/list": lambda ex: self._listing({"prompts": [{"name": "greeting"}]}),
            "resources/list": lambda ex: self._listing({"resources": []}),
            "resources/templates/list": lambda ex: self._listing({"resourceTemplates": []}),
            "tools/call": self._echo,
            "resources/read": lambda ex: {"contents": [{"uri": ex.params.get("uri"), "text": "resource text"}]},
            "prompts/get": lambda ex: {"messages": [{"role": "user", "content": {"type": "text", "text": "prompt text"}}]},
        }

    def _initialize(self, ex: Exchange) -> Dict[str, Any]:
        if self.era == "modern":
            raise RpcError(-32022, "Unsupported protocol version", {"supported": [MODERN_VERSION]}, status=400)
        return {"protocolVersion": LEGACY_VERSION, "capabilities": self.capabilities, "serverInfo": SERVER_INFO}

    def _discover(self, ex: Exchange) -> Dict[str, Any]:
        return {
            "supportedVersions": [MODERN_VERSION],
            "capabilities": self.capabilities,
            "resultType": "complete",
            "ttlMs": 0,
            "cacheScope": "private",
            "_meta": {"io.modelcontextprotocol/serverInfo": SERVER_INFO},
        }

    def _listing(self, result: Dict[str, Any]) -> Dict[str, Any]:
        if self.era == "modern":
            return {**result, "resultType": "complete", "ttlMs": 60000, "cacheScope": "private"}
        return result

    def _echo(self, ex: Exchange) -> Dict[str, Any]:
        arguments = ex.params.get("arguments") or {}
        text = arguments.get("text") if isinstance(arguments.get("text"), str) else json.dumps(arguments)
        return {"content": [{"type": "text", "text": text}]}
