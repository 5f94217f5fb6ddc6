"""An embedded HTTP server for the WSGI application: the standard library's, one thread per request.

For development and single-machine use (``Server.run_http``, ``syncmcp serve --http``); larger
deployments run the same application on gunicorn, waitress or ``mod_wsgi``. The server stops
cleanly on SIGTERM, SIGHUP or Ctrl-C: it stops accepting, the application ends its sessions and
streams, and the call returns.

Example::

    serve(app, "127.0.0.1", 8000)       # blocks until SIGTERM or Ctrl-C
"""

from __future__ import annotations

import logging
import signal
import socket
import socketserver
import threading
from typing import Any, Callable, Dict, Optional
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

__all__ = ["serve"]

logger = logging.getLogger("syncmcp.server.http")


class _QuietHandler(WSGIRequestHandler):
    """Request lines go to the ``syncmcp.server.http`` logger at DEBUG, not to stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s - %s", self.address_string(), format % args)

    def get_environ(self) -> Dict[str, Any]:
        """The WSGI environ, with the client's socket so the application can tell when it leaves."""
        environ = super().get_environ()
        environ["syncmcp.socket"] = self.connection
        return environ


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True  # an open stream never keeps the process alive
    allow_reuse_address = True


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
    httpd = server_class((host, port), _QuietHandler)
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
        httpd.server_close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
