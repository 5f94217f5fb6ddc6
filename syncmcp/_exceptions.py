"""The exception tree: everything syncmcp raises on purpose derives from :class:`MCPError`.

::

    MCPError
    ├── ConfigError(MCPError, ValueError)          a bad configuration: file, dotted key, expectation
    ├── UnknownServerError(MCPError, LookupError)  no server by that name
    ├── UnknownToolError(MCPError, LookupError)    no tool by that name
    ├── ToolDisabledError(MCPError, LookupError)   a tool filter refused the call
    ├── UnknownElicitationError(MCPError, LookupError)  no pending elicitation for (server, request id)
    ├── SessionClosedError(MCPError, RuntimeError) use of a closed (or never opened) session
    ├── TransportError(MCPError)
    │   ├── ServerStartError                       the server process could not be spawned
    │   ├── HTTPError                              an HTTP exchange failed: .status (None: network), .url, .body
    │   │   └── AuthenticationRequired             401 / 403: log in (or again, with more scopes)
    │   │       └── OAuthError                     an OAuth step failed or was unsafe: .error, .error_description
    │   ├── ConnectionClosed                       EOF, exit or close; carries exit code and stderr tail
    │   ├── MessageTooLarge                        a line longer than the configured cap
    │   └── RemoteProtocolError                    the peer wrote something that is not JSON-RPC / MCP
    ├── RequestError(MCPError)                     a request failed: .method, .request_id, .server
    │   ├── RequestTimeout(RequestError, TimeoutError)
    │   ├── RequestCancelled(RequestError)
    │   └── RemoteError(RequestError)              a JSON-RPC error response: .code, .message, .data
    │       └── URLElicitationRequired             -32042 with .elicitations
    ├── JSONRPCError(MCPError)                     raised by a handler: answer the peer with this error
    ├── ProtocolVersionError(MCPError)             the server answered a protocol revision we do not speak
    ├── SchemaValidationError(MCPError, ValueError) input or output schema mismatch; .result kept
    └── StartupError(MCPError)                     required servers failed; .errors maps server -> error

Local conditions (a timeout, a closed pipe) are exception types, never JSON-RPC error codes, so they
cannot be mistaken for an error the peer sent.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Union

__all__ = [
    "AuthenticationRequired",
    "ConfigError",
    "ConnectionClosed",
    "ForkedProcessError",
    "HTTPError",
    "JSONRPCError",
    "MCPError",
    "MessageTooLarge",
    "ProtocolVersionError",
    "RemoteError",
    "RemoteProtocolError",
    "RequestCancelled",
    "RequestError",
    "RequestTimeout",
    "SchemaValidationError",
    "ServerStartError",
    "ServerUnavailableError",
    "SessionClosedError",
    "StartupError",
    "ToolDisabledError",
    "TransportError",
    "URLElicitationRequired",
    "UnknownElicitationError",
    "UnknownServerError",
    "UnknownToolError",
]

RequestId = Union[int, str]


class MCPError(Exception):
    """Base of every exception syncmcp raises on purpose.

    Example:
        >>> try:
        ...     raise UnknownToolError("no tool named 'x'")
        ... except MCPError as exc:
        ...     print(type(exc).__name__)
        UnknownToolError
    """


class ConfigError(MCPError, ValueError):
    """A configuration value is missing or wrong; the message names the file and dotted key.

    Example::

        try:
            syncmcp.load_config("broken.toml")
        except syncmcp.ConfigError as exc:
            print(exc)          # broken.toml: mcp_servers.x.args: expected a list of strings ...
    """

    def __init__(self, message: str, *, path: Optional[str] = None, key: Optional[str] = None) -> None:
        prefix = ""
        if path and key:
            prefix = f"{path}: {key}: "
        elif path:
            prefix = f"{path}: "
        elif key:
            prefix = f"{key}: "
        super().__init__(prefix + message)
        self.path = path
        self.key = key


class UnknownServerError(MCPError, LookupError):
    """No server is configured under the requested name.

    Example::

        try:
            manager.read_resource("nope", "file:///x")
        except syncmcp.UnknownServerError as exc:   # also a LookupError
            print(exc)
    """


class UnknownToolError(MCPError, LookupError):
    """No tool is known under the requested (qualified) name.

    Example::

        try:
            manager.call_tool("fs__no_such_tool")
        except syncmcp.UnknownToolError as exc:     # also a LookupError
            print(exc)
    """


class ToolDisabledError(MCPError, LookupError):
    """The server's ``enabled_tools`` / ``disabled_tools`` filter refuses this tool.

    Example::

        try:
            manager.call_tool("files__write_file", {"path": "x", "content": ""})
        except syncmcp.ToolDisabledError as exc:
            print(exc)          # tool 'write_file' is disabled for MCP server 'files'
    """


class UnknownElicitationError(MCPError, LookupError):
    """No elicitation is pending under the given (server, request id) pair.

    Example::

        try:
            manager.resolve_elicitation("fs", 7, {"action": "accept"})
        except syncmcp.UnknownElicitationError:   # already answered, timed out, or cancelled
            pass
    """


class SessionClosedError(MCPError, RuntimeError):
    """The session or manager is closed, or was never opened.

    Example::

        session.close()
        try:
            session.list_tools()
        except syncmcp.SessionClosedError:
            pass
    """


class ForkedProcessError(SessionClosedError):
    """The session or manager was made in another process, before ``os.fork()``.

    A forked child gets a copy of the object but not the threads and server processes behind
    it: those stay with the parent, which keeps using them. The child must make its own (or
    build the manager with ``after_fork="reconnect"``).

    Example::

        manager = syncmcp.MCPManager(servers)
        if os.fork() == 0:
            try:
                manager.call_tool("time__get_current_time", {})
            except syncmcp.ForkedProcessError as exc:
                print(exc)  # ... was made in process 4242 before fork(); this is process 4243 ...
    """


class TransportError(MCPError):
    """The connection to the server failed below the protocol level.

    Example::

        try:
            session.call_tool("echo", {"message": "hi"})
        except syncmcp.TransportError as exc:       # the pipe, not the protocol
            print("connection problem:", exc)
    """


class ServerStartError(TransportError):
    """The server process could not be started (the ``OSError`` is the ``__cause__``).

    Example::

        try:
            syncmcp.connect("no-such-server")
        except syncmcp.ServerStartError as exc:
            print(exc)          # ... command 'no-such-server' was not found on PATH ...
    """


class ServerUnavailableError(TransportError):
    """A managed server cannot take requests: it failed to start, or it is down and not yet restarted.

    The underlying error (spawn failure, timeout, exit) is the ``__cause__``.

    Attributes:
        server: the server's name.
        retry_after: seconds until the next restart attempt is allowed, when one is planned.

    Example::

        try:
            manager.call_tool("db__query", {"sql": "select 1"})
        except syncmcp.ServerUnavailableError as exc:
            print(exc.server, exc.retry_after, exc.__cause__)
    """

    def __init__(self, message: str, *, server: Optional[str] = None, retry_after: Optional[float] = None) -> None:
        super().__init__(message)
        self.server = server
        self.retry_after = retry_after


class HTTPError(TransportError):
    """An HTTP exchange with a remote MCP server failed.

    Either the server answered with an error status (``status`` is set), or the network failed:
    no connection, a TLS certificate that does not verify, a proxy that refused the tunnel, a
    connection cut mid-response (``status`` is ``None``). Only the affected request fails; the
    session stays usable. Messages never contain header values or query values (credentials).

    Attributes:
        status: the HTTP status code, or ``None`` for a network failure.
        url: the URL requested (query values are hidden in the message, not here).
        body: a short excerpt of the response body, when there was one.

    Example::

        try:
            session.call_tool("search", {"q": "x"})
        except syncmcp.HTTPError as exc:
            print(exc.status, exc.body)
    """

    def __init__(self, message: str, *, status: Optional[int] = None, url: Optional[str] = None, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.url = url
        self.body = body


class AuthenticationRequired(HTTPError):
    """The server requires the user to log in, or refused the credentials it was given.

    HTTP 401 with ``WWW-Authenticate``; or 403 ``insufficient_scope`` when stepping up failed.

    Example::

        status = manager.startup_status()["github"]
        print(status.error)   # The github MCP server is not logged in. ...
    """


class ConnectionClosed(TransportError):
    """The connection ended: EOF, process exit, or a local ``close()``.

    Attributes:
        returncode: the server process's exit status when known (negative: killed by a signal).
        stderr_tail: the last lines the server wrote to stderr, for diagnosis.

    Example::

        try:
            session.call_tool("crash")
        except syncmcp.ConnectionClosed as exc:
            print(exc.returncode, exc.stderr_tail)
    """

    def __init__(self, message: str, *, returncode: Optional[int] = None, stderr_tail: str = "") -> None:
        full = message
        if returncode is not None:
            full += f" (exit code {returncode})"
        if stderr_tail:
            full += "\n--- server stderr (last lines) ---\n" + stderr_tail.rstrip("\n")
        super().__init__(full)
        self.reason = message
        self.returncode = returncode
        self.stderr_tail = stderr_tail


class MessageTooLarge(TransportError):
    """The peer sent a message longer than the configured maximum; the connection is closed.

    Example::

        transport = syncmcp.StdioTransport("server", max_message_size=256 * 2**20)  # raise the cap
    """


class RemoteProtocolError(TransportError):
    """The peer sent something that is not valid JSON-RPC or breaks the MCP rules.

    Example::

        try:
            session.list_tools()
        except syncmcp.RemoteProtocolError as exc:
            print(exc)          # e.g. tools/list returned duplicate cursor
    """


class RequestError(MCPError):
    """A request did not produce a result.

    Attributes:
        method: the JSON-RPC method of the request.
        request_id: the id it was sent with (``None`` if it was never sent).
        server: the server's name, when known.

    Example::

        try:
            session.call_tool("slow", timeout=1)
        except syncmcp.RequestError as exc:
            print(exc.method, exc.request_id, exc.server)
    """

    def __init__(
        self,
        message: str,
        *,
        method: Optional[str] = None,
        request_id: Optional[RequestId] = None,
        server: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.method = method
        self.request_id = request_id
        self.server = server


class RequestTimeout(RequestError, TimeoutError):
    """No response arrived in time; ``notifications/cancelled`` was sent for the request.

    Example::

        try:
            session.call_tool("slow", timeout=1.5)
        except syncmcp.RequestTimeout as exc:       # also a TimeoutError
            print(exc.timeout)  # 1.5; the server was sent notifications/cancelled
    """

    def __init__(
        self,
        message: str,
        *,
        timeout: Optional[float] = None,
        method: Optional[str] = None,
        request_id: Optional[RequestId] = None,
        server: Optional[str] = None,
    ) -> None:
        super().__init__(message, method=method, request_id=request_id, server=server)
        self.timeout = timeout


class RequestCancelled(RequestError):
    """The request was cancelled locally before a response arrived.

    Example::

        handle = session.submit("tools/call", {"name": "slow"})
        handle.cancel()
        try:
            handle.result()
        except syncmcp.RequestCancelled:
            pass
    """


class RemoteError(RequestError):
    """The server answered with a JSON-RPC error.

    Attributes:
        code: the JSON-RPC error code (see ``syncmcp.ErrorCode``).
        message: the error message as the server wrote it.
        data: the optional ``data`` member, unchanged.

    Example::

        try:
            session.read_resource("file:///missing")
        except syncmcp.RemoteError as exc:
            print(exc.code, exc.message, exc.data)   # -32002 Resource not found ...
    """

    def __init__(
        self,
        code: int,
        message: str,
        data: Any = None,
        *,
        method: Optional[str] = None,
        request_id: Optional[RequestId] = None,
        server: Optional[str] = None,
    ) -> None:
        where = f" ({method})" if method else ""
        super().__init__(f"{message} [code {code}]{where}", method=method, request_id=request_id, server=server)
        self.code = code
        self.message = message
        self.data = data


class URLElicitationRequired(RemoteError):
    """Error -32042: the server needs the user to complete URL elicitations first.

    ``elicitations`` holds the URL-mode ``elicitation/create`` params from ``data.elicitations``.

    Example::

        try:
            session.call_tool("needs_login")
        except syncmcp.URLElicitationRequired as exc:
            for elicitation in exc.elicitations:
                print("open", elicitation["url"])
    """

    @property
    def elicitations(self) -> list[Mapping[str, Any]]:
        """The URL elicitations the server asked for (possibly empty)."""
        data = self.data if isinstance(self.data, Mapping) else {}
        items = data.get("elicitations")
        return [item for item in items if isinstance(item, Mapping)] if isinstance(items, list) else []


class JSONRPCError(MCPError):
    """Raise from a request handler to answer the peer with this JSON-RPC error.

    Example:
        >>> JSONRPCError(-32602, "unknown tool 'x'").code
        -32602
    """

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


class ProtocolVersionError(MCPError):
    """The server chose a protocol revision this client does not speak.

    Example::

        try:
            syncmcp.connect("old-server")
        except syncmcp.ProtocolVersionError as exc:
            print(exc)          # names the version it answered and those supported
    """


class SchemaValidationError(MCPError, ValueError):
    """Arguments or a structured result do not match the tool's schema.

    Attributes:
        result: for output validation, the full result the server returned (never lost).
        path: the JSON path of the offending value, as a list of keys and indexes.

    Example::

        try:
            session.call_tool("add", {"a": "one"})
        except syncmcp.SchemaValidationError as exc:   # nothing was sent
            print(exc.path, exc)                          # ['a'] ... 'one' is not of type 'number'
    """

    def __init__(self, message: str, *, result: Any = None, path: Optional[list[Any]] = None) -> None:
        super().__init__(message)
        self.result = result
        self.path = path or []


class StartupError(MCPError):
    """One or more required servers failed to start; ``errors`` maps server name to its error.

    Example::

        try:
            syncmcp.MCPManager({"db": syncmcp.ServerConfig(command="db-mcp", required=True)})
        except syncmcp.StartupError as exc:
            print(exc.errors)   # {'db': ServerStartError(...)}
    """

    def __init__(self, errors: Mapping[str, BaseException]) -> None:
        lines = "; ".join(f"{name}: {err}" for name, err in errors.items())
        super().__init__(f"required MCP servers failed to initialize: {lines}")
        self.errors = dict(errors)
