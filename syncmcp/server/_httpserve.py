"""An embedded HTTP server for the WSGI application: the standard library's, a thread per connection.

For development and single-machine use (``Server.run_http``, ``syncmcp serve --http``); larger
deployments run the same application on gunicorn, waitress or ``mod_wsgi``. It is
``wsgiref``'s server with HTTP/1.1 keep-alive added: a response with a length keeps the
connection for the client's next request, a stream (no length) ends it. The server stops
cleanly on SIGTERM, SIGHUP or Ctrl-C: it stops accepting, closes the open connections, the
application ends its sessions and streams, and the call returns.

Example::

    serve(app, "127.0.0.1", 8000)       # blocks until SIGTERM or Ctrl-C
"""

from __future__ import annotations

import logging
import signal
import socket
import socketserver
import threading
from typing import IO, Any, Callable, Dict, Iterator, List, Optional, Set, cast
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

__all__ = ["serve"]

logger = logging.getLogger("syncmcp.server.http")

#: Seconds an idle keep-alive connection waits for the client's next request.
KEEPALIVE_IDLE = 30.0
#: Body bytes left unread by the application that are read and dropped to keep the connection.
_DRAIN_LIMIT = 65536


class _CountingInput:
    """``wsgi.input`` that counts what the application read, so the rest can be drained."""

    def __init__(self, stream: Any, length: int) -> None:
        self._stream = stream
        self.remaining = length

    def read(self, size: int = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        size = self.remaining if size is None or size < 0 else min(size, self.remaining)
        data: bytes = self._stream.read(size)
        self.remaining -= len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        size = self.remaining if size is None or size < 0 else min(size, self.remaining)
        data: bytes = self._stream.readline(size)
        self.remaining -= len(data)
        return data

    def readlines(self, hint: int = -1) -> List[bytes]:
        lines: List[bytes] = []
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readlines())


class _Gateway(ServerHandler):
    """wsgiref's gateway speaking HTTP/1.1: a response without a length closes the connection."""

    http_version = "1.1"
    headers: Any
    request_handler: Any

    def cleanup_headers(self) -> None:
        super().cleanup_headers()
        if "Content-Length" not in self.headers:
            self.headers["Connection"] = "close"
        if self.headers.get("Connection", "").lower() == "close":
            self.request_handler.close_connection = True


class _Connection(WSGIRequestHandler):
    """One client connection: requests one after another while both sides keep it open."""

    protocol_version = "HTTP/1.1"
    # Buffered writes: the status line, headers and body of a response leave in one send (the
    # gateway flushes after every body chunk, so stream events still go out one by one).
    wbufsize = 65536

    def setup(self) -> None:
        super().setup()
        # The status line, headers and body go out in separate writes: without this, Nagle's
        # algorithm and the client's delayed ACK hold each response ~40 ms on a kept connection.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)  # type: ignore[attr-defined]

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s - %s", self.address_string(), format % args)

    def get_environ(self) -> Dict[str, Any]:
        """The WSGI environ, with the client's socket so the application can tell when it leaves."""
        environ = super().get_environ()
        environ["syncmcp.socket"] = self.connection
        return environ

    def handle(self) -> None:
        self.close_connection = False
        while not self.close_connection:
            # Every read and write of a request has a deadline: an idle keep-alive, a client that
            # stops halfway through its headers or body, or one that stops reading a stream.
            self.connection.settimeout(KEEPALIVE_IDLE)
            try:
                self.raw_requestline = self.rfile.readline(65537)
                if not self.raw_requestline:
                    return
                if len(self.raw_requestline) > 65536:
                    self.requestline, self.request_version, self.command = "", "", ""
                    self.send_error(414)
                    return
                if not self.parse_request():
                    return
                length = self._body_length()
                if length is None:
                    return
                environ = self.get_environ()
                body = _CountingInput(self.rfile, length)
                gateway = _Gateway(body, cast(IO[bytes], self.wfile), self.get_stderr(), environ, multithread=True)
                gateway.request_handler = self
                gateway.run(self.server.get_app())  # type: ignore[attr-defined]
                self.wfile.flush()  # a response without a body (202) is still in the buffer
                if body.remaining > _DRAIN_LIMIT:
                    return
                if body.remaining:
                    body.read()
            except OSError:  # idle too long, a stalled client, or the server is stopping
                return

    def _body_length(self) -> Optional[int]:
        """The request body's length, or ``None`` (answered, connection to close) when it has none we take.

        Only ``Content-Length`` framing is accepted: a ``Transfer-Encoding`` (chunked) or a bad
        length would leave bytes whose meaning a proxy in front might read differently.
        """
        if self.headers.get("Transfer-Encoding") is not None:
            self.send_error(411, "Length Required: send a Content-Length, not a Transfer-Encoding")
            return None
        values = self.headers.get_all("Content-Length") or []
        if not values:
            return 0
        if len(set(values)) != 1 or not values[0].strip().isdigit():
            self.send_error(400, "Bad Request: an invalid Content-Length")
            return None
        return int(values[0])

    def handle_expect_100(self) -> bool:
        """Answer ``Expect: 100-continue`` at once (the buffered writer would hold it back)."""
        answered = super().handle_expect_100()
        self.wfile.flush()
        return answered


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True  # an open stream never keeps the process alive
    allow_reuse_address = True
    request_queue_size = 128  # socketserver's 5 makes a burst of new clients wait for TCP's retry (1 s)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._open: Set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def track(self, sock: socket.socket, add: bool) -> None:
        with self._open_lock:
            if add:
                self._open.add(sock)
            else:
                self._open.discard(sock)

    def close_connections(self) -> None:
        """End every open connection (idle keep-alives and streams)."""
        with self._open_lock:
            open_sockets = list(self._open)
        for sock in open_sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _ThreadingServer6(_ThreadingServer):
    address_family = socket.AF_INET6


def serve(
    app: Callable[..., Any],
    host: str,
    port: int,
    *,
    handle_signals: bool = True,
    on_ready: Optional[Callable[[str, int], None]] = None,
    stop: Optional[threading.Event] = None,
) -> None:
    """Serve ``app`` on ``host:port`` until a stop signal, Ctrl-C or ``stop`` is set.

    Args:
        app: the WSGI application.
        host: the address to bind (``"127.0.0.1"``, ``"::1"``, ``"0.0.0.0"`` …).
        port: the port (``0``: any free one; ``on_ready`` tells which).
        handle_signals: in the main thread, turn SIGTERM and SIGHUP into a clean stop.
        on_ready: called with the bound host and port once requests are accepted.
        stop: an event that stops the server when set (from another thread).
    """
    server_class = _ThreadingServer6 if ":" in host else _ThreadingServer
    httpd = server_class((host, port), _Connection)
    httpd.set_app(app)
    done = stop or threading.Event()
    previous: Dict[int, Any] = {}
    if handle_signals and threading.current_thread() is threading.main_thread():
        for stop_signal in (signal.SIGTERM,) + ((signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ()):
            previous[stop_signal] = signal.signal(stop_signal, lambda _signum, _frame: done.set())
    loop = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.5}, name="syncmcp-http-accept", daemon=True)
    loop.start()
    bound_host, bound_port = httpd.server_address[:2]
    logger.info("serving MCP over HTTP on %s port %s", bound_host, bound_port)
    try:
        if on_ready is not None:
            on_ready(str(bound_host), int(bound_port))
        # Timed waits: the main thread must wake to run signal handlers on every platform.
        while not done.wait(1.0):
            pass
    except KeyboardInterrupt:
        logger.info("interrupted; shutting down")
    finally:
        httpd.shutdown()
        loop.join(5.0)
        close = getattr(app, "close", None)
        if callable(close):
            close()
        httpd.close_connections()
        httpd.server_close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
