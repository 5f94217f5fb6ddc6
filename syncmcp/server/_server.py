"""``Server``: register tools, resources and prompts with decorators, then serve them.

Example:
    from syncmcp.server import Context, Server
    server = Server("demo", version="1.0")
    @server.tool()
    def add(a: int, b: int) -> int:
        '''Add two integers.'''
        return a + b
    @server.resource("demo://motd", mime_type="text/plain")
    def motd() -> str:
        return "hello"
    sorted(server.capabilities())
    # -> ['logging', 'resources', 'tools']
    server.run_stdio()
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import signal
import threading
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, TypeVar, Union

from .._transport import Transport
from ._connection import ServerConnection
from ._context import LOG_LEVELS
from ._httpguard import BearerAuth, loopback_hosts
from ._httpserve import serve
from ._io import ServerStreamTransport, StdioGuard, WakeableReader
from ._pagination import DEFAULT_PAGE_SIZE, CursorCodec
from ._registrations import Registrations
from ._wsgi import MCPApplication

__all__ = ["DEFAULT_DRAIN_TIMEOUT", "DEFAULT_MAX_WORKERS", "DEFAULT_SHUTDOWN_TIMEOUT", "SECRET_ENV", "Server"]

logger = logging.getLogger("syncmcp.server")

F = TypeVar("F", bound=Callable[..., Any])

#: Most requests one connection handles at once. Threads are created on demand, so a high cap
#: costs nothing until used; it keeps slow tools from starving other requests.
DEFAULT_MAX_WORKERS = 32
#: Seconds ``run_stdio`` gives running handlers to finish after the client leaves or SIGTERM.
DEFAULT_SHUTDOWN_TIMEOUT = 3.0
#: Seconds ``run_stdio`` keeps answering requests already read once the client closed stdin
#: (it may still be reading stdout, as in ``echo request | server``).
DEFAULT_DRAIN_TIMEOUT = 2.0
#: The environment variable that may hold :class:`Server`'s ``secret``.
SECRET_ENV = "SYNCMCP_SERVER_SECRET"
#: Name of the stdio connection (in logs and thread names).
_STDIO_PEER = "stdio-client"


class _EndOfInputFilter(logging.Filter):
    """Drops the endpoint's "closed its output" warning for the stdio client.

    For a server, the client closing stdin is the normal way to end, not a fault.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        return not (isinstance(args, tuple) and len(args) >= 2 and args[0] == _STDIO_PEER and "closed its output" in str(args[1]))


class Server(Registrations):
    """An MCP server: a registry of tools, resources, templates and prompts, served over any transport.

    Args:
        name: ``serverInfo.name``.
        version: ``serverInfo.version``.
        title: ``serverInfo.title`` (a display name).
        instructions: text a client may add to its model's system prompt.
        website_url: ``serverInfo.websiteUrl``.
        page_size: items per page of every list method.
        log_level: the level sent to clients before they choose one with ``logging/setLevel``
            (``None``: send nothing until they do).
        list_changed: declare ``listChanged`` and notify clients when the lists change.
        max_workers: most requests handled at once per connection.
        max_listen_streams: most ``subscriptions/listen`` streams per connection (2026-07-28).
        secret: a key shared by every process serving this server over HTTP (pagination
            cursors and 2026-07-28 ``requestState`` are signed with it, so one worker accepts
            what another made); default ``$SYNCMCP_SERVER_SECRET``, else a random key per process.

    Attributes:
        experimental: ``capabilities.experimental`` entries to declare (name -> settings).

    Example:
        >>> server = Server("notes", instructions="Read and search my notes.")
        >>> @server.prompt()
        ... def summarize(topic: str) -> str:
        ...     '''Summarize the notes about a topic.'''
        ...     return f"Summarize everything about {topic}."
        >>> server.capabilities()["prompts"]
        {'listChanged': True}
    """

    def __init__(
        self,
        name: str,
        version: str = "1.0.0",
        *,
        title: Optional[str] = None,
        instructions: Optional[str] = None,
        website_url: Optional[str] = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        log_level: Optional[str] = "info",
        list_changed: bool = True,
        max_workers: int = DEFAULT_MAX_WORKERS,
        max_listen_streams: int = 8,
        secret: Optional[Union[str, bytes]] = None,
    ) -> None:
        if not name:
            raise ValueError("a server needs a name")
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        if log_level is not None and log_level not in LOG_LEVELS:
            raise ValueError(f"log_level must be one of {', '.join(LOG_LEVELS)} or None")
        if max_workers < 2:
            raise ValueError("max_workers must be at least 2")
        self.name = name
        self.version = version
        self.title = title
        self.instructions = instructions
        self.website_url = website_url
        self.page_size = page_size
        self.default_log_level = log_level
        self.list_changed = list_changed
        self.max_workers = max_workers
        self.max_listen_streams = max_listen_streams
        self.experimental: Dict[str, Dict[str, Any]] = {}
        super().__init__()
        shared = secret if secret is not None else os.environ.get(SECRET_ENV) or None
        if shared is None:
            self._key = os.urandom(32)
            self.cursors = CursorCodec()
        else:
            raw = shared.encode("utf-8") if isinstance(shared, str) else bytes(shared)
            self._key = hashlib.sha256(b"syncmcp request state\0" + raw).digest()
            self.cursors = CursorCodec(hashlib.sha256(b"syncmcp cursor\0" + raw).digest()[:16])
        self._http_apps: List[MCPApplication] = []
        self._connections: List[ServerConnection] = []
        self.registry.add_listener(self._lists_changed)

    def __repr__(self) -> str:
        return f"<Server {self.name} {self.version}>"

    # ------------------------------------------------------------------------- notifications

    def notify_resource_updated(self, uri: str) -> None:
        """Tell every client subscribed to ``uri`` that it changed (``notifications/resources/updated``).

        Example:
            >>> Server("demo").notify_resource_updated("notes://1")
        """
        for connection in self._observers():
            connection.notify_resource_updated(uri)

    def notify_resources_changed(self) -> None:
        """Tell clients the resource list changed (e.g. a listed directory gained a file).

        Example:
            >>> Server("demo").notify_resources_changed()
        """
        self.registry.resources_changed()

    def log(self, level: str, data: Any, *, logger_name: Optional[str] = None) -> None:
        """Send a log message to every legacy-era client whose level admits it.

        Example:
            >>> Server("demo").log("warning", "disk almost full")
        """
        if level not in LOG_LEVELS:
            raise ValueError(f"log level must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
        for connection in self._observers():
            connection.send_log(level, data, logger_name)

    def _lists_changed(self, kind: str) -> None:
        if not self.list_changed:
            return
        for connection in self._observers():
            connection.notify_list_changed(kind)

    # ------------------------------------------------------------------------- serving

    def _observers(self) -> List[Any]:
        """Who hears of changes: every connection, and every HTTP application's listen streams."""
        with self._lock:
            return [*self._connections, *(app.hub for app in self._http_apps)]

    @property
    def connections(self) -> List[ServerConnection]:
        """The open connections."""
        with self._lock:
            return list(self._connections)

    def connect(
        self, transport: Transport, *, name: str = "client", on_closed: Optional[Callable[[], None]] = None
    ) -> ServerConnection:
        """Serve one client over ``transport`` (started at once; returns without blocking).

        Example:
            >>> from syncmcp.testing import memory_pair
            >>> client_end, server_end = memory_pair()
            >>> connection = Server("demo").connect(server_end)
            >>> connection.close()
        """
        connection = ServerConnection(self, transport, name=name, max_workers=self.max_workers, on_closed=on_closed)
        with self._lock:
            self._connections.append(connection)
        try:
            connection.start()
        except BaseException:
            with self._lock:
                if connection in self._connections:
                    self._connections.remove(connection)
            raise
        return connection

    def run_stdio(
        self,
        *,
        handle_signals: bool = True,
        shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
        drain_timeout: float = DEFAULT_DRAIN_TIMEOUT,
    ) -> None:
        """Serve one client on stdin/stdout until it closes stdin or the process gets SIGTERM.

        Only protocol messages reach stdout: fd 1 and ``sys.stdout`` point at stderr while the
        server runs (``print`` in a handler goes to stderr), and stdin is the null device for
        everything but the server. When the client closes stdin, requests already read may
        still answer for ``drain_timeout`` seconds; SIGTERM (or SIGHUP) stops at once. On the
        way out the shutdown hooks run (ending child processes), running handlers are told
        they are cancelled and get ``shutdown_timeout`` seconds, and the original stdio is
        restored.

        Args:
            handle_signals: in the main thread, turn SIGTERM and SIGHUP into a clean shutdown.
            shutdown_timeout: seconds handlers get to finish after the end.
            drain_timeout: seconds to finish answering after stdin ends.

        Example:
            if __name__ == "__main__":
                server.run_stdio()
        """
        done = threading.Event()
        endpoint_log = logging.getLogger("syncmcp.endpoint")
        quiet_eof = _EndOfInputFilter()
        previous: Dict[int, Any] = {}
        with StdioGuard() as (in_fd, out_fd):
            reader = WakeableReader(in_fd)
            writer = os.fdopen(out_fd, "wb")
            transport = ServerStreamTransport(reader, writer, name="stdio", drain_timeout=drain_timeout)
            endpoint_log.addFilter(quiet_eof)
            if handle_signals and threading.current_thread() is threading.main_thread():
                for stop_signal in (signal.SIGTERM,) + ((signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ()):
                    previous[stop_signal] = signal.signal(stop_signal, lambda _signum, _frame: done.set())
            connection: Optional[ServerConnection] = None
            try:
                connection = self.connect(transport, name=_STDIO_PEER, on_closed=done.set)
                # Timed waits: the main thread must wake to run signal handlers on every platform.
                while not done.wait(1.0):
                    pass
            except KeyboardInterrupt:
                logger.info("interrupted; shutting down")
            finally:
                self._run_shutdown_hooks()
                if connection is not None:
                    connection.close(shutdown_timeout)
                else:
                    transport.close()
                for signum, handler in previous.items():
                    signal.signal(signum, handler)
                endpoint_log.removeFilter(quiet_eof)
                reader.release()

    def wsgi_app(
        self,
        *,
        path: str = "/mcp",
        stateless: bool = False,
        json_response: bool = True,
        allowed_hosts: Optional[Sequence[str]] = None,
        allowed_origins: Optional[Sequence[str]] = None,
        verify_token: Optional[Callable[[str], Optional[Mapping[str, Any]]]] = None,
        authorization_servers: Sequence[str] = (),
        required_scopes: Sequence[str] = (),
        resource_url: Optional[str] = None,
        max_body_size: int = 4 * 1024 * 1024,
        request_timeout: Optional[float] = 300.0,
        keepalive_interval: float = 15.0,
        session_idle_timeout: Optional[float] = 3600.0,
        max_sessions: int = 1000,
        retry_ms: Optional[int] = 1000,
        max_workers: int = 64,
        max_listen_streams: int = 1000,
        fallback: Optional[Callable[[Dict[str, Any], Callable[..., Any]], Iterable[bytes]]] = None,
    ) -> MCPApplication:
        """The server as a WSGI application speaking MCP's Streamable HTTP (both eras).

        Run it on any threaded WSGI server (gunicorn ``-k gthread``, waitress, ``mod_wsgi``),
        or mount it beside a Flask or Django application with ``fallback``. Several worker
        processes can serve one client in the 2026-07-28 era or with ``stateless=True``; give
        them one ``secret`` (``Server(secret=...)`` or ``$SYNCMCP_SERVER_SECRET``) so cursors
        and ``requestState`` made by one worker are accepted by the others. Legacy sessions
        live in one process: route a session's requests to it (sticky sessions) or use
        ``stateless=True``.

        Args:
            path: where the MCP endpoint is (other paths go to ``fallback``, else 404).
            stateless: serve legacy clients without sessions (no GET stream; handlers cannot
                ask the client questions).
            json_response: answer with JSON when nothing streams (else always SSE).
            allowed_hosts: accepted ``Host`` values (``"mcp.example.com"``, ``"localhost:*"``);
                ``None`` accepts any. Set it on a server reachable from browsers (DNS rebinding).
            allowed_origins: accepted browser ``Origin`` values besides the server's own
                loopback origin (``"*"``: any).
            verify_token: turn on bearer authentication: ``verify_token(token)`` returns the
                token's claims (a mapping, seen by handlers as ``ctx.auth``) or ``None`` (or
                raises :class:`~syncmcp.server.InvalidToken`) to refuse it.
            authorization_servers: issuers listed in the Protected Resource Metadata.
            required_scopes: scopes every token must carry (403 ``insufficient_scope``).
            resource_url: the endpoint's canonical URL (default: from each request).
            max_body_size: the largest request body in bytes (413 beyond).
            request_timeout: seconds a request may run before it is cancelled and answered
                with -32001 (``None``: no limit).
            keepalive_interval: seconds between SSE keep-alive comments on idle streams.
            session_idle_timeout: seconds without requests after which a legacy session ends.
            max_sessions: most legacy sessions at once (503 beyond).
            retry_ms: the SSE ``retry`` sent to clients that may resume streams.
            max_workers: most stateless requests handled at once.
            max_listen_streams: most 2026-07-28 ``subscriptions/listen`` streams open at once in
                this process (each holds a thread of the WSGI server while open).
            fallback: the WSGI application for every other path.

        Example:
            >>> app = Server("demo").wsgi_app(stateless=True)
            >>> app.path, app.stateless
            ('/mcp', True)
            >>> app.close()
        """
        auth = None
        if verify_token is not None:
            auth = BearerAuth(
                verify_token,
                authorization_servers=authorization_servers,
                required_scopes=required_scopes,
                resource=resource_url,
                resource_name=self.title or self.name,
            )
        app = MCPApplication(
            self,
            path=path,
            stateless=stateless,
            json_response=json_response,
            allowed_hosts=allowed_hosts,
            allowed_origins=allowed_origins,
            auth=auth,
            max_body_size=max_body_size,
            request_timeout=request_timeout,
            keepalive_interval=keepalive_interval,
            session_idle_timeout=session_idle_timeout,
            max_sessions=max_sessions,
            retry_ms=retry_ms,
            max_workers=max_workers,
            max_listen_streams=max_listen_streams,
            fallback=fallback,
            on_close=self._forget_app,
        )
        with self._lock:
            self._http_apps.append(app)
        return app

    def _forget_app(self, app: MCPApplication) -> None:
        with self._lock:
            if app in self._http_apps:
                self._http_apps.remove(app)

    def run_http(
        self,
        host: str = "127.0.0.1",
        port: int = 8000,
        *,
        handle_signals: bool = True,
        on_ready: Optional[Callable[[str, int], None]] = None,
        stop: Optional[threading.Event] = None,
        **options: Any,
    ) -> None:
        """Serve over HTTP on an embedded threaded server until SIGTERM, SIGHUP or Ctrl-C.

        Good for development and single-machine use; deployments run :meth:`wsgi_app` on
        their WSGI server. On a loopback address, requests must name a loopback ``Host``
        (DNS-rebinding protection) unless ``allowed_hosts`` says otherwise. On the way out
        the application ends its sessions and streams and the shutdown hooks run.

        Args:
            host: the address to bind.
            port: the port (``0``: any free one, reported to ``on_ready``).
            handle_signals: in the main thread, turn SIGTERM and SIGHUP into a clean stop.
            on_ready: called with the bound host and port once requests are accepted.
            stop: an event that stops the server when set.
            options: :meth:`wsgi_app` options.

        Example:
            if __name__ == "__main__":
                server.run_http(port=8000)          # http://127.0.0.1:8000/mcp
        """
        if options.get("allowed_hosts") is None and host in ("127.0.0.1", "localhost", "::1"):
            options["allowed_hosts"] = loopback_hosts()
        app = self.wsgi_app(**options)
        try:
            serve(app, host, port, handle_signals=handle_signals, on_ready=on_ready, stop=stop)
        finally:
            with self._lock:
                if app in self._http_apps:
                    self._http_apps.remove(app)
            app.close()
            self._run_shutdown_hooks()

    def close(self, timeout: float = DEFAULT_SHUTDOWN_TIMEOUT) -> None:
        """Run the shutdown hooks and close every connection.

        Example:
            >>> Server("demo").close()
        """
        self._run_shutdown_hooks()
        with self._lock:
            apps, self._http_apps = self._http_apps, []
        for app in apps:
            app.close()
        for connection in self.connections:
            connection.close(timeout)

    # ------------------------------------------------------------------------- ConnectionHost

    def server_info(self) -> Dict[str, Any]:
        """``serverInfo``: name, version and the optional title and website.

        Example:
            >>> Server("demo", "2.0").server_info()
            {'name': 'demo', 'version': '2.0'}
        """
        info: Dict[str, Any] = {"name": self.name, "version": self.version}
        if self.title:
            info["title"] = self.title
        if self.website_url:
            info["websiteUrl"] = self.website_url
        return info

    def instructions_text(self) -> Optional[str]:
        """The ``instructions`` sent to clients, if any."""
        return self.instructions

    def capabilities(self) -> Dict[str, Any]:
        """The server capabilities, from what is registered now.

        ``tools``, ``resources`` (with ``subscribe``) and ``prompts`` when any is registered,
        ``completions`` when prompts or templates exist, ``logging`` always, and the
        :attr:`experimental` entries.

        Example:
            >>> Server("empty").capabilities()
            {'logging': {}}
        """
        registry = self.registry
        caps: Dict[str, Any] = {}
        if self.experimental:
            caps["experimental"] = {key: dict(value) for key, value in self.experimental.items()}
        caps["logging"] = {}
        if registry.has_prompts or registry.templates():
            caps["completions"] = {}
        if registry.has_prompts:
            caps["prompts"] = {"listChanged": self.list_changed}
        if registry.has_resources:
            caps["resources"] = {"subscribe": True, "listChanged": self.list_changed}
        if registry.has_tools:
            caps["tools"] = {"listChanged": self.list_changed}
        return caps

    def sign(self, payload: bytes) -> bytes:
        """An HMAC of ``payload`` under the server's key (``secret``, else one made for this process)."""
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:16]

    def connection_closed(self, connection: ServerConnection) -> None:
        """Forget a connection that ended (called by the connection)."""
        with self._lock:
            if connection in self._connections:
                self._connections.remove(connection)
